// The JSON API and the session.

export const state = {
  csrf: '',        // in memory only; a reload asks /api/session again
  user: '',
  hostname: 'OpenWrt',
  wantRoute: '',   // where to go after logging in
};

// sessionLost is called when the router answers 401 to a logged-in page;
// app.js sets it to the router's handler (api.js imports nothing, so the
// modules form no circle).
let sessionLost = () => {};
export function whenSessionLost(fn) { sessionLost = fn; }

export class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || (status ? 'HTTP error ' + status : 'The router did not answer'));
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body, retried) {
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

// getSchema fetches the options' defaults and limits once; the server's
// validator reads the same declarations.
let schemaP = null;
export function getSchema() {
  if (!schemaP) schemaP = api('GET', 'schema').catch(e => { schemaP = null; throw e; });
  return schemaP;
}

// getConfig returns the config with the schema beside it (cfg.schema).
export async function getConfig() {
  const [cfg, schema] = await Promise.all([api('GET', 'config'), getSchema()]);
  cfg.schema = schema;
  return cfg;
}
