// Report providers of an album: add by configuration URL (checked live, a green mark when valid),
// list, edit, delete. Launching happens from the album's study list.
import { get, post, patch, del, enc } from '../api.js';
import { h, replace, attempt, say, field } from '../dom.js';

async function checkConfiguration(url, mark) {
  replace(mark, 'checking…');
  mark.className = 'check-line muted';
  try {
    const answer = (await post('/reportproviders/metadata', { form: { url } })).data;
    if (answer.valid) {
      mark.className = 'check-line valid';
      replace(mark, '✓ ', answer.client_name ? `configuration of ${answer.client_name} is valid` : 'configuration is valid');
    } else {
      mark.className = 'check-line invalid';
      replace(mark, '✗ ', answer.error_description || 'configuration is not valid');
    }
    return answer.valid;
  } catch (error) {
    mark.className = 'check-line invalid';
    replace(mark, '✗ ', error.message);
    return false;
  }
}

export async function reportProviders(panel, album) {
  const id = enc(album.album_id);
  const list = h('div');
  const load = async () => {
    const providers = (await get(`/albums/${id}/reportproviders`, { query: { limit: 100 } })).data || [];
    replace(list, providers.length ? h('table', { 'aria-label': 'Report providers' },
      h('thead', {}, h('tr', {}, ['Name', 'Configuration URL', 'Status', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, providers.map((provider) => providerRow(album, provider, load)))) : h('p', { class: 'muted' }, 'No report provider yet.'));
  };
  const mark = h('span', { role: 'status', id: 'provider-check', class: 'check-line' });
  const form = h('form', { class: 'stack', 'aria-label': 'New report provider' },
    field('Name', h('input', { name: 'name', required: true })),
    field('Configuration URL', h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://…/.well-known/kheops-report-configuration' })),
    mark,
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Add report provider')));
  form.url.addEventListener('change', () => form.url.value && checkConfiguration(form.url.value.trim(), mark));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      if (!(await checkConfiguration(form.url.value.trim(), mark))) throw new Error('The configuration URL is not valid');
      await post(`/albums/${id}/reportproviders`, { form: { name: form.name.value.trim(), url: form.url.value.trim() } });
      say(`Report provider ${form.name.value.trim()} added`);
      form.reset();
      replace(mark);
      await load();
    });
  });
  replace(panel, album.is_admin ? h('details', {}, h('summary', {}, '+ New report provider'), form) : '', list);
  await load();
}

function providerRow(album, provider, reload) {
  const id = enc(album.album_id);
  const mark = h('span', { role: 'status' });
  checkConfiguration(provider.url, mark);
  const row = h('tr', { dataset: { provider: provider.client_id } },
    h('td', {}, provider.name), h('td', {}, h('code', {}, provider.url)), h('td', {}, mark),
    h('td', {}, album.is_admin && h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => edit() }, `Edit ${provider.name}`),
      h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
        if (!confirm(`Delete the report provider ${provider.name}?`)) return;
        await del(`/albums/${id}/reportproviders/${enc(provider.client_id)}`);
        await reload();
      }) }, `Delete ${provider.name}`))));
  const edit = () => {
    const form = h('form', { class: 'inline', 'aria-label': `Edit ${provider.name}` },
      field('Name', h('input', { name: 'name', value: provider.name })),
      field('Configuration URL', h('input', { name: 'url', type: 'url', value: provider.url, size: 50 })),
      h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', onclick: () => attempt(reload) }, 'Cancel'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      attempt(async () => {
        await patch(`/albums/${id}/reportproviders/${enc(provider.client_id)}`, { form: { name: form.name.value.trim(), url: form.url.value.trim() } });
        await reload();
      });
    });
    replace(row, h('td', { colspan: 4 }, form));
  };
  return row;
}
