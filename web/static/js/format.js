// Formatting of numbers, durations, schedules and names.

export const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

export const wanLabel = w => (w && (w.label || w.name)) || '';

export function wanName(cfg, name) {
  const w = cfg.wans.find(x => x.name === name);
  return w ? wanLabel(w) : name;
}

export function fmtRate(bps) {
  if (bps == null || !isFinite(bps)) return '—';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
}

export function fmtDur(s) {
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return `${d}d ${hh}h ${m}m`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export const fmtMs = v => (v == null || !(v > 0) ? '—' : (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ms');
export const fmtPct = v => (v == null || !isFinite(v) ? '—' : (v < 10 && v % 1 ? v.toFixed(1) : Math.round(v)) + ' %');
// lines splits a list field; targets may hold commas (URLs), so only spaces.
export const lines = (s, sep = /[\s,]+/) => String(s || '').split(sep).map(x => x.trim()).filter(Boolean);

export function effectiveTime(e) {
  const days = normDays(e.weekdays);
  const t = e.start_time || e.stop_time ? `${e.start_time || '00:00'}–${e.stop_time || '24:00'}` : '';
  if (!days.length && !t) return 'All day';
  return [days.length ? days.join(' ') : 'Every day', t].filter(Boolean).join(', ');
}

// normDays reads 'Mon tue Friday' into ['Mon', 'Tue', 'Fri'].
export function normDays(s) {
  const out = [];
  for (const f of lines(s)) {
    const d = f.slice(0, 1).toUpperCase() + f.slice(1, 3).toLowerCase();
    if (DAYS.includes(d) && !out.includes(d)) out.push(d);
  }
  return out.sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
}

// REASONS say why a WAN went offline (the status's offline_reason).
export const REASONS = {
  probes: 'probes failed',
  traffic: 'its traffic went unanswered, and a probe burst failed',
  carrier: 'link down (no carrier)',
};
