// In-app navigation without reloading: views call go(path); main.js renders on the event.
export function go(path) {
  history.pushState({}, '', path);
  window.dispatchEvent(new CustomEvent('obelisk:navigate'));
}

// The query part of the current location, as an object.
export function queryOf() {
  return Object.fromEntries(new URLSearchParams(location.search));
}
