// The study list of the inbox or of one album: filters, sorting, paging, favorites, upload and
// per-study actions.
import { get } from '../api.js';
import { h, replace, attempt, say, field } from '../dom.js';
import { personName, date, text, number, isFavorite, values } from '../dicom.js';
import { droppedFiles, upload } from '../upload.js';
import { sourceQuery, openShareDialog, removeFrom, setFavorite, downloadZip } from '../sharing.js';
import { ohifAvailable, launchOhif, launchReportProvider } from '../launch.js';

const PAGE_SIZE = 20;
const COLUMNS = [
  ['PatientName', 'Patient'], ['PatientID', 'Patient ID'], ['StudyDate', 'Date'], [null, 'Modalities'],
  [null, 'Description'], [null, 'Series', 'num'], [null, 'Instances', 'num'], [null, 'Comments', 'num'],
];

export async function studyListPage({ title, source }) {
  document.title = `${title} · Obelisk`;
  const main = document.getElementById('main');
  const list = studyList(source);
  replace(main, h('h1', {}, title), list.element);
  await list.load();
}

// A self-contained study list; `providers` (album only) are report providers to launch.
export function studyList(source, providers = []) {
  const state = { offset: 0, sort: '-StudyDate', filters: {} };
  const table = h('div', { id: 'study-table' });
  const pager = h('div', { class: 'pager' });
  const filters = filterForm((values) => { state.filters = values; state.offset = 0; load(); });
  const element = h('section', { 'aria-label': 'Studies' }, uploader(source, () => load()), filters, table, pager);

  async function load() {
    const query = { ...sourceQuery(source), ...state.filters, sort: state.sort, limit: PAGE_SIZE, offset: state.offset,
                    includefield: ['StudyDescription', 'favorite', 'comments'], fuzzymatching: undefined };
    const answer = await get('/studies', { query, accept: 'application/dicom+json' });
    const studies = answer.data || [];
    const total = answer.total ?? studies.length;
    const showOhif = await ohifAvailable();
    replace(table, studies.length ? studyTable(studies, source, state, { load, showOhif, providers })
      : h('p', { class: 'muted' }, Object.keys(state.filters).length ? 'No study matches these filters.' : 'No study yet: drop a folder of DICOM files above.'));
    const last = Math.min(state.offset + PAGE_SIZE, total);
    replace(pager,
      h('button', { type: 'button', disabled: state.offset === 0, onclick: () => { state.offset -= PAGE_SIZE; attempt(load); } }, 'Previous'),
      h('span', { 'aria-live': 'polite' }, total ? `${state.offset + 1}–${last} of ${total}` : '0 studies'),
      h('button', { type: 'button', disabled: last >= total, onclick: () => { state.offset += PAGE_SIZE; attempt(load); } }, 'Next'));
  }
  return { element, load: () => attempt(load) };
}

function filterForm(apply) {
  const form = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter studies' },
    field('Patient name', h('input', { name: 'PatientName', placeholder: 'DOE*' })),
    field('Patient ID', h('input', { name: 'PatientID' })),
    field('From', h('input', { name: 'from', type: 'date' })),
    field('To', h('input', { name: 'to', type: 'date' })),
    field('Modality', h('input', { name: 'ModalitiesInStudy', size: 4, placeholder: 'CT' })),
    field('Description', h('input', { name: 'StudyDescription' })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'favorite' }), 'Favorites only'),
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'reset' }, 'Clear'));
  const read = () => {
    const values = {};
    for (const name of ['PatientName', 'PatientID', 'ModalitiesInStudy', 'StudyDescription']) {
      const value = form[name].value.trim();
      if (value) values[name] = /[*?]/.test(value) || name === 'ModalitiesInStudy' ? value : `*${value}*`;
    }
    const from = form.from.value.replaceAll('-', '');
    const to = form.to.value.replaceAll('-', '');
    if (from || to) values.StudyDate = from === to ? from : `${from}-${to}`;
    if (form.favorite.checked) values.favorite = 'true';
    return values;
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); apply(read()); });
  form.addEventListener('reset', () => setTimeout(() => apply({}), 0));
  return form;
}

function sortHeader(key, label, state, load) {
  if (!key) return label;
  const active = state.sort.replace('-', '') === key;
  const descending = state.sort.startsWith('-');
  return h('button', { class: 'sort', type: 'button', onclick: () => {
    state.sort = active && !descending ? `-${key}` : key;
    state.offset = 0;
    attempt(load);
  } }, label, active ? (descending ? ' ▼' : ' ▲') : '');
}

function ariaSort(key, state) {
  if (!key || state.sort.replace('-', '') !== key) return undefined;
  return state.sort.startsWith('-') ? 'descending' : 'ascending';
}

function studyTable(studies, source, state, context) {
  return h('table', { 'aria-label': 'Studies' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Favorite')),
      COLUMNS.map(([key, label, cls]) => h('th', { scope: 'col', class: cls, 'aria-sort': ariaSort(key, state) }, sortHeader(key, label, state, context.load))),
      h('th', { scope: 'col' }, 'Actions'))),
    h('tbody', {}, studies.map((study) => studyRow(study, source, context))));
}

function studyRow(study, source, { load, showOhif, providers }) {
  const uid = text(study, 'StudyInstanceUID');
  const patient = personName(study) || '(no name)';
  const label = `the study of ${patient}`;
  const favorite = isFavorite(study);
  const href = `/studies/${uid}${source.album ? `?album=${source.album}` : ''}`;
  return h('tr', { dataset: { study: uid } },
    h('td', {}, h('button', { class: 'star', type: 'button', 'aria-pressed': String(favorite),
      'aria-label': favorite ? `Remove ${label} from favorites` : `Mark ${label} as favorite`,
      onclick: () => attempt(async () => { await setFavorite(source, uid, !favorite); await load(); }) }, favorite ? '★' : '☆')),
    h('td', {}, h('a', { href }, patient)),
    h('td', {}, text(study, 'PatientID')),
    h('td', {}, date(study)),
    h('td', {}, values(study, 'ModalitiesInStudy').join(', ')),
    h('td', {}, text(study, 'StudyDescription')),
    h('td', { class: 'num' }, number(study, 'NumberOfStudyRelatedSeries')),
    h('td', { class: 'num' }, number(study, 'NumberOfStudyRelatedInstances')),
    h('td', { class: 'num' }, number(study, 'Comments') || 0),
    h('td', {}, h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => attempt(() => openShareDialog(source, uid, null, label)) }, 'Share'),
      h('button', { type: 'button', onclick: () => downloadZip(source, uid) }, 'Download'),
      showOhif && h('button', { type: 'button', onclick: () => attempt(() => launchOhif(uid, source)) }, 'Open in OHIF'),
      providers.length > 0 && reportMenu(providers, uid, label),
      h('button', { type: 'button', class: 'danger', onclick: () => attempt(async () => { if (await removeFrom(source, uid, null, label)) await load(); }) }, 'Remove'))));
}

function reportMenu(providers, uid, label) {
  const select = h('select', { 'aria-label': `Report provider for ${label}` },
    providers.map((p) => h('option', { value: p.client_id }, p.name)));
  return h('span', { class: 'actions' }, select,
    h('button', { type: 'button', onclick: () => attempt(() => launchReportProvider(providers.find((p) => p.client_id === select.value), [uid])) }, 'Report'));
}

function uploader(source, done) {
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const note = h('span', { 'aria-live': 'polite', id: 'upload-note' });
  const folderInput = h('input', { type: 'file', webkitdirectory: true, multiple: true, id: 'upload-folder', class: 'visually-hidden', tabindex: -1, 'aria-label': 'Folder to upload' });
  const filesInput = h('input', { type: 'file', multiple: true, id: 'upload-files', class: 'visually-hidden', tabindex: -1, 'aria-label': 'Files to upload' });
  const zone = h('div', { class: 'dropzone', 'aria-label': 'Upload DICOM files' },
    h('p', {}, 'Drop DICOM files or folders here, or ',
      h('button', { type: 'button', onclick: () => folderInput.click() }, 'choose a folder'), ' ',
      h('button', { type: 'button', onclick: () => filesInput.click() }, 'choose files'), '.'),
    folderInput, filesInput, progress, ' ', note);
  const run = (files) => attempt(async () => {
    progress.hidden = false;
    progress.value = 0;
    note.textContent = `Uploading ${files.length} file(s)…`;
    const summary = await upload(files, { album: source.album, onProgress: (sent, total) => {
      progress.max = total || 1;
      progress.value = sent;
    } });
    const parts = [`${summary.stored} instance(s) stored`];
    if (summary.already) parts.push(`${summary.already} already stored`);
    if (summary.skipped) parts.push(`${summary.skipped} non-DICOM file(s) skipped`);
    if (summary.failures.length) parts.push(`${summary.failures.length} refused: ${[...new Set(summary.failures)].join('; ')}`);
    note.textContent = `Upload finished: ${parts.join(', ')}.`;
    note.className = summary.failures.length ? 'error' : 'ok';
    say(note.textContent);
    await done();
  });
  folderInput.addEventListener('change', () => folderInput.files.length && run([...folderInput.files]));
  filesInput.addEventListener('change', () => filesInput.files.length && run([...filesInput.files]));
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    run(await droppedFiles(event.dataTransfer));
  });
  return zone;
}
