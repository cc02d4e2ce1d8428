// The History API router: paths under /app/ name pages (routes.js); the server answers the same
// shell for each. Links to /app/... are followed here without a reload. A page is loaded when
// first opened (dynamic import), mounted into <main>, and unmounted when the person leaves it.
import { render, html } from './lit.js';
import { t } from './i18n.js';
import { match, homeOf } from './routes.js';
import * as session from './session.js';

const main = () => document.getElementById('main');

// fresh empties <main> and returns a new container in it for a page: lit-html keeps its state on
// the container, so each page gets its own.
function fresh() {
  const el = document.createElement('div');
  el.className = 'page-root';
  main().replaceChildren(el);
  return el;
}
let unmount = null;
let seq = 0;
const changeListeners = new Set();

/** Calls fn(pathname) after each navigation (the header marks the current page). */
export function onNavigate(fn) {
  changeListeners.add(fn);
}

/** Opens path (with its query), adding it to the history unless replace. */
export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  show();
}

/** Replaces the query of the current page without navigating (filters, tabs). */
export function setQuery(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
}

/** Starts routing: the current path, links and the back button. */
export function start() {
  document.addEventListener('click', (ev) => {
    const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    if (a.target && a.target !== '_self') return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith('/app/')) return;
    ev.preventDefault();
    go(url.pathname + url.search + url.hash);
  });
  window.addEventListener('popstate', show);
  show();
}

/** Renders the page of the current location. */
export async function show() {
  const my = ++seq;
  const user = session.current();
  let path = location.pathname;
  if (path === '/app/' || path === '/app') {
    go(user ? homeOf(user.role) : '/app/signin', { replace: true });
    return;
  }
  const m = match(path);
  if (unmount) {
    try { unmount(); } catch (e) { console.error(e); }
    unmount = null;
  }
  if (!m) {
    setTitle(t('notfound.title'));
    render(html`<section class="page"><h1>${t('notfound.title')}</h1><p>${t('notfound.text')}</p>
      <p><a href="/app/">${t('notfound.home')}</a></p></section>`, fresh());
    notify(path);
    return;
  }
  if (!m.route.public && !user) {
    go('/app/signin?next=' + encodeURIComponent(path + location.search), { replace: true });
    return;
  }
  if (m.route.roles && user && !m.route.roles.includes(user.role)) {
    setTitle(t('forbidden.title'));
    render(html`<section class="page"><h1>${t('forbidden.title')}</h1><p>${t('forbidden.text')}</p>
      <p><a href="/app/">${t('notfound.home')}</a></p></section>`, fresh());
    notify(path);
    return;
  }
  setTitle(t(m.route.title));
  notify(path);
  let mod;
  try {
    mod = await import(m.route.module);
  } catch (e) {
    console.error(e);
    render(html`<section class="page"><p class="notice notice-error" role="alert">${t('error.page_load')}</p></section>`, fresh());
    return;
  }
  if (my !== seq) return; // the person has gone elsewhere meanwhile
  const root = fresh();
  const query = new URLSearchParams(location.search);
  unmount = mod.mount(root, { params: m.params, query, user, go, setTitle, setQuery }) || null;
  if (!root.contains(document.activeElement)) {
    main().focus({ preventScroll: true });
  }
}

/** Sets the document's title: the page's, then the app's name. */
export function setTitle(title) {
  document.title = title ? `${title} – ${t('app.name')}` : t('app.name');
}

function notify(path) {
  for (const fn of changeListeners) fn(path);
}
