// Status: each WAN's state, share, recent state changes and charts.

import { api } from '../api.js';
import { alertBox, badge, h, pageHead, section, svg, txt } from '../dom.js';
import { REASONS, fmtDur, fmtMs, fmtPct, fmtRate, wanLabel } from '../format.js';
import { POLL_MS, every, gen, setHostname } from '../router.js';
import { ipv6Block } from './status6.js';

export const SPAN_S = 600; // the charts show the last 10 minutes

export async function pageStatus(main, g) {
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

export function wanCard(w, history, now) {
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
    ...(w.offline_reason && (w.state === 'offline' || w.state === 'connecting') ? [['Offline Because', REASONS[w.offline_reason] || w.offline_reason, 'reason']] : []),
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
    ipv6Block(w),
    changes(n, w.changes || [], now),
    charts(n, samples, (history && history.interval_s) || 5, now));
}

// CHANGES is how many of a WAN's recent state changes the card lists.
export const CHANGES = 5;

// changes lists the WAN's last state changes, newest first, with how long
// ago each was by the router's clock and why it happened.
function changes(name, list, now) {
  const recent = list.slice(-CHANGES).reverse();
  const items = recent.map(c => {
    const at = Date.parse(c.at) / 1000;
    return h('li', { class: 'change', 'data-testid': 'wan-change-' + name },
      txt('span', 'change-ago', isFinite(at) ? fmtDur(now - at) + ' ago' : '—', { title: c.at }),
      h('span', { class: 'change-states' }, badge(c.from), txt('span', 'arrow', ' → '), badge(c.to)),
      c.reason ? txt('span', 'change-reason', c.reason) : null);
  });
  return h('div', { class: 'changes', 'data-testid': 'wan-changes-' + name },
    txt('div', 'changes-title', 'Recent State Changes'),
    items.length ? h('ul', null, items) : txt('p', 'muted placeholder', 'No state changes since wanlb started.'));
}

// charts draws RTT, loss and throughput over the last 10 minutes.
export function charts(name, samples, interval, end) {
  const pick = f => samples.map(s => [s.t, f(s)]);
  return h('div', { class: 'charts' },
    chart('rtt', name, 'Latency', pick(s => (s.state === 'offline' || !(s.rtt_ms > 0) ? null : s.rtt_ms)), samples, end, interval, fmtMs),
    chart('loss', name, 'Loss', pick(s => s.loss_pct), samples, end, interval, v => fmtPct(v), 100),
    chart('throughput', name, 'Throughput (down + up)', pick(s => (s.rx_bps || 0) + (s.tx_bps || 0)), samples, end, interval, fmtRate));
}

export function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * mag) return m * mag;
  return 10 * mag;
}

export function chart(kind, name, title, pts, samples, end, interval, fmt, cap) {
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
