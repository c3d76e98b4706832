// Building DOM nodes without string HTML (no injection): h('button', {onclick}, 'text').
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name in node && typeof value !== 'string') node[name] = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  append(node, children);
  return node;
}

// A user as others see them: the name with the e-mail, which the identity provider verified and
// which belongs to one user only (anyone may pick any name). docs/identity.md.
export function person(user, fallback = 'someone') {
  if (!user) return fallback;
  if (!user.email) return user.name || user.capability_token?.title || fallback;
  return h('span', { class: 'person' }, user.name ? [user.name, ' ', h('span', { class: 'email' }, `<${user.email}>`)] : user.email);
}

export function personText(user) {
  if (!user) return '';
  return user.email ? (user.name ? `${user.name} <${user.email}>` : user.email) : (user.name || '');
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

let statusTimer;
export function say(text) {
  const status = document.getElementById('status');
  status.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { status.textContent = ''; }, 6000);
}

export function alertError(error) {
  document.getElementById('alert').textContent = error ? String(error.message || error) : '';
}

// Each page shown gets a new generation, so a late error of a page already left stays silent.
let generation = 0;
export function newPage() {
  generation += 1;
  alertError(null);
}

// A view that awaits before drawing calls this first; the returned check says whether the page
// is still the one shown (a quicker click may have moved on), so a late answer draws nothing.
export function pageTicket() {
  const mine = generation;
  return () => mine === generation;
}

// Runs an action from a button or form, showing its error in the alert region.
export async function attempt(action) {
  const started = generation;
  alertError(null);
  try {
    return await action();
  } catch (error) {
    if (started === generation) alertError(error);
    return undefined;
  }
}

export function field(label, input) {
  return h('label', {}, label, input);
}

export function checkbox(label, name, checked) {
  // defaultChecked (the attribute) so that form.reset() returns to it
  return h('label', { class: 'check' }, h('input', { type: 'checkbox', name, defaultChecked: !!checked }), label);
}

export function dialog(title, ...content) {
  const box = h('dialog', { 'aria-label': title }, h('h2', {}, title), ...content);
  box.addEventListener('close', () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

export function formValues(form) {
  const values = {};
  for (const element of form.elements) {
    if (!element.name) continue;
    values[element.name] = element.type === 'checkbox' ? element.checked : element.value.trim();
  }
  return values;
}
