// The app's start: who is signed in, the header, the live feed, then the page of the path.
import { t } from './i18n.js';
import { setUnauthorizedHandler } from './api.js';
import * as session from './session.js';
import * as router from './router.js';
import * as header from './header.js';
import * as live from './live.js';

setUnauthorizedHandler(() => {
  // The session ended (expired, or signed out elsewhere): sign in again, then come back.
  if (!session.current()) return;
  live.close();
  session.set(null);
  router.go('/app/signin?next=' + encodeURIComponent(location.pathname + location.search) + '&expired=1', { replace: true });
});

session.onChange((user) => {
  if (user) live.open();
  else live.close();
});

async function start() {
  try {
    await session.load();
  } catch (e) {
    const loading = document.getElementById('vw-loading');
    if (loading) {
      loading.textContent = t('error.unavailable');
      loading.className = 'notice notice-error';
    }
    return;
  }
  header.start();
  router.start();
}

start();
