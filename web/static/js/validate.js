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
