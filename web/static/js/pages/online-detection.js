// Online Detection: probe targets and thresholds.

import { api, getConfig } from '../api.js';
import { badge, button, checkbox, h, input, labelled, notify, pageHead, radio, row, section, table, textarea, trow, txt } from '../dom.js';
import { Form, parseField, submit } from '../form.js';
import { REASONS, lines, wanLabel } from '../format.js';
import { editDialog } from '../modal.js';
import { POLL_MS, every, gen, route } from '../router.js';
import { V, span } from '../validate.js';

export const MODES = [['auto', 'Auto'], ['manual', 'Manual'], ['always_online', 'Always Online']];
// Manual targets by type; the track list keeps them as IP, dns://,
// http(s):// and tcp:// strings.
export const TARGETS = [
  { key: 'ping', label: 'Ping', help: 'IP addresses, one per line: each gets an ICMP echo. IPv6 addresses (2001:db8::1) judge the port\'s IPv6 side on its own.', prefix: '', placeholder: '1.1.1.1\n8.8.8.8\n2606:4700:4700::1111' },
  { key: 'dns', label: 'DNS Lookup', help: 'DNS servers, one per line: SERVER or SERVER/NAME (an A query for NAME, the root by default); an IPv6 server in brackets: [2620:fe::fe]/example.com. Any answer counts.', prefix: 'dns://', placeholder: '9.9.9.9\n1.0.0.1/example.com' },
  { key: 'http', label: 'HTTP(S) URL', help: 'URLs, one per line: http:// or https://; a 2xx or 3xx answer counts. Use IP addresses: host names are resolved by the router, not through this WAN.', prefix: '', placeholder: 'http://198.18.0.1/health' },
  { key: 'tcp', label: 'TCP', help: 'HOST:PORT, one per line, IPv6 in brackets ([2001:db8::1]:443): an established connection counts.', prefix: 'tcp://', placeholder: '1.1.1.1:443' },
];

export function splitTrack(track) {
  const out = { ping: [], dns: [], http: [], tcp: [] };
  for (const t of track || []) {
    if (t.startsWith('dns://')) out.dns.push(t.slice(6));
    else if (t.startsWith('tcp://')) out.tcp.push(t.slice(6));
    else if (/^https?:\/\//.test(t)) out.http.push(t);
    else out.ping.push(t);
  }
  return out;
}

export const targetKind = t => (t.startsWith('dns://') ? 'dns' : t.startsWith('tcp://') ? 'tcp' : /^[a-z]+:\/\//.test(t) ? 'http' : 'ping');

// stateCell is a WAN's state badge with, when offline, why.
export function stateCell(st, name) {
  const s = st || {};
  const why = s.offline_reason && (s.state === 'offline' || s.state === 'connecting') ? REASONS[s.offline_reason] || s.offline_reason : '';
  return [badge(s.state, 'od-status-' + name), why ? txt('small', 'muted od-reason', ' ' + why, { 'data-testid': 'od-reason-' + name }) : null];
}

export function timingText(w) {
  if (w.detection === 'always_online') return '—';
  const t = `every ${w.interval} s; offline after ${w.down}, online after ${w.up} rounds`;
  return w.passive ? `${t}; passive: ${w.passive_window} s` : t;
}

export function modeText(w) {
  return (MODES.find(m => m[0] === w.detection) || [0, w.detection])[1];
}

export function targetsText(w) {
  if (w.detection === 'always_online') return 'none: online while the link is up';
  if (w.detection === 'auto') return 'built in: ping 1.1.1.1, 8.8.8.8; DNS 9.9.9.9, 1.0.0.1; IPv6 side: ping 2606:4700:4700::1111, 2001:4860:4860::8888; DNS 2620:fe::fe, 2606:4700:4700::1001';
  return (w.track || []).join(', ') || '—';
}

export async function pageOnlineDetection(main, g) {
  const [cfg, status] = await Promise.all([getConfig(), api('GET', 'status').catch(() => ({ wans: [] }))]);
  if (g !== gen) return;
  const cols = [{ title: 'Port' }, { title: 'Port Status' }, { title: 'Mode' }, { title: 'Targets' }, { title: 'Timing' }, { title: 'Operation', cls: 'ops' }];
  const cells = new Map();
  const byName = st => new Map((st.wans || []).map(w => [w.name, w]));
  let stat = byName(status);
  const rows = cfg.wans.map(w => {
    const cell = h('span', null, stateCell(stat.get(w.name), w.name));
    cells.set(w.name, cell);
    return trow(cols, [
      [txt('strong', '', wanLabel(w)), w.label && w.label !== w.name ? txt('small', 'muted', ' (' + w.name + ')') : null],
      cell,
      txt('span', '', modeText(w), { 'data-testid': 'od-mode-' + w.name }),
      txt('span', 'targets', targetsText(w)),
      txt('span', '', timingText(w), { 'data-testid': 'od-timing-' + w.name }),
      button('Edit', 'cbi-button-edit', { id: 'od-edit-' + w.name, onclick: () => editDetection(cfg, w.name) }),
    ], { 'data-testid': 'od-row-' + w.name });
  });
  main.replaceChildren(
    ...pageHead('Online Detection', 'How wanlb decides that a WAN port is online: probes sent through each port every interval. A port goes offline after the set number of failed rounds in a row and comes back after the set number of good rounds. With passive detection, a port whose own traffic goes unanswered is checked at once with a burst of probes and goes offline in about a second when they fail too.'),
    section('Online Detection', table(cols, rows, 'No WAN ports are configured.', { id: 'od-table' })));
  every(POLL_MS, async () => {
    try {
      stat = byName(await api('GET', 'status'));
      if (g !== gen) return;
      for (const [n, cell] of cells) cell.replaceChildren(...stateCell(stat.get(n), n).filter(Boolean));
    } catch (e) { /* keep the last states */ }
  });
}

export function editDetection(cfg, name) {
  const w = cfg.wans.find(x => x.name === name);
  const sc = cfg.schema;
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
    num('interval', 'Interval (s)', `Seconds between rounds, ${span(sc, 'wan', 'interval')} (decimals allowed).`, 'decimal'),
    num('timeout', 'Timeout (s)', `Seconds a probe may take, ${span(sc, 'wan', 'timeout')}.`, 'decimal'),
    num('down', 'Down Rounds', `Failed rounds in a row before the port goes offline, ${span(sc, 'wan', 'down')}.`, 'numeric'),
    num('up', 'Up Rounds', `Good rounds in a row before the port is online again, ${span(sc, 'wan', 'up')}.`, 'numeric'),
    num('max_latency', 'Max Latency (ms)', `A round slower than this counts as failed; ${span(sc, 'wan', 'max_latency')}, 0: off.`, 'numeric'),
    num('max_loss', 'Max Loss (%)', `Loss over the last 20 rounds above this takes the port offline; ${span(sc, 'wan', 'max_loss')}, 0: off.`, 'numeric'),
  ];
  const passive = form.add('passive', checkbox('od-passive', w.passive));
  const passiveRow = row('Passive Detection', labelled(passive, 'Watch the port\'s own traffic'),
    'When the port keeps sending while nothing comes back for the window below, a burst of probes to every target checks it at once; '
    + 'the port goes offline only if none answers. Idle ports are judged by the probes alone.');
  const windowRow = num('passive_window', 'Passive Window (s)', `How long the port may send with nothing coming back before the check, ${span(sc, 'wan', 'passive_window')}.`, 'decimal');
  probeRows.push(passiveRow, windowRow);
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
    windowRow.hidden = m === 'always_online' || !passive.checked;
    modeHelp.textContent = {
      auto: 'Auto: built-in targets from three operators (ping 1.1.1.1 and 8.8.8.8, DNS 9.9.9.9 and 1.0.0.1).',
      manual: 'Manual: your own targets below, of any of the four types. Several targets are better than one: a single lost packet then never fails a round.',
      always_online: 'Always Online: no probes; the port is online while its link is up.',
    }[m];
    const [i, t, d, u] = ['interval', 'timeout', 'down', 'up'].map(k => Number(val(k)));
    estimate.textContent = i > 0 && t > 0 && d > 0 && u > 0
      ? `A dead line is noticed within ${+(d * i + t).toFixed(1)} s`
        + (passive.checked && Number(val('passive_window')) > 0 ? ` (about ${+(Number(val('passive_window')) + 0.5).toFixed(1)} s while it carries traffic)` : '')
        + `; a recovered one is used again after ${+(u * i).toFixed(1)} s.` : '';
  };
  const body = h('div', { class: 'cbi-section-node', id: 'od-form' }, modeRow, manualRows, probeRows, estimate);
  // An unset timeout follows the interval (two intervals, at most 1 s,
  // as the daemon reads it); the page always writes the field, so keep a
  // timeout that still holds the old interval's default in step with a
  // new interval instead of fixing the old one.
  const defTimeout = i => +Math.max(0.1, Math.min(1, 2 * i)).toFixed(3);
  let lastInterval = Number(val('interval'));
  inputs.interval.addEventListener('input', () => {
    const i = Number(val('interval'));
    if (!(i > 0)) return;
    if (Number(val('timeout')) === defTimeout(lastInterval)) inputs.timeout.value = String(defTimeout(i));
    lastInterval = i;
  });
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
    for (const key of Object.keys(inputs)) {
      const msg = V.option(sc, 'wan', key, val(key));
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
    mine.passive = passive.checked;
    const keep = x => ({
      name: x.name, detection: x.detection, track: x.track || [], reliability: x.reliability, interval: x.interval,
      timeout: x.timeout, down: x.down, up: x.up, max_latency: x.max_latency, max_loss: x.max_loss,
      passive: x.passive, passive_window: x.passive_window,
    });
    const wans = cfg.wans.map(x => (x.name === name ? mine : keep(x)));
    const ok = await submit(form, btn, () => api('PUT', 'config/online_detection', { wans }), resolve);
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(`Online Detection: ${wanLabel(w)}`, form, body, save);
}
