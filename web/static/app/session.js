// Who is signed in: the user of GET /api/v1/me ({id, username, role, teams, sites}), or null.
import * as api from './api.js';

let user = null;
const listeners = new Set();

/** The signed-in user, or null. */
export function current() {
  return user;
}

/** Asks the API who the session is; null when nobody is signed in. */
export async function load() {
  try {
    user = await api.get('/me', undefined, { quiet401: true });
  } catch (e) {
    if (e.status !== 401) throw e;
    user = null;
  }
  notify();
  return user;
}

/** Records the user that signing in answered. */
export function set(u) {
  user = u;
  notify();
}

/** Ends the session on the server (best effort) and here. */
export async function signOut() {
  try {
    await api.post('/logout', undefined, { quiet401: true });
  } catch {
    // the session may have ended already
  }
  set(null);
}

/** Calls fn(user) whenever the signed-in user changes; returns the unsubscribe. */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  for (const fn of listeners) fn(user);
}
