// The admin's pages: the registry (sites, teams, patients, devices), the CSV import, users and
// their API tokens, webhooks with their delivery log, and the audit log. One tab per section
// (/app/admin/<section>), an item's own page below it (/app/admin/<section>/<id>). The API
// decides who may: these routes are for admins, and every call they make is checked again.
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import { useStyles } from '../styles.js';
import { SECTIONS, pathOf } from './admin/common.js';

const TABS = {
  sites: 'admin.tab.sites', teams: 'admin.tab.teams', patients: 'admin.tab.patients', devices: 'admin.tab.devices',
  import: 'admin.tab.import', users: 'admin.tab.users', webhooks: 'admin.tab.webhooks', audit: 'admin.tab.audit',
};

// Each section's module and what it mounts: a list, and an item's page where there is one.
const MODULES = {
  sites: ['./admin/registry.js', 'mountList', 'mountItem'],
  teams: ['./admin/registry.js', 'mountList', 'mountItem'],
  patients: ['./admin/registry.js', 'mountList', 'mountItem'],
  devices: ['./admin/registry.js', 'mountList', 'mountItem'],
  import: ['./admin/import.js', 'mount'],
  users: ['./admin/users.js', 'mountList', 'mountItem'],
  webhooks: ['./admin/webhooks.js', 'mountList', 'mountItem'],
  audit: ['./admin/audit.js', 'mount'],
};

export function mount(root, ctx) {
  useStyles('admin');
  const section = ctx.params.section || 'sites';
  const id = ctx.params.id;
  let unmount = null;
  let alive = true;

  if (!SECTIONS.includes(section) || (id !== undefined && !MODULES[section][2])) {
    render(html`<section class="page"><h1>${t('notfound.title')}</h1><p>${t('notfound.text')}</p>
      <p><a href="/app/admin">${t('admin.title')}</a></p></section>`, root);
    return undefined;
  }
  ctx.setTitle(id === undefined ? `${t(TABS[section])} · ${t('admin.title')}` : `${id} · ${t(TABS[section])}`);

  render(html`<section class="page admin">
    <h1>${t('admin.title')}</h1>
    <nav class="admin-tabs" aria-label=${t('admin.sections')}>
      <ul>${SECTIONS.map((sec) => html`<li><a href=${pathOf(sec)}
        aria-current=${sec === section ? (id === undefined ? 'page' : 'location') : 'false'}>${t(TABS[sec])}</a></li>`)}</ul>
    </nav>
    <div class="admin-body"></div>
  </section>`, root);
  const body = root.querySelector('.admin-body');

  const [path, list, item] = MODULES[section];
  import(path).then((mod) => {
    if (!alive) return;
    unmount = id === undefined ? mod[list](body, ctx, section) : mod[item](body, ctx, section);
  }).catch((e) => {
    console.error(e);
    render(html`<p class="notice notice-error" role="alert">${t('error.page_load')}</p>`, body);
  });

  return () => {
    alive = false;
    if (unmount) unmount();
  };
}

export { nothing };
