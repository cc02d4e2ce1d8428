// The live alert feed: one EventSource on /api/v1/alerts/stream for the whole app, opened once
// someone is signed in. The browser reconnects by itself and sends Last-Event-ID, so the feed
// resumes with what was missed. Pages subscribe to its events; the header shows its state.
const TYPES = ['raised', 'updated', 'severity_raised', 'acknowledged', 'resolved', 'escalated'];

let source = null;
let state = 'closed'; // closed | connecting | open
const listeners = new Set();
const stateListeners = new Set();
const resyncListeners = new Set();
let hidden = false; // the page went into the back/forward cache with the feed open

// A page kept in the back/forward cache would keep its feed's connection, and a browser allows
// only a few connections to one host: after some full page loads in a tab, the next one stalls.
// So the feed closes when the page is hidden that way, and opens again when it is shown; pages
// then load again what they show, since the events in between are not replayed to a new feed.
addEventListener('pagehide', (ev) => {
  if (ev.persisted && source) {
    hidden = true;
    close();
  }
});
addEventListener('pageshow', (ev) => {
  if (ev.persisted && hidden) {
    hidden = false;
    open();
    for (const fn of resyncListeners) fn();
  }
});

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

/** Calls fn() when the feed opens again after events may have been missed; returns the
 * unsubscribe. A page loads again what it shows. */
export function onResync(fn) {
  resyncListeners.add(fn);
  return () => resyncListeners.delete(fn);
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
