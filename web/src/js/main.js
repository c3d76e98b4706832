// Start-up and routing (History API; the static host falls back to index.html for any path).
import { loadConfig, config } from './config.js';
import { beginOidcSignIn, completeOidcSignIn, currentUser, signInWithPassword, signOut, startRenewal } from './auth.js';
import { h, replace, attempt, newPage, field } from './dom.js';
import { studyListPage } from './views/studies.js';
import { studyPage } from './views/study.js';
import { albumListPage, albumPage } from './views/albums.js';
import { userTokensPage } from './views/tokens.js';
import { go } from './router.js';

const ROUTES = [
  [/^\/$/, () => studyListPage({ title: 'Inbox', source: { inbox: true } })],
  [/^\/albums$/, () => albumListPage()],
  [/^\/albums\/([A-Za-z0-9]+)$/, (id) => albumPage(id)],
  [/^\/studies\/([0-9.]+)$/, (uid) => studyPage(uid)],
  [/^\/tokens$/, () => userTokensPage()],
];


function navigation() {
  const links = [['/', 'Inbox'], ['/albums', 'Albums'], ['/tokens', 'Tokens']];
  const here = location.pathname;
  return links.map(([href, label]) => {
    const current = href === '/' ? here === '/' || here.startsWith('/studies') : here.startsWith(href);
    return h('a', { href, 'aria-current': current ? 'page' : false }, label);
  });
}

function header() {
  const user = currentUser();
  replace(document.getElementById('nav'), user ? navigation() : []);
  replace(document.getElementById('who'), user
    ? [h('span', { id: 'user-name' }, user.name || user.email), user.name && user.email ? h('span', { id: 'user-email', class: 'email' }, user.email) : '', h('button', { type: 'button', onclick: () => signOut() }, 'Sign out')]
    : []);
}

function signInPage(main) {
  const auth = config().auth;
  document.title = 'Sign in · Obelisk';
  if (auth.mode === 'oidc') {
    return replace(main, h('h1', {}, 'Sign in'),
      h('p', {}, 'Obelisk signs you in with your organisation\'s identity provider.'),
      h('button', { class: 'primary', type: 'button', onclick: () => beginOidcSignIn(location.pathname + location.search) }, 'Sign in'));
  }
  if (auth.mode !== 'password') return replace(main, h('p', { class: 'error' }, 'Sign-in is not configured (config.json has no auth section).'));
  const form = h('form', { class: 'stack', 'aria-label': 'Sign in' },
    field('User name', h('input', { name: 'username', autocomplete: 'username', required: true })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Sign in')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(async () => {
      await signInWithPassword(form.username.value.trim(), form.password.value);
      render();
    });
  });
  replace(main, h('h1', {}, 'Sign in'), form);
  form.username.focus();
}

export async function render() {
  const main = document.getElementById('main');
  newPage();
  if (location.pathname === '/callback') {
    await attempt(async () => history.replaceState({}, '', await completeOidcSignIn()));
  }
  header();
  if (!currentUser()) return signInPage(main);
  for (const [pattern, view] of ROUTES) {
    const match = location.pathname.match(pattern);
    if (match) {
      replace(main, h('p', {}, 'Loading…'));
      await attempt(() => view(...match.slice(1).map(decodeURIComponent)));
      return;
    }
  }
  replace(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Back to the inbox')));
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download') || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const target = new URL(link.href, location.href);
  if (target.origin !== location.origin) return;
  event.preventDefault();
  go(target.pathname + target.search);
});
window.addEventListener('popstate', render);
window.addEventListener('obelisk:navigate', render);
window.addEventListener('obelisk:signed-out', () => { history.replaceState({}, '', '/'); render(); });

(async () => {
  try {
    await loadConfig();
  } catch (error) {
    replace(document.getElementById('main'), h('p', { class: 'error' }, error.message));
    return;
  }
  startRenewal();
  render();
})();
