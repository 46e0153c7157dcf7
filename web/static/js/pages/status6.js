// The IPv6 side of a WAN on the Status page: the same figures as the
// WAN's own (which describe IPv4), judged on its own when it is probed
// over IPv6, and why it is not balanced when the firewall does not
// translate it.

import { badge, h, txt } from '../dom.js';
import { fmtMs, fmtPct } from '../format.js';

export function ipv6Block(w) {
  const v = w.ipv6;
  if (!v) return null;
  const n = w.name;
  const kv = [
    ['Role', v.active ? 'Active' : 'Not used', 'role'],
    ['Device', v.device || '—', 'device'],
    ['Gateway', v.gateway || '—', 'gateway'],
    ['Latency (RTT)', fmtMs(v.rtt_ms), 'rtt'],
    ['Packet Loss', fmtPct(v.loss_pct), 'loss'],
    ['Share of New Connections', v.share != null ? fmtPct(v.share * 100) : '—', 'share'],
  ];
  return h('div', { class: 'wan-ipv6', 'data-testid': 'wan-ipv6-' + n, 'data-state': v.state || 'unknown' },
    h('div', { class: 'changes-title' }, txt('span', '', 'IPv6 '), badge(v.state, 'wan6-state-' + n)),
    h('table', { class: 'kv' }, h('tbody', null, kv.map(([k, val, id]) =>
      h('tr', null, txt('th', '', k), txt('td', '', val, { 'data-testid': `wan6-${id}-${n}` }))))),
    v.note ? txt('p', 'muted', 'Not balanced: ' + v.note, { 'data-testid': 'wan6-note-' + n }) : null);
}
