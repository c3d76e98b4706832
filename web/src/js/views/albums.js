// Albums: the list (with creation) and one album's page with its tabs.
import { get, post, patch, put, del, enc } from '../api.js';
import { h, replace, attempt, say, field, checkbox, formValues, pageTicket, person, personText } from '../dom.js';
import { currentUser } from '../auth.js';
import { go, queryOf } from '../router.js';
import { studyList } from './studies.js';
import { capabilityTokens } from './tokens.js';
import { reportProviders } from './providers.js';
import { webhooks } from './webhooks.js';

export const FLAGS = [
  ['addUser', 'add_user', 'Members can add users'],
  ['downloadSeries', 'download_series', 'Members can download'],
  ['sendSeries', 'send_series', 'Members can share'],
  ['deleteSeries', 'delete_series', 'Members can remove series'],
  ['addSeries', 'add_series', 'Members can add series'],
  ['writeComments', 'write_comments', 'Members can comment'],
];
const DEFAULT_FLAGS = { addUser: false, downloadSeries: true, sendSeries: true, deleteSeries: false, addSeries: true, writeComments: true };

export async function albumListPage() {
  document.title = 'Albums · Obelisk';
  const main = document.getElementById('main');
  const table = h('div');
  const search = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter albums' },
    field('Name', h('input', { name: 'name' })), h('button', { type: 'submit' }, 'Filter'));
  let sort = '-created_time';
  const load = async () => {
    const name = search.name.value.trim();
    const answer = await get('/albums', { query: { sort, name: name ? `*${name}*` : undefined, limit: 100 } });
    const albums = answer.data || [];
    const header = (key, label) => h('th', { scope: 'col', 'aria-sort': sort.replace('-', '') === key ? (sort.startsWith('-') ? 'descending' : 'ascending') : undefined },
      h('button', { class: 'sort', type: 'button', onclick: () => { sort = sort === key ? `-${key}` : key; attempt(load); } }, label));
    replace(table, albums.length ? h('table', { 'aria-label': 'Albums' },
      h('thead', {}, h('tr', {}, header('name', 'Name'), h('th', { scope: 'col' }, 'Description'),
        header('number_of_studies', 'Studies'), header('number_of_users', 'Members'), header('number_of_comments', 'Comments'),
        h('th', { scope: 'col' }, 'Modalities'), header('last_event_time', 'Last activity'))),
      h('tbody', {}, albums.map((album) => h('tr', {},
        h('td', {}, h('a', { href: `/albums/${album.album_id}` }, album.name), album.is_admin ? [' ', h('span', { class: 'badge' }, 'admin')] : ''),
        h('td', {}, album.description || ''), h('td', {}, album.number_of_studies ?? ''), h('td', {}, album.number_of_users ?? ''),
        h('td', {}, album.number_of_comments ?? ''), h('td', {}, (album.modalities || []).join(', ')),
        h('td', {}, (album.last_event_time || '').replace('T', ' ').slice(0, 16))))))
      : h('p', { class: 'muted' }, 'No album yet.'));
  };
  search.addEventListener('submit', (event) => { event.preventDefault(); attempt(load); });
  replace(main, h('h1', {}, 'Albums'), createAlbumForm(), search, table);
  await load();
}

function createAlbumForm() {
  const form = h('form', { class: 'stack', 'aria-label': 'New album' },
    field('Name', h('input', { name: 'name', required: true, maxlength: 255 })),
    field('Description', h('textarea', { name: 'description', rows: 2, maxlength: 2048 })),
    h('fieldset', {}, h('legend', {}, 'Member permissions'), FLAGS.map(([name, , label]) => checkbox(label, name, DEFAULT_FLAGS[name]))),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Create album')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const values = formValues(form);
      if (!values.name) throw new Error('An album needs a name');
      const created = await post('/albums', { form: values });
      say(`Album ${created.data.name} created`);
      go(`/albums/${created.data.album_id}`);
    });
  });
  return h('details', {}, h('summary', {}, 'New album'), form);
}

const TABS = [['studies', 'Studies'], ['settings', 'Settings'], ['members', 'Members'], ['events', 'Events'],
  ['tokens', 'Tokens'], ['providers', 'Report providers'], ['webhooks', 'Webhooks']];

export async function albumPage(id) {
  const current = pageTicket();
  const album = (await get(`/albums/${enc(id)}`)).data;
  if (!current()) return;
  const tab = queryOf().tab || 'studies';
  document.title = `${album.name} · Obelisk`;
  const panel = h('div', { role: 'tabpanel', id: 'album-panel', 'aria-labelledby': `tab-${tab}` });
  const visible = TABS.filter(([key]) => album.is_admin || !['tokens', 'webhooks'].includes(key));
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Album sections' },
    visible.map(([key, label]) => h('button', { role: 'tab', id: `tab-${key}`, type: 'button', 'aria-selected': String(key === tab),
      'aria-controls': 'album-panel', tabindex: key === tab ? 0 : -1, onclick: () => go(`/albums/${id}?tab=${key}`) }, label)));
  tabs.addEventListener('keydown', (event) => {
    const buttons = [...tabs.children];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0 || !['ArrowLeft', 'ArrowRight'].includes(event.key)) return;
    buttons[(index + (event.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length].focus();
  });
  replace(document.getElementById('main'), h('h1', {}, album.name, album.is_admin ? [' ', h('span', { class: 'badge' }, 'admin')] : ''),
    album.description ? h('p', {}, album.description) : '', tabs, panel);
  const views = {
    studies: async () => {
      const providers = await get(`/albums/${enc(id)}/reportproviders`).then((a) => a.data || []).catch(() => []);
      const list = studyList({ album: id }, providers);
      replace(panel, list.element);
      await list.load();
    },
    settings: () => albumSettings(panel, album),
    members: () => albumMembers(panel, album),
    events: () => albumEvents(panel, album),
    tokens: () => capabilityTokens(panel, { album }),
    providers: () => reportProviders(panel, album),
    webhooks: () => webhooks(panel, album),
  };
  await (views[tab] || views.studies)();
}

function albumSettings(panel, album) {
  const admin = album.is_admin;
  const form = h('form', { class: 'stack', 'aria-label': 'Album settings' },
    field('Name', h('input', { name: 'name', value: album.name, required: true, disabled: !admin })),
    field('Description', h('textarea', { name: 'description', rows: 2, disabled: !admin }, album.description || '')),
    h('fieldset', { disabled: !admin }, h('legend', {}, 'Member permissions'), FLAGS.map(([name, key, label]) => checkbox(label, name, album[key]))),
    h('fieldset', {}, h('legend', {}, 'My notifications'),
      checkbox('New series', 'notificationNewSeries', album.notification_new_series),
      checkbox('New comments', 'notificationNewComment', album.notification_new_comment)),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Save')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const values = formValues(form);
      if (!admin) for (const key of ['name', 'description', ...FLAGS.map(([name]) => name)]) delete values[key];
      await patch(`/albums/${enc(album.album_id)}`, { form: values });
      say('Album saved');
      go(`/albums/${album.album_id}?tab=settings`);
    });
  });
  const me = currentUser();
  replace(panel, form, h('h2', {}, 'Leave or delete'), h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
      if (!confirm(`Leave the album ${album.name}?`)) return;
      await del(`/albums/${enc(album.album_id)}/users/${enc(me.sub)}`);
      say(`You left ${album.name}`);
      go('/albums');
    }) }, 'Leave album'),
    admin && h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
      if (!confirm(`Delete the album ${album.name} for every member?`)) return;
      await del(`/albums/${enc(album.album_id)}`);
      say(`Album ${album.name} deleted`);
      go('/albums');
    }) }, 'Delete album')));
}

async function albumMembers(panel, album) {
  const id = enc(album.album_id);
  const canAdd = album.is_admin || album.add_user;
  const answer = await get(`/albums/${id}/users`, { query: { limit: 200 } });
  const me = currentUser();
  const reload = () => go(`/albums/${album.album_id}?tab=members`);
  const rows = (answer.data || []).map((user) => h('tr', {},
    h('td', {}, user.name || ''), h('td', {}, user.email), h('td', {}, user.is_admin ? 'admin' : 'member'),
    h('td', {}, h('div', { class: 'actions' },
      album.is_admin && user.sub !== me.sub && (user.is_admin
        ? h('button', { type: 'button', onclick: () => attempt(async () => { await del(`/albums/${id}/users/${enc(user.sub)}/admin`); reload(); }) }, `Make ${user.email} a member`)
        : h('button', { type: 'button', onclick: () => attempt(async () => { await put(`/albums/${id}/users/${enc(user.sub)}/admin`); reload(); }) }, `Make ${user.email} an admin`)),
      album.is_admin && user.sub !== me.sub && h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
        if (!confirm(`Remove ${user.email} from the album?`)) return;
        await del(`/albums/${id}/users/${enc(user.sub)}`);
        reload();
      }) }, `Remove ${user.email}`)))));
  const form = h('form', { class: 'inline', 'aria-label': 'Add a member' },
    field('E-mail', h('input', { name: 'user', type: 'email', required: true })),
    album.is_admin && checkbox('as admin', 'admin', false),
    h('button', { type: 'submit' }, 'Add member'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const user = form.user.value.trim();
      await put(`/albums/${id}/users/${enc(user)}${form.admin?.checked ? '/admin' : ''}`);
      say(`${user} added to ${album.name}`);
      reload();
    });
  });
  replace(panel, canAdd ? form : '', h('table', { 'aria-label': 'Members' },
    h('thead', {}, h('tr', {}, ['Name', 'E-mail', 'Role', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)));
}

function describeEvent(event) {
  if (event.event_type === 'Comment') return event.comment;
  const what = (event.mutation_type || '').toLowerCase().replaceAll('_', ' ');
  const target = event.target ? ` ${personText(event.target)}` : '';
  const study = event.study ? ` (study ${event.study.description || event.study.UID})` : '';
  const provider = event.report_provider ? ` ${event.report_provider.name}` : '';
  return `${what}${target}${provider}${study}`;
}

async function albumEvents(panel, album) {
  const id = enc(album.album_id);
  const filter = h('select', { 'aria-label': 'Show', name: 'types' },
    h('option', { value: '' }, 'Everything'), h('option', { value: 'comments' }, 'Comments'), h('option', { value: 'mutations' }, 'Changes'));
  const list = h('ul', { class: 'events', 'aria-label': 'Events' });
  const load = async () => {
    const answer = await get(`/albums/${id}/events`, { query: { types: filter.value || undefined, limit: 100 } });
    replace(list, (answer.data || []).map((event) => h('li', {},
      h('strong', {}, person(event.source)), ' ',
      h('span', { class: 'muted' }, (event.post_date || '').replace('T', ' ').slice(0, 16)), ' ',
      h('span', {}, describeEvent(event)))));
    if (!list.children.length) list.append(h('li', { class: 'muted' }, 'Nothing yet.'));
  };
  filter.addEventListener('change', () => attempt(load));
  const form = h('form', { class: 'inline', 'aria-label': 'Comment on the album' },
    field('Comment', h('input', { name: 'comment', maxlength: 1024, required: true, size: 60 })),
    h('button', { type: 'submit' }, 'Post'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => { await post(`/albums/${id}/comments`, { form: { comment: form.comment.value.trim() } }); form.reset(); await load(); });
  });
  replace(panel, (album.is_admin || album.write_comments) ? form : '', h('label', {}, 'Show ', filter), list);
  await load();
}
