// Capability tokens: user tokens (the Tokens page) and album tokens (an album tab). The secret is
// shown once, at creation, with a copy button.
import { get, post, enc } from '../api.js';
import { h, replace, attempt, say, field, checkbox, formValues, dialog } from '../dom.js';

export async function userTokensPage() {
  document.title = 'Tokens · Obelisk';
  const panel = h('div');
  replace(document.getElementById('main'), h('h1', {}, 'Personal tokens'),
    h('p', { class: 'muted' }, 'A personal token acts as you for DICOMweb clients and scripts. Keep it secret.'), panel);
  await capabilityTokens(panel, {});
}

function isoEnd(value) {
  return value ? `${value}T23:59:59Z` : undefined;
}

export async function capabilityTokens(panel, { album }) {
  const list = h('div');
  const form = h('form', { class: 'stack', 'aria-label': 'New token' },
    field('Title', h('input', { name: 'title', required: true, maxlength: 255 })),
    field('Expires on', h('input', { name: 'expiration', type: 'date' })),
    h('fieldset', {}, h('legend', {}, 'Permissions'),
      checkbox('Read', 'read_permission', true), checkbox('Write', 'write_permission', false),
      album && checkbox('Download', 'download_permission', true), album && checkbox('Share (appropriate)', 'appropriate_permission', false)),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Create token')));
  const load = async () => {
    const answer = await get('/capabilities', { query: { album: album?.album_id, limit: 100 } });
    const tokens = (answer.data || []).filter((token) => (album ? token.scope_type === 'album' : token.scope_type === 'user'));
    replace(list, tokens.length ? h('table', { 'aria-label': 'Tokens' },
      h('thead', {}, h('tr', {}, ['Title', 'Permissions', 'Created', 'Expires', 'Last used', 'State', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, tokens.map((token) => tokenRow(token, load)))) : h('p', { class: 'muted' }, 'No token yet.'));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const values = formValues(form);
      if (!values.title) throw new Error('A token needs a title');
      const fields = { title: values.title, scope_type: album ? 'album' : 'user', album: album?.album_id,
        read_permission: values.read_permission, write_permission: values.write_permission,
        expiration_time: isoEnd(values.expiration) };
      if (album) Object.assign(fields, { download_permission: values.download_permission && values.read_permission,
        appropriate_permission: values.appropriate_permission && values.read_permission });
      const created = (await post('/capabilities', { form: fields })).data;
      form.reset();
      showSecret(created);
      await load();
    });
  });
  replace(panel, h('details', { open: true }, h('summary', {}, 'New token'), form), h('h2', {}, 'Tokens'), list);
  await load();
}

function permissions(token) {
  if (token.scope_type === 'user') return 'as you';
  return [['read_permission', 'read'], ['write_permission', 'write'], ['download_permission', 'download'], ['appropriate_permission', 'share']]
    .filter(([key]) => token[key]).map(([, label]) => label).join(', ');
}

const day = (value) => (value || '').slice(0, 10);

function tokenRow(token, reload) {
  const expired = token.expiration_time && new Date(token.expiration_time) < new Date();
  const state = token.revoked ? 'revoked' : expired ? 'expired' : 'active';
  return h('tr', { dataset: { token: token.id } },
    h('td', {}, token.title), h('td', {}, permissions(token)), h('td', {}, day(token.issued_at_time)),
    h('td', {}, day(token.expiration_time)), h('td', {}, day(token.last_used) || 'never'),
    h('td', {}, h('span', { class: 'badge' }, state)),
    h('td', {}, state === 'active' && h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${token.title}`,
      onclick: () => attempt(async () => {
        if (!confirm(`Revoke the token ${token.title}? Clients using it stop working.`)) return;
        await post(`/capabilities/${enc(token.id)}/revoke`);
        say(`Token ${token.title} revoked`);
        await reload();
      }) }, 'Revoke')));
}

function showSecret(token) {
  const secret = token.access_token || token.secret;
  const copied = h('span', { role: 'status' });
  const box = dialog('Your new token',
    h('p', {}, 'Copy this secret now: it is shown only once.'),
    h('p', { class: 'secret', id: 'token-secret' }, secret),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: async () => {
        try { await navigator.clipboard.writeText(secret); copied.textContent = 'Copied'; } catch { copied.textContent = 'Select the secret and copy it'; }
      } }, 'Copy'), copied,
      h('button', { type: 'button', onclick: () => box.close() }, 'Done')));
}
