// The JSON API, same origin, with the session cookie. Every call answers the parsed JSON or
// throws an ApiError with the API's code, message and, when the API names it, the field at fault.
// A 401 outside sign-in sends the person to the sign-in page, back here afterwards.

/** An error answer of the API: {"error": {"code", "message", "field"}}. */
export class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || '';
    this.retryAfter = retryAfter || 0; // seconds, on a 429
  }
}

let onUnauthorized = () => {};

/** Sets what happens on a 401 (the router sends the person to sign in). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * Calls the API: method, path under /api/v1, an optional JSON body and query.
 * @param {string} method
 * @param {string} path such as "/alerts"
 * @param {{body?: any, query?: Record<string, string|number|undefined>, signal?: AbortSignal, quiet401?: boolean}} [opts]
 */
export async function call(method, path, opts = {}) {
  let url = '/api/v1' + path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: opts.signal };
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  if (resp.status === 204) return null;
  let data = null;
  const text = await resp.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(resp.status, e.code || 'http_' + resp.status, e.message || resp.statusText, e.field,
      Number(resp.headers.get('Retry-After')) || 0);
    if (resp.status === 401 && !opts.quiet401) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, query, opts = {}) => call('GET', path, { ...opts, query });
export const post = (path, body, opts = {}) => call('POST', path, { ...opts, body });
export const del = (path, opts = {}) => call('DELETE', path, opts);

/**
 * Every item of a list route, page after page (next as before= or after=), up to max items.
 * @param {string} path
 * @param {Record<string, string|number|undefined>} query
 * @param {{cursor?: 'before'|'after', max?: number, signal?: AbortSignal}} [opts]
 */
export async function all(path, query = {}, opts = {}) {
  const cursor = opts.cursor || 'before';
  const max = opts.max || 5000;
  const items = [];
  let next = '';
  for (;;) {
    const page = await get(path, { ...query, [cursor]: next || undefined }, { signal: opts.signal });
    items.push(...(page.items || []));
    next = page.next || '';
    if (!next || items.length >= max) return items;
  }
}
