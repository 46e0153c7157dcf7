// Forms: fields registered under a key; errors shown under their field, or
// in the list at the top when no field on screen shows them.

import { add, checkbox, h, labelled, txt } from './dom.js';
import { wanLabel } from './format.js';

export class Form {
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
export function parseField(f) {
  const m = /^@?([\w-]+?)(?:\[(\d+)\])?(?:\.(\w+))?$/.exec(f || '');
  if (!m) return null;
  return { list: m[1], index: m[2] == null ? null : Number(m[2]), option: m[3] || '' };
}

// resolver for an entry dialog: errors of this entry map to its fields.
export function entryResolver(list, id, count) {
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
export async function submit(form, btn, fn, resolve) {
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

export function wanChecks(cfg, prefix, selected, label) {
  return h('div', { class: 'field-group', id: prefix, role: 'group', 'aria-label': label },
    cfg.wans.length ? cfg.wans.map(w => labelled(
      checkbox(prefix + '-' + w.name, (selected || []).includes(w.name), { value: w.name }),
      wanLabel(w) + (w.enabled ? '' : ' (disabled)')))
      : txt('em', '', 'No WAN ports are configured.'));
}

export const checked = group => [...group.querySelectorAll('input:checked')].map(i => i.value);
