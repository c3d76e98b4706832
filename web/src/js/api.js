// The one door to the Obelisk API: bearer token, JSON/form bodies, paging headers, and error
// bodies ({"message","detail"}) turned into readable messages.
import { config } from './config.js';
import { accessToken, renewNow, signedOut } from './auth.js';

export class ApiError extends Error {
  constructor(status, message, detail) {
    super(detail && detail !== message ? `${message}: ${detail}` : message);
    this.status = status;
  }
}

export function url(path, query) {
  const target = new URL(config().api_url + path);
  for (const [name, value] of Object.entries(query || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== undefined && v !== null && v !== '') target.searchParams.append(name, v);
  }
  return target.toString();
}

export function formBody(values) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(values || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null) body.append(name, String(v));
    }
  }
  return body;
}

const STATUS_TEXT = {
  401: 'Your session has expired: please sign in again',
  403: 'You are not allowed to do this',
  404: 'Not found (or you have no access)',
  502: 'A service behind the API did not answer',
};

async function errorFrom(response) {
  let message = STATUS_TEXT[response.status] || `The server answered ${response.status}`;
  let detail = '';
  try {
    const body = await response.json();
    if (body.message) message = body.message;
    detail = body.detail || body.error_description || '';
    if (body.error && !body.message) message = body.error;
  } catch { /* not a JSON body */ }
  return new ApiError(response.status, message, detail);
}

export async function call(method, path, { query, form, json, body, headers, accept, raw, retry = true } = {}) {
  const init = { method, headers: { Accept: accept || 'application/json', ...(headers || {}) } };
  const token = await accessToken();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (form) { init.body = formBody(form); init.headers['Content-Type'] = 'application/x-www-form-urlencoded'; }
  if (json) { init.body = JSON.stringify(json); init.headers['Content-Type'] = 'application/json'; }
  if (body) init.body = body;
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch {
    throw new ApiError(0, 'The API did not answer (it is unreachable or does not offer this yet)', '');
  }
  if (response.status === 401 && token && retry) {
    if (await renewNow()) return call(method, path, { query, form, json, body, headers, accept, raw, retry: false });
    signedOut();
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  const total = response.headers.get('X-Total-Count');
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  }
  return { status: response.status, data, total: total === null ? null : Number(total) };
}

export const get = (path, options) => call('GET', path, options);
export const post = (path, options) => call('POST', path, options);
export const put = (path, options) => call('PUT', path, options);
export const patch = (path, options) => call('PATCH', path, options);
export const del = (path, options) => call('DELETE', path, options);

// A path segment: '@' stays as is (RFC 3986 allows it in segments), because user references are
// e-mail addresses and `chalice local` hands path parameters over without percent-decoding.
export const enc = (value) => encodeURIComponent(value).replace(/%40/g, '@');
