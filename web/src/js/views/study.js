// One study: its series with thumbnails, per-series sharing and removal, and its comments.
import { get, post, call, enc } from '../api.js';
import { h, replace, attempt, say, field, pageTicket, person } from '../dom.js';
import { personName, date, text, number, values } from '../dicom.js';
import { queryOf, go } from '../router.js';
import { sourceQuery, openShareDialog, removeFrom, downloadZip } from '../sharing.js';
import { ohifAvailable, launchOhif } from '../launch.js';

export async function studyPage(uid) {
  const query = queryOf();
  const source = query.album ? { album: query.album } : { inbox: true };
  const main = document.getElementById('main');
  const current = pageTicket();
  const found = await get('/studies', { query: { ...sourceQuery(source), StudyInstanceUID: uid, includefield: 'StudyDescription' },
                                       accept: 'application/dicom+json' });
  const showOhif = await ohifAvailable();
  if (!current()) return;
  const study = (found.data || [])[0];
  if (!study) {
    replace(main, h('h1', {}, 'Study not found'), h('p', {}, 'It does not exist or it is not shared with you here.'));
    return;
  }
  const patient = personName(study) || '(no name)';
  document.title = `${patient} · Obelisk`;
  const back = source.album ? h('a', { href: `/albums/${source.album}` }, 'Back to the album') : h('a', { href: '/' }, 'Back to the inbox');
  const seriesSection = h('section', { 'aria-labelledby': 'series-heading' }, h('h2', { id: 'series-heading' }, 'Series'));
  const commentsSection = h('section', { 'aria-labelledby': 'comments-heading' }, h('h2', { id: 'comments-heading' }, 'Comments'));
  replace(main, back,
    h('h1', {}, patient, ' ', h('span', { class: 'muted' }, text(study, 'PatientID'))),
    h('p', {}, [date(study), values(study, 'ModalitiesInStudy').join(', '), text(study, 'StudyDescription'),
      `${number(study, 'NumberOfStudyRelatedSeries')} series`, `${number(study, 'NumberOfStudyRelatedInstances')} instances`]
      .filter(Boolean).join(' · ')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => attempt(() => openShareDialog(source, uid, null, `the study of ${patient}`)) }, 'Share study'),
      h('button', { type: 'button', onclick: () => downloadZip(source, uid) }, 'Download'),
      showOhif && h('button', { type: 'button', onclick: () => attempt(() => launchOhif(uid, source)) }, 'Open in OHIF'),
      h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => {
        if (await removeFrom(source, uid, null, `the study of ${patient}`)) go(source.album ? `/albums/${source.album}` : '/');
      }) }, 'Remove study')),
    seriesSection, commentsSection);
  await attempt(() => showSeries(seriesSection, uid, source));
  await showComments(commentsSection, uid);
}

async function showSeries(section, uid, source) {
  const answer = await get(`/studies/${enc(uid)}/series`, { query: sourceQuery(source), accept: 'application/dicom+json' });
  const rows = (answer.data || []).map((series) => {
    const seriesUid = text(series, 'SeriesInstanceUID');
    const label = `series ${text(series, 'SeriesNumber')} ${text(series, 'SeriesDescription')}`.trim();
    return h('tr', { dataset: { series: seriesUid } },
      h('td', {}, thumbnail(uid, seriesUid, source, label)),
      h('td', {}, text(series, 'SeriesNumber')),
      h('td', {}, text(series, 'Modality')),
      h('td', {}, text(series, 'SeriesDescription')),
      h('td', { class: 'num' }, number(series, 'NumberOfSeriesRelatedInstances')),
      h('td', {}, h('div', { class: 'actions' },
        h('button', { type: 'button', 'aria-label': `Share ${label}`, onclick: () => attempt(() => openShareDialog(source, uid, seriesUid, label)) }, 'Share'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${label}`, onclick: () => attempt(async () => {
          if (await removeFrom(source, uid, seriesUid, label)) await showSeries(section, uid, source);
        }) }, 'Remove'))));
  });
  const table = h('table', { 'aria-label': 'Series' },
    h('thead', {}, h('tr', {}, ['Preview', 'Number', 'Modality', 'Description', 'Instances', 'Actions']
      .map((name) => h('th', { scope: 'col', class: name === 'Instances' ? 'num' : undefined }, name)))),
    h('tbody', {}, rows));
  replace(section, h('h2', { id: 'series-heading' }, 'Series'), rows.length ? table : h('p', {}, 'No series.'));
}

// Thumbnails need the bearer token, so they are fetched and shown as object URLs.
function thumbnail(study, series, source, label) {
  const box = h('span', { class: 'thumb none' }, 'no preview');
  call('GET', `/studies/${enc(study)}/series/${enc(series)}/thumbnail`, { query: sourceQuery(source), accept: 'image/jpeg, image/png, image/*', raw: true })
    .then((response) => response.blob())
    .then((blob) => box.replaceWith(h('img', { class: 'thumb', alt: `Preview of ${label}`, src: URL.createObjectURL(blob) })))
    .catch(() => {});
  return box;
}

async function showComments(section, uid) {
  const list = h('ul', { class: 'events', 'aria-label': 'Comments' });
  const form = h('form', { class: 'stack', 'aria-label': 'Add a comment' },
    field('Comment', h('textarea', { name: 'comment', rows: 2, maxlength: 1024, required: true })),
    field('Private to (e-mail, optional)', h('input', { name: 'to_user', type: 'email' })),
    h('div', {}, h('button', { type: 'submit' }, 'Add comment')));
  const load = async () => {
    const answer = await get(`/studies/${enc(uid)}/comments`, { query: { limit: 100 } });
    replace(list, (answer.data || []).map((event) => h('li', {},
      h('strong', {}, person(event.source)), ' ',
      event.target ? ['to ', h('strong', {}, person(event.target)), ' '] : '',
      h('span', { class: 'muted' }, (event.post_date || '').replace('T', ' ').slice(0, 16)),
      event.is_private ? h('span', { class: 'badge' }, 'private') : '', h('div', {}, event.comment))));
    if (!list.children.length) list.append(h('li', { class: 'muted' }, 'No comment yet.'));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      await post(`/studies/${enc(uid)}/comments`, { form: { comment: form.comment.value.trim(), to_user: form.to_user.value.trim() || undefined } });
      form.reset();
      say('Comment added');
      await load();
    });
  });
  replace(section, h('h2', { id: 'comments-heading' }, 'Comments'), list, form);
  try {
    await load();
  } catch (error) {
    replace(section, h('h2', { id: 'comments-heading' }, 'Comments'), h('p', { class: 'muted' }, `Comments are not available: ${error.message}`));
  }
}
