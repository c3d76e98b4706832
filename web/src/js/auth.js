// Sign-in, silent renewal and sign-out. Two modes from config.json `auth.mode`:
// "oidc": authorization code + PKCE at the provider's hosted pages (Cognito in AWS);
// "password": a local form calling Cognito's InitiateAuth JSON API (the emulator has no hosted UI).
// Tokens live in sessionStorage (gone when the tab closes), never in localStorage or cookies.
import { config } from './config.js';

const KEY = 'obelisk.session';
const PKCE_KEY = 'obelisk.pkce';
const RENEW_MARGIN_MS = 60_000;
let renewTimer;
let renewing;

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
}

function store(value) {
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
  scheduleRenewal();
}

export function currentUser() {
  return session()?.user || null;
}

export async function accessToken() {
  const current = session();
  if (!current) return null;
  if (Date.now() > current.expires_at - RENEW_MARGIN_MS) await renewNow();
  return session()?.access_token || null;
}

function fromTokens(result, previous) {
  return {
    access_token: result.access_token,
    id_token: result.id_token || previous?.id_token,
    refresh_token: result.refresh_token || previous?.refresh_token,
    expires_at: Date.now() + 1000 * Number(result.expires_in || 3600),
    user: previous?.user || null,
  };
}

// --- password mode: Cognito InitiateAuth -------------------------------------------------
async function cognito(flow, parameters) {
  const auth = config().auth;
  const response = await fetch(auth.cognito_endpoint + '/', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
    },
    body: JSON.stringify({ AuthFlow: flow, ClientId: auth.client_id, AuthParameters: parameters }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `sign-in failed (${response.status})`);
  const result = body.AuthenticationResult;
  if (!result) throw new Error(`the identity provider asks for a further step (${body.ChallengeName})`);
  return { access_token: result.AccessToken, id_token: result.IdToken, refresh_token: result.RefreshToken,
           expires_in: result.ExpiresIn };
}

export async function signInWithPassword(username, password) {
  const result = await cognito('USER_PASSWORD_AUTH', { USERNAME: username, PASSWORD: password });
  store(fromTokens(result, null));
  await register();
}

// --- OIDC mode: authorization code + PKCE ---------------------------------------------------
function randomString(bytes = 32) {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(data);
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function redirectUri() {
  return `${location.origin}/callback`;
}

export async function beginOidcSignIn(returnTo = '/') {
  const auth = config().auth;
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, returnTo }));
  const target = new URL(auth.authorization_endpoint);
  Object.entries({
    response_type: 'code', client_id: auth.client_id, redirect_uri: redirectUri(), scope: auth.scope || 'openid aws.cognito.signin.user.admin',
    state, code_challenge: challenge, code_challenge_method: 'S256',
  }).forEach(([k, v]) => target.searchParams.set(k, v));
  location.assign(target.toString());
}

async function tokenRequest(values) {
  const auth = config().auth;
  const response = await fetch(auth.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: auth.client_id, ...values }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description || body.error || `token request failed (${response.status})`);
  return body;
}

// Completes the redirect back to /callback; returns where the user was going.
export async function completeOidcSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  if (params.get('error')) throw new Error(params.get('error_description') || params.get('error'));
  if (!pending || params.get('state') !== pending.state) throw new Error('the sign-in answer does not match this tab (state); try again');
  const result = await tokenRequest({ grant_type: 'authorization_code', code: params.get('code'),
                                      redirect_uri: redirectUri(), code_verifier: pending.verifier });
  store(fromTokens(result, null));
  await register();
  return pending.returnTo || '/';
}

// --- both modes --------------------------------------------------------------------------------
async function register() {
  // KHEOPS clients call /register once; it also gives the profile (name, email) to show.
  const current = session();
  const response = await fetch(config().api_url + '/register', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ access_token: current.access_token }),
  });
  if (!response.ok) {
    store(null);
    const body = await response.json().catch(() => ({}));
    throw new Error(body.detail || body.message || `registration failed (${response.status})`);
  }
  store({ ...current, user: await response.json() });
}

export function renewNow() {
  if (!renewing) renewing = renew().finally(() => { renewing = null; });
  return renewing;
}

async function renew() {
  const current = session();
  if (!current?.refresh_token) return false;
  try {
    const result = config().auth.mode === 'oidc'
      ? await tokenRequest({ grant_type: 'refresh_token', refresh_token: current.refresh_token })
      : await cognito('REFRESH_TOKEN_AUTH', { REFRESH_TOKEN: current.refresh_token });
    store(fromTokens(result, current));
    return true;
  } catch {
    return false;
  }
}

function scheduleRenewal() {
  clearTimeout(renewTimer);
  const current = session();
  if (!current?.refresh_token) return;
  const delay = Math.max(5_000, current.expires_at - Date.now() - RENEW_MARGIN_MS);
  renewTimer = setTimeout(() => renewNow(), delay);
}

export function signedOut() {
  store(null);
  window.dispatchEvent(new CustomEvent('obelisk:signed-out'));
}

export function signOut() {
  const auth = config().auth;
  store(null);
  if (auth.mode === 'oidc' && auth.logout_endpoint) {
    const target = new URL(auth.logout_endpoint);
    target.searchParams.set('client_id', auth.client_id);
    target.searchParams.set('logout_uri', `${location.origin}/`);
    location.assign(target.toString());
    return;
  }
  window.dispatchEvent(new CustomEvent('obelisk:signed-out'));
}

export function startRenewal() {
  scheduleRenewal();
}
