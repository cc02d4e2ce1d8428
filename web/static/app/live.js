// The live alert feed: one EventSource on /api/v1/alerts/stream for the whole app, opened once
// someone is signed in. The browser reconnects by itself and sends Last-Event-ID, so the feed
// resumes with what was missed. Pages subscribe to its events; the header shows its state.
const TYPES = ['raised', 'updated', 'severity_raised', 'acknowledged', 'resolved', 'escalated'];

let source = null;
let state = 'closed'; // closed | connecting | open
const listeners = new Set();
const stateListeners = new Set();

/** Opens the feed, if not open. */
export function open() {
  if (source) return;
  source = new EventSource('/api/v1/alerts/stream');
  setState('connecting');
  source.onopen = () => setState('open');
  source.onerror = () => setState(source && source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
  for (const type of TYPES) {
    source.addEventListener(type, (ev) => {
      let alert;
      try {
        alert = JSON.parse(ev.data);
      } catch {
        return;
      }
      for (const fn of listeners) fn({ type, id: ev.lastEventId, alert });
    });
  }
}

/** Closes the feed (on sign-out). */
export function close() {
  if (source) source.close();
  source = null;
  setState('closed');
}

/** Calls fn({type, id, alert}) for each event; returns the unsubscribe. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Calls fn(state) when the feed's state changes, and now; returns the unsubscribe. */
export function onState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}
