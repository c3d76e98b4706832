// Leaving Obelisk for a viewer or a report provider: a top-level form POST to the API's launch
// endpoints (`POST /viewer/launch`, KHEOPS `POST /report`), so no token ever sits in a URL.
import { config } from './config.js';
import { accessToken } from './auth.js';
import { h } from './dom.js';

let ohifCheck;

// OHIF is offered only when a viewer URL is configured and the API acts as its OpenID provider.
export function ohifAvailable() {
  if (!ohifCheck) {
    ohifCheck = config().ohif_url
      ? fetch(config().api_url + '/.well-known/openid-configuration').then((r) => r.ok).catch(() => false)
      : Promise.resolve(false);
  }
  return ohifCheck;
}

async function postForm(path, fields, target) {
  const form = h('form', { method: 'POST', action: config().api_url + path, target: target || '_self', hidden: true });
  for (const [name, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null) form.append(h('input', { type: 'hidden', name, value: String(v) }));
    }
  }
  document.body.append(form);
  form.submit();
  form.remove();
}

// POST /viewer/launch answers 303 to OHIF with a one-time HttpOnly launch ticket; OHIF then signs
// in at the API's /authorize (PKCE) and gets a viewer token limited to this study and source.
export async function launchOhif(studyUID, source) {
  await postForm('/viewer/launch', { access_token: await accessToken(), studyUID,
                   source_type: source.album ? 'album' : 'inbox', source_id: source.album }, '_blank');
}

export async function launchReportProvider(provider, studyUIDs) {
  await postForm('/report', { access_token: await accessToken(), client_id: provider.client_id, studyUID: studyUIDs,
                   return_uri: location.href });
}
