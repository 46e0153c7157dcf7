// wanlb web UI: a single-page app in the look of LuCI's bootstrap theme,
// with Omada's labels. Plain ES2020, no framework, no build step.
//
// Every element is built with createElement and textContent: WAN labels,
// entry names and server messages are user text and must never be parsed
// as HTML.
'use strict';
(() => {

// ---------------------------------------------------------------------------
// Constants

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const PROTOS = [['all', 'All'], ['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP'], ['tcpudp', 'TCP+UDP']];
const PORT_PROTOS = ['tcp', 'udp', 'tcpudp'];
const MODES = [['auto', 'Auto'], ['manual', 'Manual'], ['always_online', 'Always Online']];
const STATES = {
  online: 'Online', offline: 'Offline', connecting: 'Connecting',
  disconnecting: 'Disconnecting', disabled: 'Disabled',
};
// The schema's limits (pkg/config/load.go).
const MAX_WEIGHT = 100, MAX_BANDWIDTH = 9999999, MAX_ROUNDS = 100, MAX_LATENCY = 60000;
const POLL_MS = 2000;
const SPAN_S = 600; // the charts show the last 10 minutes
const SVGNS = 'http://www.w3.org/2000/svg';

const routes = {
  'status': { title: 'Status', render: pageStatus },
  'load-balancing': { title: 'Load Balancing', render: pageLoadBalancing },
  'link-backup': { title: 'Link Backup', render: pageLinkBackup },
  'online-detection': { title: 'Online Detection', render: pageOnlineDetection },
  'policy-routing': { title: 'Policy Routing', render: pagePolicyRouting },
  'login': { title: 'Log in', render: pageLogin },
};

const state = {
  csrf: '',        // in memory only; a reload asks /api/session again
  user: '',
  hostname: 'OpenWrt',
  wantRoute: '',   // where to go after logging in
};

// gen counts page renders: async work of a page checks it before touching
// the DOM, and timers of a page that is gone stop.
let gen = 0;
let timers = [];

// ---------------------------------------------------------------------------
// DOM helpers

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, kids);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = true;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
}

function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

const txt = (tag, cls, text, attrs) => h(tag, Object.assign({ class: cls, text }, attrs));

function button(text, cls, attrs) {
  return h('button', Object.assign({ type: 'button', class: 'cbi-button' + (cls ? ' ' + cls : ''), text }, attrs));
}

function input(id, value, attrs) {
  return h('input', Object.assign({ type: 'text', id, name: id, class: 'cbi-input-text', value: value == null ? '' : String(value) }, attrs));
}

function checkbox(id, checked, attrs) {
  return h('input', Object.assign({ type: 'checkbox', id, name: id, class: 'cbi-input-checkbox', checked }, attrs));
}

// A checkbox or radio with its label text beside it.
function labelled(inp, text) {
  return h('label', { class: 'cbx', for: inp.id }, inp, h('span', { text }));
}

function radio(name, id, value, checked, text) {
  return labelled(h('input', { type: 'radio', name, id, value, checked, class: 'cbi-input-radio' }), text);
}

function textarea(id, lines, attrs) {
  return h('textarea', Object.assign({ id, name: id, class: 'cbi-input-textarea', rows: 2, spellcheck: 'false', value: (lines || []).join('\n') }, attrs));
}

// A key/value row: label at the left, field at the right, help under it.
function row(label, field, help, attrs) {
  const target = field instanceof HTMLInputElement || field instanceof HTMLSelectElement || field instanceof HTMLTextAreaElement ? field : null;
  return h('div', Object.assign({ class: 'cbi-value' }, attrs),
    h(target ? 'label' : 'div', { class: 'cbi-value-title', for: target && target.id, text: label }),
    h('div', { class: 'cbi-value-field' }, field,
      [].concat(help || []).map(t => txt('div', 'cbi-value-description', t))));
}

function section(title, ...kids) {
  return h('div', { class: 'cbi-section' }, title ? txt('h3', '', title) : null, ...kids);
}

function pageHead(title, descr) {
  const out = [txt('h2', '', title, { id: 'page-title' })];
  if (descr) out.push(txt('p', 'cbi-map-descr', descr));
  return out;
}

function badge(st, testid) {
  const s = st || 'unknown';
  return txt('span', 'badge state-' + s, STATES[s] || 'Unknown', { 'data-testid': testid, 'data-state': s });
}

function table(cols, rows, emptyText, attrs) {
  const head = h('tr', { class: 'tr table-titles' }, cols.map(c => txt('th', 'th' + (c.cls ? ' ' + c.cls : ''), c.title)));
  const body = rows.length ? rows
    : [h('tr', { class: 'tr placeholder' }, h('td', { class: 'td', colspan: cols.length }, txt('em', '', emptyText)))];
  return h('table', Object.assign({ class: 'table cbi-section-table' }, attrs), h('thead', null, head), h('tbody', null, body));
}

// A table row whose cells carry their column title, so that the phone
// layout can show each cell as "title: value".
function trow(cols, cells, attrs) {
  return h('tr', Object.assign({ class: 'tr' }, attrs),
    cells.map((c, i) => h('td', { class: 'td' + (cols[i].cls ? ' ' + cols[i].cls : ''), 'data-title': cols[i].title }, h('div', { class: 'cell' }, c))));
}

function spinner(text) {
  return h('p', { class: 'spinning', id: 'loading' }, text || 'Loading…');
}

function alertBox(kind, kids, attrs) {
  return h('div', Object.assign({ class: 'alert-message ' + kind, role: 'alert' }, attrs), kids);
}

let noticeTimer;
function notify(text, kind) {
  const area = document.getElementById('notice-area');
  area.replaceChildren(alertBox(kind || 'success', txt('span', '', text), { id: 'notice', 'data-kind': kind || 'success' }));
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => area.replaceChildren(), kind === 'error' ? 10000 : 4000);
}

function setDirty(on) {
  document.getElementById('changes-indicator').hidden = !on;
}

// ---------------------------------------------------------------------------
// Formatting

const wanLabel = w => (w && (w.label || w.name)) || '';

function wanName(cfg, name) {
  const w = cfg.wans.find(x => x.name === name);
  return w ? wanLabel(w) : name;
}

function fmtRate(bps) {
  if (bps == null || !isFinite(bps)) return '—';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
}

function fmtDur(s) {
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return `${d}d ${hh}h ${m}m`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

const fmtMs = v => (v == null || !(v > 0) ? '—' : (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ms');
const fmtPct = v => (v == null || !isFinite(v) ? '—' : (v < 10 && v % 1 ? v.toFixed(1) : Math.round(v)) + ' %');
// lines splits a list field; targets may hold commas (URLs), so only spaces.
const lines = (s, sep = /[\s,]+/) => String(s || '').split(sep).map(x => x.trim()).filter(Boolean);

function effectiveTime(e) {
  const days = normDays(e.weekdays);
  const t = e.start_time || e.stop_time ? `${e.start_time || '00:00'}–${e.stop_time || '24:00'}` : '';
  if (!days.length && !t) return 'All day';
  return [days.length ? days.join(' ') : 'Every day', t].filter(Boolean).join(', ');
}

// normDays reads 'Mon tue Friday' into ['Mon', 'Tue', 'Fri'].
function normDays(s) {
  const out = [];
  for (const f of lines(s)) {
    const d = f.slice(0, 1).toUpperCase() + f.slice(1, 3).toLowerCase();
    if (DAYS.includes(d) && !out.includes(d)) out.push(d);
  }
  return out.sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
}

// ---------------------------------------------------------------------------
// Validation: the same rules and messages as the server (pkg/config).

const V = {
  int(s, min, max) {
    s = String(s).trim();
    if (!/^[+-]?\d+$/.test(s)) return 'must be a whole number';
    const n = Number(s);
    return n < min || n > max ? `must be between ${min} and ${max}` : '';
  },
  seconds(s, min, max) {
    s = String(s).trim();
    if (!/^\+?(\d+\.?\d*|\.\d+)$/.test(s)) return 'must be a number of seconds';
    const n = Number(s);
    return n < min || n > max ? `must be between ${min} and ${max} seconds` : '';
  },
  ipv4(s) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
    return !!m && m.slice(1).every(p => Number(p) <= 255 && (p === '0' || p[0] !== '0'));
  },
  ipv6(s) {
    return /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/:/g) || []).length >= 2 && (s.match(/::/g) || []).length <= 1;
  },
  ip: s => V.ipv4(s) || V.ipv6(s),
  host: s => /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(s),
  ipNum: s => s.split('.').reduce((a, p) => a * 256 + Number(p), 0),

  // An IPv4 address, CIDR or a-b range (ParseAddrMatch).
  addr(s) {
    if (s.includes('-')) {
      const [a, b, more] = s.split('-');
      if (more !== undefined || !V.ipv4(a) || !V.ipv4(b)) return 'must be an IPv4 range like 198.18.0.10-198.18.0.20';
      return V.ipNum(b) < V.ipNum(a) ? 'range ends before it starts' : '';
    }
    if (s.includes('/')) {
      const [a, bits, more] = s.split('/');
      return more === undefined && V.ipv4(a) && /^(\d|[12]\d|3[0-2])$/.test(bits) ? '' : 'must be an IPv4 address, CIDR or range';
    }
    return V.ipv4(s) ? '' : 'must be an IPv4 address, CIDR or range (IPv6 is not supported yet)';
  },

  ports(s) {
    for (const f of lines(s)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(f);
      const a = m && Number(m[1]), b = m && Number(m[2] || m[1]);
      if (!m || a < 1 || b < 1 || a > 65535 || b > 65535 || b < a) return "must be ports 1-65535: '80', '80 443' or '10000-20000'";
    }
    return '';
  },

  // A track target (ParseTarget).
  target(s) {
    if (V.ip(s)) return '';
    const i = s.indexOf('://');
    if (i < 0) return 'must be an IP address or dns://, http://, https://, tcp:// target';
    const scheme = s.slice(0, i), rest = s.slice(i + 3);
    switch (scheme) {
      case 'dns': {
        const j = rest.indexOf('/');
        const server = j < 0 ? rest : rest.slice(0, j), name = j < 0 ? '' : rest.slice(j + 1);
        const m = /^(?:\[([^\]]+)\]|([\d.]+)):(\d+)$/.exec(server);
        const ok = V.ip(server) || (m && V.ip(m[1] || m[2]) && Number(m[3]) <= 65535);
        if (!ok) return 'dns target needs a server IP address: dns://SERVER[/NAME]';
        return name && !V.host(name) ? 'dns query name is not a host name' : '';
      }
      case 'http': case 'https': {
        let u;
        try { u = new URL(s); } catch (e) { u = null; }
        return !u || !u.host || u.username || u.password ? `must be a URL like ${scheme}://host/path` : '';
      }
      case 'tcp': {
        const j = rest.lastIndexOf(':');
        if (j < 0) return 'must be tcp://HOST:PORT';
        const host = rest.slice(0, j).replace(/^\[/, '').replace(/\]$/, ''), port = rest.slice(j + 1);
        if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return 'must be tcp://HOST:PORT';
        return V.ip(host) || V.host(host) ? '' : 'tcp target host is neither an IP address nor a host name';
      }
    }
    return `unknown target type "${scheme}" (IP, dns://, http://, https://, tcp://)`;
  },

  // HH:MM into minutes (parseClock); a string is an error.
  clock(s) {
    const m = /^(\d{1,2}):(\d\d)$/.exec(s);
    if (!m) return 'must be HH:MM';
    const hh = Number(m[1]), mm = Number(m[2]);
    if (mm > 59 || hh > 24 || (hh === 24 && mm !== 0)) return 'must be a time of day between 00:00 and 24:00';
    return hh * 60 + mm;
  },
};

// ---------------------------------------------------------------------------
// Forms: fields registered under a key; errors shown under their field, or
// in the list at the top when no field on screen shows them.

class Form {
  constructor() {
    this.fields = new Map();
    this.notes = [];
    this.box = h('div', { class: 'alert-message error form-errors', role: 'alert', hidden: true });
  }
  add(key, el) { this.fields.set(key, el); return el; }
  clear() {
    for (const el of this.fields.values()) el.classList.remove('cbi-input-invalid');
    this.notes.forEach(n => n.remove());
    this.notes = [];
    this.box.hidden = true;
    this.box.replaceChildren();
  }
  // errors: [{key, message}] from the client, [{field, message, value}]
  // from the server; resolve turns a server field into a key.
  show(errors, resolve) {
    this.clear();
    const loose = [];
    let first = null;
    for (const e of errors) {
      const key = e.key != null ? e.key : e.field && resolve ? resolve(e.field, e) : null;
      const el = key != null ? this.fields.get(key) : null;
      if (el && el.isConnected && el.offsetParent !== null) {
        el.classList.add('cbi-input-invalid');
        const note = txt('div', 'cbi-error', e.message, { 'data-field': key });
        (el.closest('.cbi-value-field, td, .field-group-wrap') || el.parentNode).append(note);
        this.notes.push(note);
        first = first || el;
      } else {
        let msg = e.message || 'invalid';
        if (e.field) msg = e.field + ': ' + msg;
        if (e.value) msg += ` (got '${e.value}')`;
        loose.push(msg);
      }
    }
    this.box.hidden = false;
    this.box.append(txt('strong', '', loose.length ? 'The configuration was not applied:' : 'Some values are invalid; see the highlighted fields.'));
    if (loose.length) this.box.append(h('ul', null, loose.map(m => txt('li', '', m))));
    (first || this.box).scrollIntoView({ block: 'nearest' });
    if (first && first.focus) first.focus({ preventScroll: true });
  }
}

// parseField splits 'rules[2].dest_port' into {list: 'rules', index: 2,
// option: 'dest_port'} and 'wan.weight' into {list: 'wan', option: 'weight'}.
function parseField(f) {
  const m = /^@?([\w-]+?)(?:\[(\d+)\])?(?:\.(\w+))?$/.exec(f || '');
  if (!m) return null;
  return { list: m[1], index: m[2] == null ? null : Number(m[2]), option: m[3] || '' };
}

// resolver for an entry dialog: errors of this entry map to its fields.
function entryResolver(list, id, count) {
  return field => {
    const p = parseField(field);
    if (!p) return null;
    if (!p.option) return p.list; // a bare option name
    if (p.list !== list && p.list + 's' !== list) return null;
    const mine = p.index == null || p.index === id || (id == null && p.index >= count);
    return mine ? p.option : null;
  };
}

// submit runs a write and shows what went wrong; true when it worked.
async function submit(form, btn, fn, resolve) {
  btn.disabled = true;
  btn.classList.add('spinning');
  try {
    await fn();
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors : [{ message: e.message }];
    form.show(errs.length ? errs : [{ message: e.message }], resolve);
    return false;
  } finally {
    btn.disabled = false;
    btn.classList.remove('spinning');
  }
}

// ---------------------------------------------------------------------------
// API

class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || (status ? 'HTTP error ' + status : 'The router did not answer'));
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body, retried) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && state.csrf) opts.headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('api/' + path, opts);
  } catch (e) {
    throw new APIError(0, { error: 'Cannot reach the router: ' + e.message });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error: text.trim().slice(0, 300) }; }
  }
  if (res.status === 401 && path !== 'login' && path !== 'session') {
    sessionLost();
    throw new APIError(401, data);
  }
  // A wrong CSRF token (a session renewed in another tab): fetch the
  // current one and try once more.
  if (res.status === 403 && method !== 'GET' && !retried) {
    try {
      const s = await api('GET', 'session');
      state.csrf = s.csrf_token;
      return api(method, path, body, true);
    } catch (e) { /* fall through */ }
  }
  if (!res.ok) throw new APIError(res.status, data);
  return data || {};
}

const getConfig = () => api('GET', 'config');

function sessionLost() {
  if (!state.csrf) return;
  state.csrf = '';
  const r = currentRoute();
  if (r !== 'login') state.wantRoute = r;
  notify('Your session has expired; please log in again.', 'warning');
  go('login');
}

function setHostname(name) {
  if (name) state.hostname = name;
  document.getElementById('hostname').textContent = state.hostname;
  const r = routes[currentRoute()];
  document.title = `${state.hostname} - ${r ? r.title : ''} - wanlb`;
}

// ---------------------------------------------------------------------------
// Router

function currentRoute() {
  return location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'status';
}

function go(name) {
  if (currentRoute() === name && location.hash) route();
  else location.hash = '#/' + name;
}

function every(ms, fn) {
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

async function route() {
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
function errorPanel(e) {
  const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors : null;
  if (errs) {
    return alertBox('error', [
      txt('strong', '', 'The configuration file /etc/config/wanlb has errors; fix them with uci or an editor first:'),
      h('ul', null, errs.map(x => txt('li', '', `${x.field}: ${x.message}` + (x.value ? ` (got '${x.value}')` : '')))),
    ], { id: 'page-error' });
  }
  return alertBox('error', [txt('span', '', e.message + ' '), button('Retry', '', { onclick: route })], { id: 'page-error' });
}

// ---------------------------------------------------------------------------
// Modal dialogs

let modalKeys = null;

function closeModal() {
  document.getElementById('modal-root').replaceChildren();
  document.body.classList.remove('modal-open');
  if (modalKeys) document.removeEventListener('keydown', modalKeys);
  modalKeys = null;
}

function openModal(box, onEscape) {
  closeModal();
  const overlay = h('div', { class: 'modal-overlay', id: 'modal' }, box);
  document.getElementById('modal-root').append(overlay);
  document.body.classList.add('modal-open');
  modalKeys = ev => { if (ev.key === 'Escape') onEscape(); };
  document.addEventListener('keydown', modalKeys);
  const first = box.querySelector('input:not([type=hidden]), select, textarea, button.cbi-button-apply, button.cbi-button-remove');
  if (first) first.focus();
}

// editDialog shows an entry editor; save() does the write and returns
// whether it worked.
function editDialog(title, form, body, save) {
  const ok = h('button', { type: 'submit', class: 'cbi-button cbi-button-apply', id: 'dialog-save', text: 'Save & Apply' });
  const cancel = button('Dismiss', '', { id: 'dialog-cancel', onclick: closeModal });
  const box = h('form', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'dialog-title', novalidate: true, 'data-testid': 'dialog' },
    txt('h4', '', title, { id: 'dialog-title' }),
    form.box,
    h('div', { class: 'modal-body' }, body),
    h('div', { class: 'modal-actions' }, cancel, ok));
  form.box.id = 'dialog-errors';
  box.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (await save(ok)) closeModal();
  });
  openModal(box, closeModal);
}

function confirmDialog(title, text, okText) {
  return new Promise(resolve => {
    const done = v => { closeModal(); resolve(v); };
    const box = h('div', { class: 'modal modal-small', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'dialog-title', 'data-testid': 'confirm' },
      txt('h4', '', title, { id: 'dialog-title' }),
      txt('p', '', text),
      h('div', { class: 'modal-actions' },
        button('Cancel', '', { id: 'confirm-cancel', onclick: () => done(false) }),
        button(okText || 'Delete', 'cbi-button-remove', { id: 'confirm-ok', onclick: () => done(true) })));
    openModal(box, () => done(false));
  });
}

// ---------------------------------------------------------------------------
// Login

async function pageLogin(main) {
  const user = input('login-username', 'root', { autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', required: true });
  const pass = input('login-password', '', { type: 'password', autocomplete: 'current-password' });
  const err = alertBox('error', null, { id: 'login-error', hidden: true });
  const submitBtn = h('button', { type: 'submit', id: 'login-submit', class: 'cbi-button cbi-button-apply', text: 'Log in' });
  const reset = h('button', { type: 'reset', id: 'login-reset', class: 'cbi-button', text: 'Reset' });
  const form = h('form', { id: 'login-form', class: 'login', novalidate: true },
    txt('h2', '', 'Authorization Required', { id: 'page-title' }),
    err,
    section('',
      txt('p', 'cbi-map-descr', 'Please enter your username and password.'),
      row('Username', user),
      row('Password', pass)),
    h('div', { class: 'cbi-page-actions' }, submitBtn, reset));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.hidden = true;
    submitBtn.disabled = true;
    submitBtn.classList.add('spinning');
    try {
      const r = await api('POST', 'login', { username: user.value.trim(), password: pass.value });
      state.csrf = r.csrf_token;
      state.user = r.username || user.value.trim();
      const to = state.wantRoute && state.wantRoute !== 'login' ? state.wantRoute : 'status';
      state.wantRoute = '';
      document.getElementById('notice-area').replaceChildren();
      location.hash = '#/' + to;
      refreshHostname();
    } catch (e) {
      err.textContent = e.status === 401 ? 'Invalid username and/or password'
        : e.status === 429 ? 'Too many failed logins; try again in a minute'
          : e.message;
      err.dataset.status = String(e.status);
      err.hidden = false;
      pass.value = '';
      pass.focus();
    } finally {
      submitBtn.disabled = false;
      submitBtn.classList.remove('spinning');
    }
  });
  main.replaceChildren(form);
  (user.value ? pass : user).focus();
}

async function refreshHostname() {
  try {
    const s = await api('GET', 'status');
    setHostname(s.hostname);
  } catch (e) { /* the header keeps its name */ }
}

async function logout(ev) {
  ev.preventDefault();
  try { await api('POST', 'logout'); } catch (e) { /* gone anyway */ }
  state.csrf = '';
  state.user = '';
  state.wantRoute = '';
  go('login');
}

// ---------------------------------------------------------------------------
// Status

async function pageStatus(main, g) {
  let [status, history] = await Promise.all([api('GET', 'status'), api('GET', 'history').catch(() => null)]);
  if (g !== gen) return;
  setHostname(status.hostname);
  const problems = h('div', { id: 'status-problems' });
  const cards = h('div', { class: 'wan-grid', id: 'wan-cards' });
  const err = h('div', { id: 'status-error' });
  main.replaceChildren(
    ...pageHead('Status', 'The state of each WAN port: online detection, the share of new connections it receives, and the last 10 minutes of latency, loss and throughput.'),
    err, problems, cards);
  const draw = () => {
    problems.replaceChildren();
    if (status.problems && status.problems.length) {
      problems.append(alertBox('warning', [
        txt('strong', '', 'The configuration on disk was refused; wanlb keeps running with its last good configuration:'),
        h('ul', null, status.problems.map(p => txt('li', '', p)))]));
    }
    const wans = status.wans || [];
    if (!wans.length) {
      cards.replaceChildren(section('', txt('p', 'placeholder', 'No WAN ports are configured. Add a “config wan” section to /etc/config/wanlb.')));
      return;
    }
    // The router's clock, not the browser's: uptimes and chart ends stay
    // right when the two disagree.
    let now = status.updated ? Date.parse(status.updated) / 1000 : NaN;
    if (!isFinite(now)) now = Date.now() / 1000;
    for (const list of Object.values((history && history.wans) || {})) {
      if (list.length) now = Math.max(now, list[list.length - 1].t);
    }
    cards.replaceChildren(...wans.map(w => wanCard(w, history, now)));
  };
  draw();
  let lastHistory = Date.now();
  every(POLL_MS, async () => {
    try {
      const wantHistory = Date.now() - lastHistory >= ((history && history.interval_s) || 5) * 1000;
      const [s, hi] = await Promise.all([api('GET', 'status'), wantHistory ? api('GET', 'history').catch(() => history) : history]);
      if (g !== gen) return;
      if (wantHistory) lastHistory = Date.now();
      status = s;
      history = hi;
      setHostname(s.hostname);
      err.replaceChildren();
      draw();
    } catch (e) {
      if (g !== gen || e.status === 401) return;
      err.replaceChildren(alertBox('error', txt('span', '', e.message)));
    }
  });
}

function wanCard(w, history, now) {
  const n = w.name;
  const since = w.since ? Date.parse(w.since) / 1000 : NaN;
  const role = w.state === 'disabled' ? 'Disabled' : w.standby ? 'Standby (link backup)' : w.active ? 'Active' : 'Not used';
  const kv = [
    ['Role', role, 'role'],
    ['IP Address', w.address || '—', 'address'],
    ['Gateway', w.gateway || (w.device ? 'point-to-point' : '—'), 'gateway'],
    ['Device', w.device || '—', 'device'],
    ['Latency (RTT)', fmtMs(w.rtt_ms), 'rtt'],
    ['Packet Loss', fmtPct(w.loss_pct), 'loss'],
    ['Download', fmtRate(w.rx_bps), 'rx'],
    ['Upload', fmtRate(w.tx_bps), 'tx'],
    ['Share of New Connections', w.share != null ? fmtPct(w.share * 100) : '—', 'share'],
    w.state === 'online'
      ? ['Uptime', isFinite(since) ? fmtDur(now - since) : '—', 'uptime']
      : ['In This State For', isFinite(since) ? fmtDur(now - since) : '—', 'uptime'],
  ];
  const samples = (history && history.wans && history.wans[n]) || [];
  return h('div', { class: 'cbi-section wan-card state-' + (w.state || 'unknown'), 'data-testid': 'wan-card-' + n, 'data-state': w.state || 'unknown' },
    h('div', { class: 'wan-card-head' },
      h('h3', null, txt('span', '', wanLabel(w)), w.label && w.label !== n ? txt('small', '', ' (' + n + ')') : null),
      badge(w.state, 'wan-state-' + n)),
    h('table', { class: 'kv' }, h('tbody', null, kv.map(([k, v, id]) =>
      h('tr', null, txt('th', '', k), txt('td', '', v, { 'data-testid': `wan-${id}-${n}` }))))),
    charts(n, samples, (history && history.interval_s) || 5, now));
}

// charts draws RTT, loss and throughput over the last 10 minutes.
function charts(name, samples, interval, end) {
  const pick = f => samples.map(s => [s.t, f(s)]);
  return h('div', { class: 'charts' },
    chart('rtt', name, 'Latency', pick(s => (s.state === 'offline' || !(s.rtt_ms > 0) ? null : s.rtt_ms)), samples, end, interval, fmtMs),
    chart('loss', name, 'Loss', pick(s => s.loss_pct), samples, end, interval, v => fmtPct(v), 100),
    chart('throughput', name, 'Throughput (down + up)', pick(s => (s.rx_bps || 0) + (s.tx_bps || 0)), samples, end, interval, fmtRate));
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * mag) return m * mag;
  return 10 * mag;
}

function chart(kind, name, title, pts, samples, end, interval, fmt, cap) {
  const W = 300, H = 64, STRIP = 4, top = H - STRIP - 2;
  const start = end - SPAN_S;
  let max = 0;
  for (const [, v] of pts) if (v != null && v > max) max = v;
  const scale = Math.min(niceMax(max), cap || Infinity);
  const x = t => ((t - start) / SPAN_S) * W;
  const y = v => top - (Math.min(v, scale) / scale) * (top - 2) + 1;
  const el = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart-svg', role: 'img', 'aria-label': `${title} of ${name}, last 10 minutes`, 'data-testid': `chart-${kind}-${name}` });
  el.append(svg('line', { x1: 0, x2: W, y1: y(scale / 2), y2: y(scale / 2), class: 'grid' }));
  // The state strip at the bottom: one colour per sample's state.
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i], t0 = Math.max(s.t - interval, start);
    if (s.t < start) continue;
    el.append(svg('rect', { x: x(t0).toFixed(1), y: H - STRIP, width: (Math.max(x(s.t) - x(t0), 0.5) + 0.6).toFixed(1), height: STRIP, class: 'strip state-' + s.state, 'shape-rendering': 'crispEdges' }));
  }
  // Lines break where a value is missing or samples are missing.
  let seg = [], prevT = null, npts = 0;
  const flush = () => {
    if (seg.length === 1) el.append(svg('circle', { cx: seg[0][0], cy: seg[0][1], r: 1.2, class: 'dot' }));
    else if (seg.length > 1) el.append(svg('polyline', { points: seg.map(p => p.join(',')).join(' '), class: 'line', 'vector-effect': 'non-scaling-stroke' }));
    seg = [];
  };
  for (const [t, v] of pts) {
    if (t < start) continue;
    if (v == null || (prevT != null && t - prevT > interval * 2.5)) flush();
    if (v != null) { seg.push([x(t).toFixed(1), y(v).toFixed(1)]); npts++; }
    prevT = t;
  }
  flush();
  const last = pts.length ? pts[pts.length - 1][1] : null;
  return h('div', { class: 'chart chart-' + kind },
    h('div', { class: 'chart-head' }, txt('span', 'chart-title', title), txt('span', 'chart-now', last == null ? '—' : fmt(last))),
    h('div', { class: 'chart-box' }, el, txt('span', 'chart-ymax', fmt(scale)),
      npts ? null : txt('span', 'chart-empty', 'no data yet')),
    h('div', { class: 'chart-foot' }, txt('span', '', '−10 min'), txt('span', '', 'now')));
}

// ---------------------------------------------------------------------------
// Load Balancing

async function pageLoadBalancing(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const gl = cfg.globals;
  const form = new Form();
  form.box.id = 'form-errors';
  const en = form.add('load_balancing', checkbox('lb-enabled', gl.load_balancing));
  const app = form.add('app_optimized', checkbox('lb-app-optimized', gl.app_optimized));
  const bw = form.add('bandwidth_based', checkbox('lb-bandwidth-based', gl.bandwidth_based));
  const bwPorts = h('span', { id: 'lb-bandwidth-ports', class: 'bw-ports' });

  const cols = [
    { title: 'Port' }, { title: 'Load Balancing Weight' }, { title: 'Upstream Bandwidth' },
    { title: 'Downstream Bandwidth' }, { title: 'Expected Share', cls: 'share' },
  ];
  const unit = (inp, u) => h('div', { class: 'input-group' }, inp, txt('span', 'input-unit', u));
  const rows = cfg.wans.map(w => {
    const r = {
      w,
      weight: form.add(w.name + '.weight', input('lb-weight-' + w.name, w.weight, { inputmode: 'numeric', size: 5, 'aria-label': `Load Balancing Weight of ${wanLabel(w)}` })),
      up: form.add(w.name + '.upstream', input('lb-upstream-' + w.name, w.upstream, { inputmode: 'numeric', size: 9, 'aria-label': `Upstream Bandwidth of ${wanLabel(w)}` })),
      down: form.add(w.name + '.downstream', input('lb-downstream-' + w.name, w.downstream, { inputmode: 'numeric', size: 9, 'aria-label': `Downstream Bandwidth of ${wanLabel(w)}` })),
      share: txt('span', '', '', { 'data-testid': 'lb-share-' + w.name }),
    };
    r.tr = trow(cols, [
      [txt('strong', '', wanLabel(w)), w.label && w.label !== w.name ? txt('small', 'muted', ' (' + w.name + ')') : null,
        w.enabled ? null : txt('span', 'label', 'disabled')],
      r.weight, unit(r.up, 'Kbps'), unit(r.down, 'Kbps'), r.share,
    ], { 'data-testid': 'lb-wan-' + w.name, class: 'tr' + (w.enabled ? '' : ' disabled') });
    return r;
  });

  const update = () => {
    const num = s => (Number(s) > 0 ? Number(s) : 0);
    const active = rows.filter(r => r.w.enabled);
    const vals = new Map(active.map(r => [r, bw.checked ? num(r.down.value) : num(r.weight.value)]));
    if (!en.checked && active.length) active.forEach((r, i) => vals.set(r, i === 0 ? 1 : 0));
    const sum = [...vals.values()].reduce((a, b) => a + b, 0);
    for (const r of rows) r.share.textContent = !r.w.enabled ? '—' : sum > 0 ? fmtPct((vals.get(r) / sum) * 100) : '—';
    const ports = rows.filter(r => num(r.down.value) > 0).map(r => wanLabel(r.w));
    bwPorts.textContent = ports.length ? ports.join(', ') : 'none: set the Downstream Bandwidth of the WAN ports below';
    bwPorts.classList.toggle('muted', !bw.checked);
  };
  update();

  const validate = () => {
    const errs = [];
    for (const r of rows) {
      const n = r.w.name;
      for (const [key, el, max] of [['weight', r.weight, MAX_WEIGHT], ['upstream', r.up, MAX_BANDWIDTH], ['downstream', r.down, MAX_BANDWIDTH]]) {
        if (key !== 'weight' && el.value.trim() === '') el.value = '0';
        const m = V.int(el.value, key === 'weight' ? 1 : 0, max);
        if (m) errs.push({ key: `${n}.${key}`, message: m });
      }
      if (bw.checked && r.w.enabled && !V.int(r.down.value, 0, MAX_BANDWIDTH) && Number(r.down.value) === 0) {
        errs.push({ key: n + '.downstream', message: 'must be set when Bandwidth Based Balance Routing is on (shares follow each WAN\'s downstream)' });
      }
    }
    return errs;
  };
  const resolve = field => {
    const p = parseField(field);
    if (!p) return null;
    if (p.list === 'globals' || !p.option) return p.option || p.list;
    const w = p.list === 'wans' && p.index != null ? cfg.wans[p.index] : cfg.wans.find(x => x.name === p.list);
    return w ? `${w.name}.${p.option}` : null;
  };

  const saveBtn = button('Save & Apply', 'cbi-button-apply', { id: 'save-apply' });
  const resetBtn = button('Reset', 'cbi-button-reset', { id: 'reset', onclick: () => route() });
  saveBtn.addEventListener('click', async () => {
    const errs = validate();
    if (errs.length) { form.show(errs); return; }
    form.clear();
    const body = {
      load_balancing: en.checked, app_optimized: app.checked, bandwidth_based: bw.checked,
      wans: rows.map(r => ({ name: r.w.name, weight: Number(r.weight.value), upstream: Number(r.up.value), downstream: Number(r.down.value) })),
    };
    if (await submit(form, saveBtn, () => api('PUT', 'config/load_balancing', body), resolve)) {
      notify('Configuration has been applied.');
      route();
    }
  });

  const wrap = h('div', { class: 'cbi-map', id: 'load-balancing-form' },
    ...pageHead('Load Balancing', 'Spread new connections over the WAN ports. Each connection keeps the WAN port it started on.'),
    form.box,
    section('General',
      row('Enable Load Balancing', en, 'On: new connections are shared among all online WAN ports. Off: the first usable WAN port carries all traffic; the others serve Link Backup and Policy Routing.')),
    section('Basic Settings',
      row('Enable Application Optimized Routing', app, 'Makes multi-connected applications work properly: connections between the same source and destination addresses always use the same WAN port (online banking, games, video calls that check your address).'),
      row('Enable Bandwidth Based Balance Routing on port(s)', h('div', { class: 'field-group-wrap' }, bw, ' ', bwPorts), [
        'The WAN port traffic ratio will be equal to the preset bandwidth ratio of each WAN port: with a downstream bandwidth ratio of 2:1 the WAN ports carry about 2:1 of the traffic.',
        'Configure the bandwidth of each WAN port first: every enabled WAN port needs its Downstream Bandwidth. When off, the Load Balancing Weight sets the ratio.',
      ])),
    section('WAN Ports',
      txt('p', 'cbi-section-descr', 'Load Balancing Weight: 1-100, the share of new connections among the online WAN ports. Upstream and Downstream Bandwidth: 0-9999999 Kbps (0: not set).'),
      table(cols, rows.map(r => r.tr), 'No WAN ports are configured.', { id: 'lb-wans' }),
      h('div', { class: 'cbi-section-note', 'data-testid': 'lb-note' },
        txt('strong', '', 'Note: '),
        txt('span', '', 'Load balancing works per connection, not per packet. A single download or speed test uses one WAN port and is never faster than that port; many connections together (several downloads, several devices) use all WAN ports, so the total bandwidth is their sum.'))),
    h('div', { class: 'cbi-page-actions' }, saveBtn, resetBtn));
  wrap.addEventListener('input', () => { update(); setDirty(true); form.clear(); });
  wrap.addEventListener('change', () => { update(); setDirty(true); });
  main.replaceChildren(wrap);
}

// ---------------------------------------------------------------------------
// Link Backup

function wanChecks(cfg, prefix, selected, label) {
  return h('div', { class: 'field-group', id: prefix, role: 'group', 'aria-label': label },
    cfg.wans.length ? cfg.wans.map(w => labelled(
      checkbox(prefix + '-' + w.name, (selected || []).includes(w.name), { value: w.name }),
      wanLabel(w) + (w.enabled ? '' : ' (disabled)')))
      : txt('em', '', 'No WAN ports are configured.'));
}

const checked = group => [...group.querySelectorAll('input:checked')].map(i => i.value);

async function pageLinkBackup(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const cols = [
    { title: 'ID', cls: 'id' }, { title: 'Name' }, { title: 'Primary WAN' }, { title: 'Backup WAN' }, { title: 'Mode' },
    { title: 'Effective Time' }, { title: 'Status' }, { title: 'Operation', cls: 'ops' },
  ];
  const names = list => (list || []).map(n => wanName(cfg, n)).join(', ') || '—';
  const rows = cfg.link_backups.map(e => trow(cols, [
    String(e.id + 1),
    e.name || '—',
    names(e.primary),
    names(e.backup),
    e.mode === 'timing' ? 'Timing'
      : [txt('span', '', 'Failover'), txt('small', 'muted d-block', (e.trigger === 'all' ? 'all primary WANs fail' : 'any primary WAN fails') + (e.revert ? '; reverts' : '; stays on backup'))],
    effectiveTime(e),
    txt('span', 'label ' + (e.enabled ? 'success' : ''), e.enabled ? 'Enabled' : 'Disabled', { 'data-testid': 'lb-status-' + e.id }),
    h('div', { class: 'btns' },
      button('Edit', 'cbi-button-edit', { id: 'lb-edit-' + e.id, onclick: () => editLinkBackup(cfg, e.id) }),
      button('Delete', 'cbi-button-remove', { id: 'lb-delete-' + e.id, onclick: () => del('link_backups', e.id, `Delete link backup entry ${e.id + 1}${e.name ? ' “' + e.name + '”' : ''}?`) })),
  ], { 'data-testid': 'lb-row-' + e.id, class: 'tr' + (e.enabled ? '' : ' disabled') }));
  main.replaceChildren(
    ...pageHead('Link Backup', 'Keep backup WAN ports in reserve: they carry traffic only when the primary WAN ports fail (Failover) or during a set time (Timing). Outside its effective time an entry does nothing and its backup WANs are ordinary WAN ports.'),
    section('Link Backup Rule List',
      table(cols, rows, 'This section contains no values yet', { id: 'lb-table' }),
      h('div', { class: 'cbi-section-create' }, button('Add', 'cbi-button-add', { id: 'lb-add', onclick: () => editLinkBackup(cfg, null) }))));
}

async function del(list, id, question) {
  if (!(await confirmDialog('Delete', question))) return;
  try {
    await api('DELETE', `config/${list}/${id}`);
    notify('Deleted; configuration has been applied.');
  } catch (e) {
    if (e.status === 401) return;
    const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors.map(x => (x.field ? x.field + ': ' : '') + x.message).join('; ') : '';
    notify('Not deleted: ' + (errs || e.message), 'error');
  }
  route();
}

function editLinkBackup(cfg, id) {
  const e = id == null
    ? { enabled: true, name: '', primary: [], backup: [], mode: 'failover', trigger: 'any', revert: true, weekdays: '', start_time: '', stop_time: '' }
    : cfg.link_backups[id];
  const form = new Form();
  const name = form.add('name', input('lbe-name', e.name, { maxlength: 64 }));
  const enabled = form.add('enabled', checkbox('lbe-enabled', e.enabled));
  const primary = form.add('primary', wanChecks(cfg, 'lbe-primary', e.primary, 'Primary WAN'));
  const backup = form.add('backup', wanChecks(cfg, 'lbe-backup', e.backup, 'Backup WAN'));
  const modeGroup = form.add('mode', h('div', { class: 'field-group', role: 'radiogroup', 'aria-label': 'Mode' },
    radio('lbe-mode', 'lbe-mode-timing', 'timing', e.mode === 'timing', 'Timing'),
    radio('lbe-mode', 'lbe-mode-failover', 'failover', e.mode !== 'timing', 'Failover')));
  const trigger = form.add('trigger', h('div', { class: 'field-group vertical', role: 'radiogroup', 'aria-label': 'Failover condition' },
    radio('lbe-trigger', 'lbe-trigger-any', 'any', e.trigger !== 'all', 'Enable backup link when any primary WAN fails'),
    radio('lbe-trigger', 'lbe-trigger-all', 'all', e.trigger === 'all', 'Enable backup link when all primary WANs fail')));
  const revert = form.add('revert', checkbox('lbe-revert', e.revert));
  const days = normDays(e.weekdays);
  const allDay = checkbox('lbe-allday', !days.length && !e.start_time && !e.stop_time);
  const dayGroup = form.add('weekdays', h('div', { class: 'field-group', id: 'lbe-days', role: 'group', 'aria-label': 'Days' },
    DAYS.map(d => labelled(checkbox('lbe-day-' + d, days.includes(d), { value: d }), d))));
  const start = form.add('start_time', input('lbe-start', e.start_time, { placeholder: 'HH:MM', size: 6, maxlength: 5 }));
  const stop = form.add('stop_time', input('lbe-stop', e.stop_time, { placeholder: 'HH:MM', size: 6, maxlength: 5 }));

  const failoverRows = [
    row('Failover Condition', trigger),
    row('Revert to primary when it recovers', revert, 'Off: once the backup WAN took over it keeps the traffic until it fails itself.'),
  ];
  failoverRows.forEach(r => r.classList.add('lbe-failover'));
  const timeRows = [
    row('Days', dayGroup, 'None checked: every day.'),
    row('Start Time', start, 'HH:MM, router local time. Both empty: the whole day.'),
    row('Stop Time', stop, 'A stop time before the start time runs over midnight: Fri 22:00-06:00 is Friday night until Saturday 06:00.'),
  ];
  const modeHelp = txt('div', 'cbi-value-description');
  const sync = () => {
    const timing = modeGroup.querySelector('input:checked').value === 'timing';
    failoverRows.forEach(r => { r.hidden = timing; });
    timeRows.forEach(r => { r.hidden = allDay.checked; });
    modeHelp.textContent = timing
      ? 'Timing: inside the effective time the backup WANs carry the primary WANs\' traffic, as long as a backup WAN is online.'
      : 'Failover: the backup WANs carry traffic while the primary WANs fail, together with the primary WANs that still work.';
  };
  const modeRow = row('Mode', modeGroup);
  modeRow.querySelector('.cbi-value-field').append(modeHelp);

  const body = h('div', { class: 'cbi-section-node', id: 'lbe-form' },
    row('Name', name),
    row('Status', labelled(enabled, 'Enable')),
    row('Primary WAN', primary, 'The WAN ports this entry protects.'),
    row('Backup WAN', backup, 'Held in reserve; a WAN port cannot be both primary and backup.'),
    modeRow,
    failoverRows,
    row('Effective Time', labelled(allDay, 'All day'), 'All day: the entry is always in effect. Otherwise choose days and a time range.'),
    timeRows);
  body.addEventListener('change', sync);
  sync();

  const validate = () => {
    const errs = [];
    const p = checked(primary), b = checked(backup);
    if (!p.length) errs.push({ key: 'primary', message: 'needs at least one primary WAN' });
    if (!b.length) errs.push({ key: 'backup', message: 'needs at least one backup WAN' });
    const both = b.filter(x => p.includes(x));
    if (both.length) errs.push({ key: 'backup', message: `${both.map(x => wanName(cfg, x)).join(', ')}: is also a primary WAN of this entry` });
    if (!allDay.checked) {
      const s = start.value.trim(), t = stop.value.trim();
      const sm = s ? V.clock(s) : null, tm = t ? V.clock(t) : null;
      if (typeof sm === 'string' || sm === 1440) errs.push({ key: 'start_time', message: 'must be HH:MM between 00:00 and 23:59' });
      if (typeof tm === 'string') errs.push({ key: 'stop_time', message: tm });
      if (s && t && sm === tm) errs.push({ key: 'stop_time', message: 'equals the start time; check All day instead' });
    }
    return errs;
  };
  const save = async btn => {
    const errs = validate();
    if (errs.length) { form.show(errs); return false; }
    const entry = {
      enabled: enabled.checked, name: name.value.trim(),
      primary: checked(primary), backup: checked(backup),
      mode: modeGroup.querySelector('input:checked').value,
      trigger: trigger.querySelector('input:checked').value,
      revert: revert.checked,
      weekdays: allDay.checked ? '' : checked(dayGroup).join(' '),
      start_time: allDay.checked ? '' : start.value.trim(),
      stop_time: allDay.checked ? '' : stop.value.trim(),
    };
    const ok = await submit(form, btn,
      () => (id == null ? api('POST', 'config/link_backups', entry) : api('PUT', 'config/link_backups/' + id, entry)),
      entryResolver('link_backups', id, cfg.link_backups.length));
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(id == null ? 'Add Link Backup Entry' : `Edit Link Backup Entry ${id + 1}`, form, body, save);
}

// ---------------------------------------------------------------------------
// Online Detection

// Manual targets by type; the track list keeps them as IP, dns://,
// http(s):// and tcp:// strings.
const TARGETS = [
  { key: 'ping', label: 'Ping', help: 'IP addresses, one per line: each gets an ICMP echo.', prefix: '', placeholder: '1.1.1.1\n8.8.8.8' },
  { key: 'dns', label: 'DNS Lookup', help: 'DNS servers, one per line: SERVER or SERVER/NAME (an A query for NAME, the root by default). Any answer counts.', prefix: 'dns://', placeholder: '9.9.9.9\n1.0.0.1/example.com' },
  { key: 'http', label: 'HTTP(S) URL', help: 'URLs, one per line: http:// or https://; a 2xx or 3xx answer counts. Use IP addresses: host names are resolved by the router, not through this WAN.', prefix: '', placeholder: 'http://198.18.0.1/health' },
  { key: 'tcp', label: 'TCP', help: 'HOST:PORT, one per line: an established connection counts.', prefix: 'tcp://', placeholder: '1.1.1.1:443' },
];

function splitTrack(track) {
  const out = { ping: [], dns: [], http: [], tcp: [] };
  for (const t of track || []) {
    if (t.startsWith('dns://')) out.dns.push(t.slice(6));
    else if (t.startsWith('tcp://')) out.tcp.push(t.slice(6));
    else if (/^https?:\/\//.test(t)) out.http.push(t);
    else out.ping.push(t);
  }
  return out;
}

const targetKind = t => (t.startsWith('dns://') ? 'dns' : t.startsWith('tcp://') ? 'tcp' : /^[a-z]+:\/\//.test(t) ? 'http' : 'ping');

function modeText(w) {
  return (MODES.find(m => m[0] === w.detection) || [0, w.detection])[1];
}

function targetsText(w) {
  if (w.detection === 'always_online') return 'none: online while the link is up';
  if (w.detection === 'auto') return 'built in: ping 1.1.1.1, 8.8.8.8; DNS 9.9.9.9, 1.0.0.1';
  return (w.track || []).join(', ') || '—';
}

async function pageOnlineDetection(main, g) {
  const [cfg, status] = await Promise.all([getConfig(), api('GET', 'status').catch(() => ({ wans: [] }))]);
  if (g !== gen) return;
  const cols = [{ title: 'Port' }, { title: 'Port Status' }, { title: 'Mode' }, { title: 'Targets' }, { title: 'Timing' }, { title: 'Operation', cls: 'ops' }];
  const cells = new Map();
  const byName = st => new Map((st.wans || []).map(w => [w.name, w]));
  let stat = byName(status);
  const rows = cfg.wans.map(w => {
    const cell = h('span', null, badge((stat.get(w.name) || {}).state, 'od-status-' + w.name));
    cells.set(w.name, cell);
    return trow(cols, [
      [txt('strong', '', wanLabel(w)), w.label && w.label !== w.name ? txt('small', 'muted', ' (' + w.name + ')') : null],
      cell,
      txt('span', '', modeText(w), { 'data-testid': 'od-mode-' + w.name }),
      txt('span', 'targets', targetsText(w)),
      w.detection === 'always_online' ? '—' : `every ${w.interval} s; offline after ${w.down}, online after ${w.up} rounds`,
      button('Edit', 'cbi-button-edit', { id: 'od-edit-' + w.name, onclick: () => editDetection(cfg, w.name) }),
    ], { 'data-testid': 'od-row-' + w.name });
  });
  main.replaceChildren(
    ...pageHead('Online Detection', 'How wanlb decides that a WAN port is online: probes sent through each port every interval. A port goes offline after the set number of failed rounds in a row and comes back after the set number of good rounds.'),
    section('Online Detection', table(cols, rows, 'No WAN ports are configured.', { id: 'od-table' })));
  every(POLL_MS, async () => {
    try {
      stat = byName(await api('GET', 'status'));
      if (g !== gen) return;
      for (const [n, cell] of cells) cell.replaceChildren(badge((stat.get(n) || {}).state, 'od-status-' + n));
    } catch (e) { /* keep the last states */ }
  });
}

function editDetection(cfg, name) {
  const w = cfg.wans.find(x => x.name === name);
  const form = new Form();
  const modeGroup = form.add('detection', h('div', { class: 'field-group', role: 'radiogroup', 'aria-label': 'Mode' },
    MODES.map(([v, l]) => radio('od-mode', 'od-mode-' + v, v, w.detection === v, l))));
  const split = splitTrack(w.track);
  const boxes = {};
  const manualRows = TARGETS.map(t => {
    boxes[t.key] = form.add('track.' + t.key, textarea('od-' + t.key, split[t.key], { placeholder: t.placeholder }));
    return row(t.label, boxes[t.key], t.help, { class: 'cbi-value od-manual' });
  });
  const inputs = {};
  const num = (key, label, help, mode) => {
    inputs[key] = form.add(key, input('od-' + key.replace('_', '-'), w[key], { size: 8, inputmode: mode }));
    return row(label, inputs[key], help);
  };
  const probeRows = [
    num('reliability', 'Reliability', 'Targets that must answer for a round to count as good; in Manual mode at most the number of targets.', 'numeric'),
    num('interval', 'Interval (s)', 'Seconds between rounds, 0.2-3600 (decimals allowed).', 'decimal'),
    num('timeout', 'Timeout (s)', 'Seconds a probe may take, 0.1-60.', 'decimal'),
    num('down', 'Down Rounds', 'Failed rounds in a row before the port goes offline, 1-100.', 'numeric'),
    num('up', 'Up Rounds', 'Good rounds in a row before the port is online again, 1-100.', 'numeric'),
    num('max_latency', 'Max Latency (ms)', 'A round slower than this counts as failed; 0-60000, 0: off.', 'numeric'),
    num('max_loss', 'Max Loss (%)', 'Loss over the last 20 rounds above this takes the port offline; 0-100, 0: off.', 'numeric'),
  ];
  const val = key => inputs[key].value.trim();
  const estimate = txt('p', 'cbi-section-descr', '', { id: 'od-estimate' });
  const modeHelp = txt('div', 'cbi-value-description');
  const modeRow = row('Mode', modeGroup);
  modeRow.querySelector('.cbi-value-field').append(modeHelp);
  const mode = () => modeGroup.querySelector('input:checked').value;
  const sync = () => {
    const m = mode();
    manualRows.forEach(r => { r.hidden = m !== 'manual'; });
    probeRows.forEach(r => { r.hidden = m === 'always_online'; });
    estimate.hidden = m === 'always_online';
    modeHelp.textContent = {
      auto: 'Auto: built-in targets from three operators (ping 1.1.1.1 and 8.8.8.8, DNS 9.9.9.9 and 1.0.0.1).',
      manual: 'Manual: your own targets below, of any of the four types. Several targets are better than one: a single lost packet then never fails a round.',
      always_online: 'Always Online: no probes; the port is online while its link is up.',
    }[m];
    const [i, t, d, u] = ['interval', 'timeout', 'down', 'up'].map(k => Number(val(k)));
    estimate.textContent = i > 0 && t > 0 && d > 0 && u > 0
      ? `A dead line is noticed within ${+(d * i + t).toFixed(1)} s; a recovered one is used again after ${+(u * i).toFixed(1)} s.` : '';
  };
  const body = h('div', { class: 'cbi-section-node', id: 'od-form' }, modeRow, manualRows, probeRows, estimate);
  body.addEventListener('input', sync);
  body.addEventListener('change', sync);
  sync();

  const track = () => {
    const out = [];
    for (const t of TARGETS) {
      for (const l of lines(boxes[t.key].value, /\s+/)) out.push(t.prefix && !l.startsWith(t.prefix) ? t.prefix + l : l);
    }
    return out;
  };
  const validate = m => {
    const errs = [];
    const tr = track();
    for (const t of tr) {
      const msg = V.target(t);
      if (msg) errs.push({ key: 'track.' + targetKind(t), message: `${t}: ${msg}` });
    }
    if (m === 'manual' && !tr.length) errs.push({ key: 'track.ping', message: 'Manual mode needs at least one target' });
    const limits = {
      reliability: [1, 100], down: [1, MAX_ROUNDS], up: [1, MAX_ROUNDS], max_latency: [0, MAX_LATENCY], max_loss: [0, 100],
    };
    for (const key of Object.keys(inputs)) {
      const msg = key === 'interval' ? V.seconds(val(key), 0.2, 3600)
        : key === 'timeout' ? V.seconds(val(key), 0.1, 60) : V.int(val(key), ...limits[key]);
      if (msg) errs.push({ key, message: msg });
    }
    if (m === 'manual' && tr.length && Number(val('reliability')) > tr.length) {
      errs.push({ key: 'reliability', message: `is more than the ${tr.length} targets` });
    }
    return errs;
  };
  // Server errors of this WAN go to their fields; a track error names the
  // target in its value, which says which box it belongs to.
  const resolve = (f, e) => {
    const p = parseField(f);
    if (!p) return null;
    const target = p.list === 'wans' && p.index != null ? (cfg.wans[p.index] || {}).name : p.list;
    const opt = p.option || p.list;
    if (p.option && target !== name) return null;
    return opt === 'track' ? 'track.' + targetKind((e && e.value) || '') : opt;
  };
  const save = async btn => {
    const m = mode();
    const errs = validate(m);
    if (errs.length) { form.show(errs); return false; }
    const mine = { name, detection: m, track: track() };
    for (const key of Object.keys(inputs)) mine[key] = Number(val(key));
    const keep = x => ({
      name: x.name, detection: x.detection, track: x.track || [], reliability: x.reliability, interval: x.interval,
      timeout: x.timeout, down: x.down, up: x.up, max_latency: x.max_latency, max_loss: x.max_loss,
    });
    const wans = cfg.wans.map(x => (x.name === name ? mine : keep(x)));
    const ok = await submit(form, btn, () => api('PUT', 'config/online_detection', { wans }), resolve);
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(`Online Detection: ${wanLabel(w)}`, form, body, save);
}

// ---------------------------------------------------------------------------
// Policy Routing

function protoText(p) {
  return (PROTOS.find(x => x[0] === p) || [0, p])[1];
}

function matchText(ips, ports) {
  const parts = [];
  parts.push((ips || []).length ? ips.join(', ') : 'Any');
  if (ports) parts.push('port ' + ports);
  return parts.join(' : ');
}

async function pagePolicyRouting(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const cols = [
    { title: 'ID', cls: 'id' }, { title: 'Name' }, { title: 'Status' }, { title: 'Protocols' }, { title: 'Source' },
    { title: 'Destination' }, { title: 'Interface' }, { title: 'Sort', cls: 'sort' }, { title: 'Operation', cls: 'ops' },
  ];
  const n = cfg.rules.length;
  const rows = cfg.rules.map(r => trow(cols, [
    String(r.id + 1),
    r.name || '—',
    txt('span', 'label ' + (r.enabled ? 'success' : ''), r.enabled ? 'Enabled' : 'Disabled', { 'data-testid': 'pr-status-' + r.id }),
    protoText(r.proto),
    matchText(r.src_ip, r.src_port),
    matchText(r.dest_ip, r.dest_port),
    [txt('span', '', (r.wan || []).map(x => wanName(cfg, x)).join(', ') || '—'),
      txt('small', 'muted d-block', r.fallback ? 'other WANs if down' : 'dropped if down')],
    h('div', { class: 'btns' },
      button('▲', 'cbi-button-up', { id: 'pr-up-' + r.id, title: 'Move up', 'aria-label': 'Move up', disabled: r.id === 0, onclick: () => move(r.id, r.id - 1) }),
      button('▼', 'cbi-button-down', { id: 'pr-down-' + r.id, title: 'Move down', 'aria-label': 'Move down', disabled: r.id === n - 1, onclick: () => move(r.id, r.id + 1) })),
    h('div', { class: 'btns' },
      button('Edit', 'cbi-button-edit', { id: 'pr-edit-' + r.id, onclick: () => editRule(cfg, r.id) }),
      button('Delete', 'cbi-button-remove', { id: 'pr-delete-' + r.id, onclick: () => del('rules', r.id, `Delete policy routing rule ${r.id + 1}${r.name ? ' “' + r.name + '”' : ''}?`) })),
  ], { 'data-testid': 'pr-row-' + r.id, class: 'tr' + (r.enabled ? '' : ' disabled') }));
  main.replaceChildren(
    ...pageHead('Policy Routing', 'Send chosen traffic through chosen WAN ports. Rules are tried from the top; the first rule that matches a new connection decides which WAN ports it may use (balanced by weight). Traffic no rule matches is load balanced over all WAN ports.'),
    section('Policy Routing Rule List',
      table(cols, rows, 'This section contains no values yet', { id: 'pr-table' }),
      h('div', { class: 'cbi-section-create' }, button('Add', 'cbi-button-add', { id: 'pr-add', onclick: () => editRule(cfg, null) }))));
}

async function move(id, to) {
  try {
    await api('POST', `config/rules/${id}/move`, { to });
    notify('Configuration has been applied.');
  } catch (e) {
    if (e.status === 401) return;
    notify('Not moved: ' + e.message, 'error');
  }
  route();
}

function editRule(cfg, id) {
  const r = id == null
    ? { enabled: true, name: '', proto: 'all', src_ip: [], dest_ip: [], src_port: '', dest_port: '', wan: [], fallback: true }
    : cfg.rules[id];
  const form = new Form();
  const name = form.add('name', input('pre-name', r.name, { maxlength: 64 }));
  const enabled = form.add('enabled', checkbox('pre-enabled', r.enabled));
  const proto = form.add('proto', h('select', { id: 'pre-proto', name: 'pre-proto', class: 'cbi-input-select' },
    PROTOS.map(([v, l]) => h('option', { value: v, text: l, selected: r.proto === v }))));
  const srcIP = form.add('src_ip', textarea('pre-src-ip', r.src_ip, { placeholder: 'Any' }));
  const srcPort = form.add('src_port', input('pre-src-port', r.src_port, { placeholder: 'Any' }));
  const destIP = form.add('dest_ip', textarea('pre-dest-ip', r.dest_ip, { placeholder: 'Any' }));
  const destPort = form.add('dest_port', input('pre-dest-port', r.dest_port, { placeholder: 'Any' }));
  const wans = form.add('wan', wanChecks(cfg, 'pre-wan', r.wan, 'Interface'));
  const fallback = form.add('fallback', checkbox('pre-fallback', r.fallback));
  const ipHelp = 'One per line: an IPv4 address (192.168.1.10), a network (192.168.1.0/24) or a range (192.168.1.10-192.168.1.20). Empty: any.';
  const portHelp = "Ports 1-65535: '80', '80 443' or '10000-20000'. Empty: any. Only with TCP, UDP or TCP+UDP.";
  const body = h('div', { class: 'cbi-section-node', id: 'pre-form' },
    row('Name', name),
    row('Status', labelled(enabled, 'Enable')),
    row('Protocols', proto),
    row('Source IP', srcIP, ipHelp),
    row('Source Port', srcPort, portHelp),
    row('Destination IP', destIP, ipHelp),
    row('Destination Port', destPort, portHelp),
    row('Interface', wans, 'The WAN ports this traffic may use; with several, new connections are balanced among them by weight.'),
    row('Use the other WAN port if the current one is down', fallback, 'Off: the traffic is dropped while none of its WAN ports is online.'));
  const validate = () => {
    const errs = [];
    for (const [key, el] of [['src_ip', srcIP], ['dest_ip', destIP]]) {
      for (const a of lines(el.value)) {
        const m = V.addr(a);
        if (m) errs.push({ key, message: `${a}: ${m}` });
      }
    }
    for (const [key, el] of [['src_port', srcPort], ['dest_port', destPort]]) {
      const m = V.ports(el.value);
      if (m) errs.push({ key, message: m });
    }
    if ((srcPort.value.trim() || destPort.value.trim()) && !PORT_PROTOS.includes(proto.value)) {
      errs.push({ key: 'proto', message: 'ports need protocol TCP, UDP or TCP+UDP' });
    }
    if (!checked(wans).length) errs.push({ key: 'wan', message: 'needs at least one WAN' });
    return errs;
  };
  const save = async btn => {
    const errs = validate();
    if (errs.length) { form.show(errs); return false; }
    const rule = {
      enabled: enabled.checked, name: name.value.trim(), proto: proto.value,
      src_ip: lines(srcIP.value), dest_ip: lines(destIP.value),
      src_port: lines(srcPort.value).join(' '), dest_port: lines(destPort.value).join(' '),
      wan: checked(wans), fallback: fallback.checked,
    };
    const ok = await submit(form, btn,
      () => (id == null ? api('POST', 'config/rules', rule) : api('PUT', 'config/rules/' + id, rule)),
      entryResolver('rules', id, cfg.rules.length));
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(id == null ? 'Add Policy Routing Rule' : `Edit Policy Routing Rule ${id + 1}`, form, body, save);
}

// ---------------------------------------------------------------------------
// Start

async function boot() {
  const header = document.getElementById('header');
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = header.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  try {
    const s = await api('GET', 'session');
    state.csrf = s.csrf_token || '';
    state.user = s.username || '';
  } catch (e) { /* not logged in */ }
  if (state.csrf) refreshHostname();
  route();
}

boot();
})();
