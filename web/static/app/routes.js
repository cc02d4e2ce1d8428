// The app's pages: one row per route, each page one module under pages/ that exports
// mount(root, ctx) (see docs/web.md). nav, when set, puts the page in the header for the roles
// that may open it, in this order.
export const DOCTOR = 'doctor';
export const FLEET = 'fleet_manager';
export const ADMIN = 'admin';
const everyone = [DOCTOR, FLEET, ADMIN];

export const routes = [
  { path: '/app/signin', module: './pages/signin.js', title: 'signin.title', public: true },
  { path: '/app/inbox', module: './pages/inbox.js', title: 'nav.inbox', roles: everyone, nav: 'nav.inbox' },
  { path: '/app/alerts/:id', module: './pages/alert.js', title: 'alert.title', roles: everyone },
  { path: '/app/patients', module: './pages/patients.js', title: 'nav.patients', roles: [DOCTOR, ADMIN], nav: 'nav.patients' },
  { path: '/app/patients/:id', module: './pages/patient.js', title: 'patient.title', roles: [DOCTOR, ADMIN] },
  { path: '/app/devices', module: './pages/devices.js', title: 'nav.devices', roles: [FLEET, ADMIN], nav: 'nav.devices' },
  { path: '/app/devices/:id', module: './pages/device.js', title: 'nav.devices', roles: [FLEET, ADMIN] },
  { path: '/app/map', module: './pages/map.js', title: 'nav.map', roles: [FLEET, ADMIN], nav: 'nav.map' },
  { path: '/app/utilisation', module: './pages/utilisation.js', title: 'nav.utilisation', roles: [FLEET, ADMIN], nav: 'nav.utilisation' },
  { path: '/app/repairs', module: './pages/repairs.js', title: 'repairs.nav', roles: [FLEET, ADMIN], nav: 'repairs.nav' },
  { path: '/app/plan', module: './pages/plan.js', title: 'nav.plan', roles: [FLEET, ADMIN], nav: 'nav.plan' },
  { path: '/app/admin', module: './pages/admin.js', title: 'nav.admin', roles: [ADMIN], nav: 'nav.admin' },
  { path: '/app/admin/:section', module: './pages/admin.js', title: 'nav.admin', roles: [ADMIN] },
  { path: '/app/admin/:section/:id', module: './pages/admin.js', title: 'nav.admin', roles: [ADMIN] },
];

/** The page a role starts on. */
export function homeOf() {
  return '/app/inbox';
}

/** The route of a path and its parameters ({id: ...}), or null. */
export function match(pathname) {
  for (const r of routes) {
    const names = [];
    const re = new RegExp('^' + r.path.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; }) + '/?$');
    const m = re.exec(pathname);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return null;
}
