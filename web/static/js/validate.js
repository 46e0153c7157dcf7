// Client-side checks: the same rules and messages as the server's
// validator; the limits come from GET /api/schema.

import { lines } from './format.js';

export const V = {
  // option checks a number against the schema's limits of typ.name.
  option(schema, typ, name, s) {
    const o = schema[typ][name];
    return o.kind === 'seconds' ? V.seconds(s, o.min, o.max) : V.int(s, o.min, o.max);
  },
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
  // An IPv6 address without a zone, as netip.ParseAddr reads one.
  ipv6: s => V.ipv6Groups(s) !== null,
  // ipv6Groups is the eight 16-bit groups of an IPv6 address, or null.
  ipv6Groups(s) {
    if (typeof s !== 'string' || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
    const halves = s.split('::');
    if (halves.length > 2) return null;
    const part = h => {
      if (h === '') return [];
      const out = [];
      const fs = h.split(':');
      for (let i = 0; i < fs.length; i++) {
        const f = fs[i];
        if (i === fs.length - 1 && f.includes('.')) {
          if (!V.ipv4(f)) return null;
          const n = f.split('.').map(Number);
          out.push(n[0] * 256 + n[1], n[2] * 256 + n[3]);
        } else if (/^[0-9a-fA-F]{1,4}$/.test(f)) {
          out.push(parseInt(f, 16));
        } else {
          return null;
        }
      }
      return out;
    };
    const a = part(halves[0]), b = halves.length === 2 ? part(halves[1]) : [];
    if (a === null || b === null) return null;
    if (halves.length === 1) return a.length === 8 ? a : null;
    const n = a.length + b.length;
    return n > 7 ? null : [...a, ...new Array(8 - n).fill(0), ...b];
  },
  // IPv4-mapped IPv6 (::ffff:198.18.0.1) is refused as the server does.
  mapped: g => g.slice(0, 5).every(x => x === 0) && g[5] === 0xffff,
  ip: s => V.ipv4(s) || V.ipv6(s),
  host: s => /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(s),
  ipNum: s => s.split('.').reduce((a, p) => a * 256 + Number(p), 0),

  // An IPv4 or IPv6 address, CIDR or a-b range (ParseAddrMatch).
  addr(s) {
    const want = 'must be an IPv4 or IPv6 address, CIDR or range';
    const v6 = a => { const g = V.ipv6Groups(a); return g && !V.mapped(g) ? g : null; };
    if (s.includes('-')) {
      const i = s.indexOf('-'), a = s.slice(0, i), b = s.slice(i + 1);
      const ga = v6(a), gb = v6(b);
      if (!(V.ipv4(a) || ga) || !(V.ipv4(b) || gb)) return 'must be a range like 198.18.0.10-198.18.0.20 or 2001:db8::10-2001:db8::20';
      if (V.ipv4(a) !== V.ipv4(b)) return 'range mixes IPv4 and IPv6';
      if (V.ipv4(a)) return V.ipNum(b) < V.ipNum(a) ? 'range ends before it starts' : '';
      const k = ga.findIndex((x, j) => x !== gb[j]);
      return k >= 0 && gb[k] < ga[k] ? 'range ends before it starts' : '';
    }
    if (s.includes('/')) {
      const i = s.indexOf('/'), a = s.slice(0, i), bits = s.slice(i + 1);
      if (!/^(0|[1-9]\d{0,2})$/.test(bits)) return want;
      if (V.ipv4(a)) return Number(bits) <= 32 ? '' : want;
      return v6(a) && Number(bits) <= 128 ? '' : want;
    }
    return V.ipv4(s) || v6(s) ? '' : want;
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
        const bracketed = /^\[([^\]]+)\]$/.exec(server); // dns://[2001:db8::53]/name
        const ok = V.ip(server) || (bracketed && V.ipv6(bracketed[1])) || (m && V.ip(m[1] || m[2]) && Number(m[3]) <= 65535);
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

// in the list at the top when no field on screen shows them.

// span is the range of a number option for help texts: '1-100'.
export function span(schema, typ, name) {
  const o = schema[typ][name];
  return `${o.min}-${o.max}`;
}

// defaults is a new entry of section type typ: every option at its default.
export function defaults(schema, typ) {
  const out = {};
  for (const [name, o] of Object.entries(schema[typ])) {
    out[name] = o.kind === 'bool' ? o.default === '1'
      : o.kind === 'list' ? o.default.split(/\s+/).filter(Boolean)
        : o.kind === 'int' || o.kind === 'seconds' ? Number(o.default) : o.default;
  }
  return out;
}
