// Uploads of dropped files and folders, as the `obelisk upload` command does them (docs/upload.md):
// Part-10 files only; what the server already holds is skipped, so after a reload choosing the same
// files again resumes; small files go in multipart/related batches under the API's request limit,
// several requests in flight; a file above the limit goes through the large-upload path (an S3
// multipart upload, parts in parallel, each PUT to a presigned URL), remembered in localStorage so
// that after a reload only its missing parts are sent; every request is retried with backoff;
// progress is reported in bytes.
import { accessToken } from './auth.js';
import { ApiError, call, url } from './api.js';
import { config } from './config.js';
import { isPart10 } from './dicom.js';
import { part10Uids } from './part10.js';

const BATCH_BYTES = 4_500_000; // ~6 MB of Lambda payload once API Gateway base64-encodes it
const BATCH_INSTANCES = 20; // a STOW must finish within API Gateway's 29 s
const PART_OVERHEAD = 200;
const IN_FLIGHT = 3;
const ATTEMPTS = 5;
const RETRY = new Set([0, 408, 429, 500, 502, 503, 504]);

// Files from a drop: folders are walked (webkitGetAsEntry); plain files are kept as they are.
export async function droppedFiles(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...(dataTransfer.files || [])];
  const files = [];
  for (const entry of entries) await walk(entry, files);
  return files;
}

async function walk(entry, files) {
  if (entry.isFile) {
    files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const child of batch) await walk(child, files);
  }
}

function batchLimit() {
  return Number(config()?.upload_batch_bytes) || BATCH_BYTES;
}

function batches(files, limit) {
  const groups = [];
  let current = [];
  let size = 0;
  for (const file of files) {
    if (current.length && (size + file.size + PART_OVERHEAD > limit || current.length >= BATCH_INSTANCES)) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(file);
    size += file.size + PART_OVERHEAD;
  }
  if (current.length) groups.push(current);
  return groups;
}

function multipart(files) {
  const boundary = `obelisk-${crypto.randomUUID()}`;
  const parts = [];
  for (const file of files) parts.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, '\r\n');
  parts.push(`--${boundary}--\r\n`);
  return { body: new Blob(parts), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

// One HTTP request with upload progress; status 0 when the connection failed.
function send(method, target, body, headers, onProgress) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open(method, target);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => onProgress?.(event.loaded);
    request.onload = () => {
      let answer = null;
      try { answer = JSON.parse(request.responseText || 'null'); } catch { /* keep null */ }
      resolve({ status: request.status, answer });
    };
    request.onerror = () => resolve({ status: 0, answer: null });
    request.send(body);
  });
}

async function retried(attempt) {
  for (let n = 1; ; n += 1) {
    const result = await attempt();
    if (!RETRY.has(result.status) || n >= ATTEMPTS) return result;
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (n - 1) * (0.5 + Math.random())));
  }
}

async function authorization() {
  const token = await accessToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Runs `work` on every item with at most `limit` in flight.
async function pool(items, limit, work) {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index]);
    }
  });
  await Promise.all(runners);
}

function outcome(files, status, answer) {
  const reason = (item) => item?.['00081197']?.Value?.[0];
  if (![200, 202, 409].includes(status) || !answer) {
    const why = answer?.detail || answer?.message || (status ? `the server answered ${status}` : 'the connection failed');
    return { stored: 0, failures: files.map((file) => `${file.name}: ${why}`) };
  }
  const stored = new Set((answer['00081199']?.Value || []).map((item) => item['00081155']?.Value?.[0]));
  const failures = [];
  for (const file of files) {
    if (file.obeliskUids && stored.has(file.obeliskUids.sop)) continue;
    if (!file.obeliskUids && files.length === stored.size) continue;
    const refused = (answer['00081198']?.Value || []).find((item) => item['00081155']?.Value?.[0] === file.obeliskUids?.sop);
    failures.push(`${file.name}: refused${refused ? ` (0x${reason(refused).toString(16).padStart(4, '0')})` : ''}`);
  }
  return { stored: files.length - failures.length, failures };
}

async function alreadyStored(study, album) {
  const found = new Set();
  for (let offset = 0; ;) {
    let page;
    try {
      page = (await call('GET', `/studies/${study}/instances`, { accept: 'application/dicom+json',
        query: { includefield: '00080018', limit: 1000, offset, album } })).data || [];
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return found;
      throw error;
    }
    for (const item of page) found.add(item['00080018']?.Value?.[0]);
    if (!page.length) return found;
    offset += page.length;
  }
}

async function sendBatch(group, album, progress) {
  const body = multipart(group);
  const share = group.reduce((sum, file) => sum + file.size, 0) / body.body.size;
  const { status, answer } = await retried(async () => send('POST', url('/studies', { album }), body.body,
    { 'Content-Type': body.contentType, Accept: 'application/dicom+json', ...(await authorization()) },
    (loaded) => progress(loaded * share)));
  return outcome(group, status, answer);
}

// The large uploads in progress, remembered across reloads: file (name, size, lastModified) and
// album -> { upload_id, part_size }. Choosing the same file again asks the server which parts it
// holds and sends only the others.
const RESUMABLE = 'obelisk.uploads';

function fileKey(file, album) {
  return JSON.stringify([album || '', file.name, file.size, file.lastModified]);
}

function remembered() {
  try { return JSON.parse(localStorage.getItem(RESUMABLE) || '{}') || {}; } catch { return {}; }
}

function remember(file, album, ticket) {
  const all = remembered();
  if (ticket) {
    all[fileKey(file, album)] = { upload_id: ticket.upload_id, name: file.name, size: file.size,
      lastModified: file.lastModified, part_size: ticket.part_size, album: album || null };
  } else {
    delete all[fileKey(file, album)];
  }
  try { localStorage.setItem(RESUMABLE, JSON.stringify(all)); } catch { /* private mode: no resuming */ }
}

// The ticket of this file's upload: the remembered one with only its missing parts (and the bytes
// the server holds), or a new one. A remembered upload the server no longer knows is started again.
async function largeTicket(file, album) {
  const known = remembered()[fileKey(file, album)];
  if (known) {
    try {
      const held = (await call('GET', `/uploads/${encodeURIComponent(known.upload_id)}/parts`)).data;
      if (held.size === file.size) return { ...held, resumed: held.received_bytes };
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    remember(file, album, null);
  }
  const ticket = (await call('POST', '/uploads', { query: { album }, json: { content_type: 'application/dicom', size: file.size } })).data;
  remember(file, album, ticket);
  return { ...ticket, resumed: 0 };
}

async function sendLarge(file, album, progress) {
  const ticket = await largeTicket(file, album);
  const loaded = new Map();
  progress(ticket.resumed);
  await pool(ticket.parts, IN_FLIGHT, async (part) => {
    const start = (part.part_number - 1) * ticket.part_size;
    const { status } = await retried(() => send('PUT', part.url, file.slice(start, start + ticket.part_size), {}, (n) => {
      loaded.set(part.part_number, n);
      progress(ticket.resumed + [...loaded.values()].reduce((a, b) => a + b, 0));
    }));
    if (status !== 200) throw new Error(`part ${part.part_number} was refused (${status})`);
  });
  await call('POST', `/uploads/${ticket.upload_id}/complete`, { json: {} });
  for (;;) {
    const answer = await call('GET', `/uploads/${ticket.upload_id}`, { raw: true });
    const document = await answer.json();
    if (answer.status !== 202 || document?.status !== 'pending') {
      remember(file, album, null);
      return outcome([file], answer.status, document);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Uploads `files` (into `album` when given); reports progress as (sentBytes, totalBytes).
export async function upload(files, { album, onProgress }) {
  const dicom = [];
  for (const file of files) {
    if (!(await isPart10(file))) continue;
    file.obeliskUids = await part10Uids(file);
    dicom.push(file);
  }
  const summary = { stored: 0, already: 0, failures: [], skipped: files.length - dicom.length, files: dicom.length };
  const studies = [...new Set(dicom.map((file) => file.obeliskUids?.study).filter(Boolean))];
  const stored = new Map();
  await pool(studies, IN_FLIGHT, async (study) => stored.set(study, await alreadyStored(study, album)));
  const seen = new Set();
  const pending = dicom.filter((file) => {
    const uids = file.obeliskUids;
    if (!uids) return true;
    if (stored.get(uids.study)?.has(uids.sop) || seen.has(uids.sop)) { summary.already += 1; return false; }
    seen.add(uids.sop);
    return true;
  });
  const limit = batchLimit();
  const total = pending.reduce((sum, file) => sum + file.size, 0);
  const inFlight = new Map();
  let done = 0;
  const report = () => onProgress(Math.min(total, done + [...inFlight.values()].reduce((a, b) => a + b, 0)), total);
  const jobs = [
    ...batches(pending.filter((file) => file.size + PART_OVERHEAD <= limit), limit).map((group) => ({ group, large: false })),
    ...pending.filter((file) => file.size + PART_OVERHEAD > limit).map((file) => ({ group: [file], large: true })),
  ];
  await pool(jobs, IN_FLIGHT, async (job) => {
    const progress = (n) => { inFlight.set(job, n); report(); };
    let result;
    try {
      result = await (job.large ? sendLarge(job.group[0], album, progress) : sendBatch(job.group, album, progress));
    } catch (error) {
      result = { stored: 0, failures: job.group.map((file) => `${file.name}: ${error.detail || error.message}`) };
    }
    inFlight.delete(job);
    done += job.group.reduce((sum, file) => sum + file.size, 0);
    report();
    summary.stored += result.stored;
    summary.failures.push(...result.failures);
  });
  return summary;
}
