// DOM helpers. Every element is built with createElement and textContent:
// WAN labels, entry names and server messages are user text and must never
// be parsed as HTML.

export const STATES = {
  online: 'Online', offline: 'Offline', connecting: 'Connecting',
  disconnecting: 'Disconnecting', disabled: 'Disabled',
};

export const SVGNS = 'http://www.w3.org/2000/svg';

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, kids);
  return el;
}

export function setAttrs(el, attrs) {
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

export function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

export function svg(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

export const txt = (tag, cls, text, attrs) => h(tag, Object.assign({ class: cls, text }, attrs));

export function button(text, cls, attrs) {
  return h('button', Object.assign({ type: 'button', class: 'cbi-button' + (cls ? ' ' + cls : ''), text }, attrs));
}

export function input(id, value, attrs) {
  return h('input', Object.assign({ type: 'text', id, name: id, class: 'cbi-input-text', value: value == null ? '' : String(value) }, attrs));
}

export function checkbox(id, checked, attrs) {
  return h('input', Object.assign({ type: 'checkbox', id, name: id, class: 'cbi-input-checkbox', checked }, attrs));
}

// A checkbox or radio with its label text beside it.
export function labelled(inp, text) {
  return h('label', { class: 'cbx', for: inp.id }, inp, h('span', { text }));
}

export function radio(name, id, value, checked, text) {
  return labelled(h('input', { type: 'radio', name, id, value, checked, class: 'cbi-input-radio' }), text);
}

export function textarea(id, lines, attrs) {
  return h('textarea', Object.assign({ id, name: id, class: 'cbi-input-textarea', rows: 2, spellcheck: 'false', value: (lines || []).join('\n') }, attrs));
}

// A key/value row: label at the left, field at the right, help under it.
export function row(label, field, help, attrs) {
  const target = field instanceof HTMLInputElement || field instanceof HTMLSelectElement || field instanceof HTMLTextAreaElement ? field : null;
  return h('div', Object.assign({ class: 'cbi-value' }, attrs),
    h(target ? 'label' : 'div', { class: 'cbi-value-title', for: target && target.id, text: label }),
    h('div', { class: 'cbi-value-field' }, field,
      [].concat(help || []).map(t => txt('div', 'cbi-value-description', t))));
}

export function section(title, ...kids) {
  return h('div', { class: 'cbi-section' }, title ? txt('h3', '', title) : null, ...kids);
}

export function pageHead(title, descr) {
  const out = [txt('h2', '', title, { id: 'page-title' })];
  if (descr) out.push(txt('p', 'cbi-map-descr', descr));
  return out;
}

export function badge(st, testid) {
  const s = st || 'unknown';
  return txt('span', 'badge state-' + s, STATES[s] || 'Unknown', { 'data-testid': testid, 'data-state': s });
}

export function table(cols, rows, emptyText, attrs) {
  const head = h('tr', { class: 'tr table-titles' }, cols.map(c => txt('th', 'th' + (c.cls ? ' ' + c.cls : ''), c.title)));
  const body = rows.length ? rows
    : [h('tr', { class: 'tr placeholder' }, h('td', { class: 'td', colspan: cols.length }, txt('em', '', emptyText)))];
  return h('table', Object.assign({ class: 'table cbi-section-table' }, attrs), h('thead', null, head), h('tbody', null, body));
}

// A table row whose cells carry their column title, so that the phone
// layout can show each cell as "title: value".
export function trow(cols, cells, attrs) {
  return h('tr', Object.assign({ class: 'tr' }, attrs),
    cells.map((c, i) => h('td', { class: 'td' + (cols[i].cls ? ' ' + cols[i].cls : ''), 'data-title': cols[i].title }, h('div', { class: 'cell' }, c))));
}

export function spinner(text) {
  return h('p', { class: 'spinning', id: 'loading' }, text || 'Loading…');
}

export function alertBox(kind, kids, attrs) {
  return h('div', Object.assign({ class: 'alert-message ' + kind, role: 'alert' }, attrs), kids);
}

export let noticeTimer;
export function notify(text, kind) {
  const area = document.getElementById('notice-area');
  area.replaceChildren(alertBox(kind || 'success', txt('span', '', text), { id: 'notice', 'data-kind': kind || 'success' }));
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => area.replaceChildren(), kind === 'error' ? 10000 : 4000);
}

export function setDirty(on) {
  document.getElementById('changes-indicator').hidden = !on;
}
