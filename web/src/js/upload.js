// STOW-RS upload of dropped files and folders: Part-10 files in multipart/related batches that
// stay under the API's request limit, with byte progress (XMLHttpRequest reports upload progress).
import { accessToken } from './auth.js';
import { url } from './api.js';
import { isPart10 } from './dicom.js';

const BATCH_BYTES = 4 * 1024 * 1024;

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

function batches(files) {
  const groups = [];
  let current = [];
  let size = 0;
  for (const file of files) {
    if (current.length && size + file.size > BATCH_BYTES) { groups.push(current); current = []; size = 0; }
    current.push(file);
    size += file.size;
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

function send(target, token, { body, contentType }, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', target);
    request.setRequestHeader('Content-Type', contentType);
    request.setRequestHeader('Accept', 'application/dicom+json');
    if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      let answer = null;
      try { answer = JSON.parse(request.responseText || 'null'); } catch { /* keep null */ }
      resolve({ status: request.status, answer });
    };
    request.onerror = () => reject(new Error('the upload was interrupted'));
    request.send(body);
  });
}

function counts(answer) {
  const stored = answer?.['00081199']?.Value?.length || 0;
  const failures = (answer?.['00081198']?.Value || []).map((item) => item['00000902']?.Value?.[0] || 'refused');
  return { stored, failures };
}

// Uploads `files` (into `album` when given); reports progress as (sentBytes, totalBytes).
export async function upload(files, { album, onProgress }) {
  const dicom = [];
  for (const file of files) if (await isPart10(file)) dicom.push(file);
  const summary = { stored: 0, failures: [], skipped: files.length - dicom.length, files: dicom.length };
  const total = dicom.reduce((sum, file) => sum + file.size, 0);
  let done = 0;
  for (const group of batches(dicom)) {
    const body = multipart(group);
    const { status, answer } = await send(url('/studies', { album }), await accessToken(), body,
      (loaded) => onProgress(Math.min(total, done + loaded * (group.reduce((s, f) => s + f.size, 0) / body.body.size)), total));
    done += group.reduce((sum, file) => sum + file.size, 0);
    onProgress(done, total);
    if (status >= 400 && !answer?.['00081198']) {
      summary.failures.push(answer?.detail || answer?.message || `the server answered ${status}`);
      continue;
    }
    const result = counts(answer);
    summary.stored += result.stored;
    summary.failures.push(...result.failures);
  }
  return summary;
}
