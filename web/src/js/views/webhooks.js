// Webhooks of an album (admins): create, edit, enable/disable, trigger by hand, delivery history.
import { get, post, patch, del, enc } from '../api.js';
import { h, replace, attempt, say, field, checkbox } from '../dom.js';
import { text, personName } from '../dicom.js';

const EVENTS = [['new_series', 'New series'], ['new_user', 'New member'], ['remove_series', 'Series removed'], ['delete_album', 'Album deleted'], ['report_status', 'Report status']];

function webhookForm(label, hook, save) {
  const form = h('form', { class: 'stack', 'aria-label': label },
    field('Name', h('input', { name: 'name', required: true, value: hook?.name || '' })),
    field('URL', h('input', { name: 'url', type: 'url', required: true, value: hook?.url || '' })),
    field(hook?.use_secret ? 'Secret (leave empty to keep; a space removes it)' : 'Secret (optional)', h('input', { name: 'secret', autocomplete: 'off' })),
    h('fieldset', {}, h('legend', {}, 'Events'), EVENTS.map(([value, text]) => checkbox(text, `event:${value}`, hook ? hook.events?.includes(value) : value === 'new_series'))),
    checkbox('Enabled', 'enabled', hook ? hook.enabled : true),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, hook ? 'Save webhook' : 'Create webhook')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const events = EVENTS.map(([value]) => value).filter((value) => form[`event:${value}`].checked);
    const values = { name: form.name.value.trim(), url: form.url.value.trim(), enabled: form.enabled.checked };
    if (events.length || hook) values.event = events.length ? events : ['']; // an empty event clears the list on edit
    const secret = form.secret.value;
    if (secret) values.secret = secret.trim();
    attempt(() => save(values));
  });
  return form;
}

const MARKS = { pass: ['ok', '✓', 'delivered'], fail: ['error', '✗', 'failed'], pending: ['muted', '…', 'pending'] };

function deliveryMark(status) {
  const [cls, mark, label] = MARKS[status] || MARKS.pending;
  return h('span', { class: cls, title: label, 'aria-label': label }, mark);
}

export async function webhooks(panel, album) {
  const id = enc(album.album_id);
  const list = h('div');
  const detail = h('div', { id: 'webhook-detail' });
  const load = async () => {
    const hooks = (await get(`/albums/${id}/webhooks`, { query: { limit: 100 } })).data || [];
    replace(list, hooks.length ? h('table', { 'aria-label': 'Webhooks' },
      h('thead', {}, h('tr', {}, ['Name', 'URL', 'Events', 'Enabled', 'Recent deliveries', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, hooks.map((hook) => h('tr', { dataset: { webhook: hook.id } },
        h('td', {}, hook.name), h('td', {}, h('code', {}, hook.url)), h('td', {}, (hook.events || []).join(', ')),
        h('td', {}, h('input', { type: 'checkbox', checked: hook.enabled, 'aria-label': `${hook.name} enabled`,
          onchange: (event) => attempt(async () => {
            await patch(`/albums/${id}/webhooks/${enc(hook.id)}`, { form: { enabled: event.target.checked } });
            say(`${hook.name} ${event.target.checked ? 'enabled' : 'disabled'}`);
          }) })),
        h('td', {}, (hook.last_triggers || []).map((t) => deliveryMark(t.status)),
          ` ${hook.number_of_triggers ?? 0} total`),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => attempt(() => showWebhook(detail, album, hook.id, load)) }, `Open ${hook.name}`),
          h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
            if (!confirm(`Delete the webhook ${hook.name}?`)) return;
            await del(`/albums/${id}/webhooks/${enc(hook.id)}`);
            replace(detail);
            await load();
          }) }, `Delete ${hook.name}`))))))) : h('p', { class: 'muted' }, 'No webhook yet.'));
  };
  const create = webhookForm('New webhook', null, async (values) => {
    await post(`/albums/${id}/webhooks`, { form: values });
    create.reset();
    say(`Webhook ${values.name} created`);
    await load();
  });
  replace(panel, h('details', {}, h('summary', {}, 'New webhook'), create), list, detail);
  await load();
}

async function showWebhook(detail, album, hookId, reloadList) {
  const id = enc(album.album_id);
  const hook = (await get(`/albums/${id}/webhooks/${enc(hookId)}`, { query: { limit: 50 } })).data;
  const edit = webhookForm(`Edit ${hook.name}`, hook, async (values) => {
    await patch(`/albums/${id}/webhooks/${enc(hookId)}`, { form: values });
    say(`Webhook ${values.name} saved`);
    await reloadList();
    await showWebhook(detail, album, hookId, reloadList);
  });
  replace(detail, h('h2', {}, `Webhook ${hook.name}`), edit, await triggerForm(album, hook), h('h3', {}, 'Delivery history'), history(hook));
}

async function triggerForm(album, hook) {
  const id = enc(album.album_id);
  const studies = await get('/studies', { query: { album: album.album_id, limit: 50 }, accept: 'application/dicom+json' }).then((a) => a.data || []).catch(() => []);
  const users = await get(`/albums/${id}/users`, { query: { limit: 200 } }).then((a) => a.data || []).catch(() => []);
  const form = h('form', { class: 'inline', 'aria-label': `Trigger ${hook.name}` },
    field('Event', h('select', { name: 'event' }, h('option', { value: 'new_series' }, 'New series'), h('option', { value: 'new_user' }, 'New member'))),
    field('Study', h('select', { name: 'study' }, studies.map((s) => h('option', { value: text(s, 'StudyInstanceUID') }, `${personName(s)} ${text(s, 'StudyDate')}`)))),
    field('Member', h('select', { name: 'user' }, users.map((u) => h('option', { value: u.sub }, u.email)))),
    h('button', { type: 'submit' }, 'Trigger'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      const values = { event: form.event.value };
      if (values.event === 'new_user') values.user = form.user.value;
      else {
        values.StudyInstanceUID = form.study.value;
        const series = await get(`/studies/${enc(form.study.value)}/series`, { query: { album: album.album_id }, accept: 'application/dicom+json' });
        values.SeriesInstanceUID = (series.data || []).map((s) => text(s, 'SeriesInstanceUID'));
      }
      await post(`/albums/${id}/webhooks/${enc(hook.id)}/trigger`, { form: values });
      say(`Webhook ${hook.name} triggered`);
    });
  });
  return h('section', {}, h('h3', {}, 'Trigger by hand'), form);
}

function history(hook) {
  const triggers = hook.triggers || [];
  if (!triggers.length) return h('p', { class: 'muted' }, 'No delivery yet.');
  return h('table', { 'aria-label': 'Delivery history' },
    h('thead', {}, h('tr', {}, ['Event', 'Status', 'Manual', 'Subject', 'Attempts'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, triggers.map((t) => h('tr', {},
      h('td', {}, t.event), h('td', {}, t.status ? deliveryMark(t.status) : ''), h('td', {}, t.is_manual_trigger ? 'yes' : 'no'),
      h('td', {}, t.user ? t.user.email : t.report ? `report ${t.report.report_id} ${t.report.status} v${t.report.version}` : t.study ? t.study.study_uid : ''),
      h('td', {}, (t.attempts || []).map((a) => `#${a.attempt} ${a.status === -1 ? 'connection error' : a.status} at ${(a.time || '').replace('T', ' ').slice(0, 19)}`).join('; '))))));
}
