// The router: one page at a time, chosen by the URL's hash.

import { api, state } from './api.js';
import { alertBox, button, h, notify, pageHead, setDirty, spinner, txt } from './dom.js';
import { closeModal } from './modal.js';

// routes maps a hash to its page: {title, render(main, gen)}; app.js fills it.
export const routes = {};

// POLL_MS is how often live pages ask the router again.
export const POLL_MS = 2000;

// gen counts page renders: async work of a page checks it before touching
// the DOM, and timers of a page that is gone stop.
export let gen = 0;
let timers = [];

export function sessionLost() {
  if (!state.csrf) return;
  state.csrf = '';
  const r = currentRoute();
  if (r !== 'login') state.wantRoute = r;
  notify('Your session has expired; please log in again.', 'warning');
  go('login');
}

export function setHostname(name) {
  if (name) state.hostname = name;
  document.getElementById('hostname').textContent = state.hostname;
  const r = routes[currentRoute()];
  document.title = `${state.hostname} - ${r ? r.title : ''} - wanlb`;
}

export function currentRoute() {
  return location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'status';
}

export function go(name) {
  if (currentRoute() === name && location.hash) route();
  else location.hash = '#/' + name;
}

export function every(ms, fn) {
  const g = gen;
  let t;
  const tick = async () => {
    if (g !== gen) return;
    if (!document.hidden) await fn();
    if (g === gen) { t = setTimeout(tick, ms); timers.push(t); }
  };
  t = setTimeout(tick, ms);
  timers.push(t);
}

export async function route() {
  gen++;
  timers.forEach(clearTimeout);
  timers = [];
  closeModal();
  setDirty(false);
  let name = currentRoute();
  if (!routes[name]) name = 'status';
  if (name !== 'login' && !state.csrf) {
    state.wantRoute = name;
    if (currentRoute() !== 'login') { location.hash = '#/login'; return; }
    name = 'login';
  }
  if (name === 'login' && state.csrf) { location.hash = '#/status'; return; }
  const header = document.getElementById('header');
  header.classList.remove('open');
  header.classList.toggle('logged-out', name === 'login');
  document.getElementById('menu-toggle').setAttribute('aria-expanded', 'false');
  document.body.dataset.page = name;
  for (const a of document.querySelectorAll('#menu a[data-route]')) {
    a.classList.toggle('active', a.dataset.route === name);
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  setHostname();
  const main = document.getElementById('maincontent');
  main.replaceChildren(spinner());
  const g = gen;
  try {
    await routes[name].render(main, g);
  } catch (e) {
    if (g !== gen || e.status === 401) return;
    main.replaceChildren(...pageHead(routes[name].title), errorPanel(e));
  }
}

// errorPanel shows a failed page load; a config file with errors (409)
// lists them.
export function errorPanel(e) {
  const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors : null;
  if (errs) {
    return alertBox('error', [
      txt('strong', '', 'The configuration file /etc/config/wanlb has errors; fix them with uci or an editor first:'),
      h('ul', null, errs.map(x => txt('li', '', `${x.field}: ${x.message}` + (x.value ? ` (got '${x.value}')` : '')))),
    ], { id: 'page-error' });
  }
  return alertBox('error', [txt('span', '', e.message + ' '), button('Retry', '', { onclick: route })], { id: 'page-error' });
}

export async function refreshHostname() {
  try {
    const s = await api('GET', 'status');
    setHostname(s.hostname);
  } catch (e) { /* the header keeps its name */ }
}
