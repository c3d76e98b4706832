// The generated config.json (API URL, sign-in mode, viewer URL), loaded once at start.
let loaded;

export async function loadConfig() {
  const response = await fetch('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error('config.json is missing: build the web app with `make web`');
  loaded = await response.json();
  return loaded;
}

export function config() {
  return loaded;
}
