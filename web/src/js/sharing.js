// Actions on a study or series shared by the study list and the study page: share with a user or
// into an album, remove from the current source, favorite, zip download.
import { get, put, del, call, enc } from './api.js';
import { h, dialog, attempt, say, field } from './dom.js';

// The query naming where the caller is looking: {inbox: true} or {album: id}.
export function sourceQuery(source) {
  return source.album ? { album: source.album } : { inbox: 'true' };
}

function studyPath(study, series) {
  return series ? `/studies/${enc(study)}/series/${enc(series)}` : `/studies/${enc(study)}`;
}

async function shareWithUser(source, study, series, user) {
  // A series goes to the user's inbox; a whole study is copied from where the caller looks at it.
  await put(`${studyPath(study, series)}/users/${enc(user)}`, { query: series ? {} : sourceQuery(source) });
}

async function shareIntoAlbum(source, study, series, album) {
  await put(`${studyPath(study, series)}/albums/${enc(album)}`, { query: series ? {} : sourceQuery(source) });
}

export async function openShareDialog(source, study, series, label) {
  const albums = await get('/albums', { query: { canAddSeries: 'true', limit: 100 } }).catch(() => ({ data: [] }));
  const choices = (albums.data || []).filter((album) => album.album_id !== source.album);
  const message = h('p', { role: 'status' });
  const form = h('form', { class: 'stack' },
    h('fieldset', {}, h('legend', {}, 'Share with'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'kind', value: 'user', checked: true }), 'A user'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'kind', value: 'album', disabled: !choices.length }), 'An album')),
    field('User e-mail', h('input', { name: 'user', type: 'email', autocomplete: 'off' })),
    field('Album', h('select', { name: 'album' }, choices.map((a) => h('option', { value: a.album_id }, a.name)))),
    message,
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Share'),
      h('button', { type: 'button', onclick: () => box.close() }, 'Cancel')));
  const box = dialog(`Share ${label}`, form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.className = '';
    message.textContent = 'Sharing…';
    try {
      if (form.kind.value === 'user') {
        if (!form.user.value.trim()) throw new Error('Enter the e-mail address of the user');
        await shareWithUser(source, study, series, form.user.value.trim());
        say(`Shared ${label} with ${form.user.value.trim()}`);
      } else {
        await shareIntoAlbum(source, study, series, form.album.value);
        say(`Added ${label} to ${form.album.selectedOptions[0].textContent}`);
      }
      box.close();
    } catch (error) {
      message.className = 'error';
      message.textContent = error.message;
    }
  });
  form.user.focus();
}

export async function removeFrom(source, study, series, label) {
  if (!confirm(`Remove ${label} from ${source.album ? 'this album' : 'your inbox'}?`)) return false;
  const path = source.album ? `${studyPath(study, series)}/albums/${enc(source.album)}` : studyPath(study, series);
  await del(path);
  say(`Removed ${label}`);
  return true;
}

export async function setFavorite(source, study, favorite) {
  await (favorite ? put : del)(`/studies/${enc(study)}/favorites`, { query: sourceQuery(source) });
}

export async function downloadZip(source, study) {
  await attempt(async () => {
    say('Preparing the download…');
    const response = await call('GET', `/studies/${enc(study)}`, {
      query: { accept: 'application/zip', ...sourceQuery(source) }, accept: 'application/zip', raw: true });
    const blob = await response.blob();
    const link = h('a', { href: URL.createObjectURL(blob), download: `${study}.zip` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    say('Download ready');
  });
}
