// The header: the app's name, the pages of the person's role, the live feed's state, who is
// signed in and as what, the language switch and signing out.
import { html, render, nothing } from './lit.js';
import { t, lang, languages, setLanguage } from './i18n.js';
import { routes } from './routes.js';
import * as session from './session.js';
import * as live from './live.js';
import * as router from './router.js';

let path = location.pathname;
let feed = 'closed';

/** Draws the header now and whenever the user, the page or the feed changes. */
export function start() {
  session.onChange(draw);
  router.onNavigate((p) => { path = p; draw(); });
  live.onState((s) => { feed = s; draw(); });
  draw();
}

function draw() {
  const el = document.getElementById('vw-header');
  if (!el) return;
  const user = session.current();
  const nav = user ? routes.filter((r) => r.nav && r.roles.includes(user.role)) : [];
  render(html`
    <div class="header-bar">
      <a class="brand" href="/app/"><span class="brand-mark" aria-hidden="true">◆</span> ${t('app.name')}</a>
      ${user ? html`<nav class="main-nav" aria-label=${t('nav.label')}>
        <ul>${nav.map((r) => html`<li><a href=${r.path} aria-current=${isCurrent(r.path) ? 'page' : 'false'}>${t(r.nav)}</a></li>`)}</ul>
      </nav>` : nothing}
      <div class="header-tools">
        ${user ? html`<span class="feed feed-${feed}" role="status" title=${t('live.title')}>
            <span aria-hidden="true">${feed === 'open' ? '●' : '○'}</span> ${t('live.' + feed)}</span>
          <span class="who"><span class="who-name">${user.username}</span>
            <span class="who-role">${t('role.' + user.role)}</span></span>` : nothing}
        <label class="lang-switch"><span class="visually-hidden">${t('language.label')}</span>
          <select @change=${(e) => setLanguage(e.target.value)} aria-label=${t('language.label')}>
            ${languages.map((l) => html`<option value=${l.code} ?selected=${l.code === lang}>${l.name}</option>`)}
          </select></label>
        ${user ? html`<button type="button" class="btn btn-quiet" @click=${signOut}>${t('signout.button')}</button>` : nothing}
      </div>
    </div>`, el);
}

function isCurrent(p) {
  return path === p || path.startsWith(p + '/') || (p === '/app/inbox' && path.startsWith('/app/alerts/'));
}

async function signOut() {
  live.close();
  await session.signOut();
  router.go('/app/signin');
}
