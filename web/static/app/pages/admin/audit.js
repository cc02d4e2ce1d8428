// The audit log: every change to the registry, the people, the alert settings and the alerts
// acted on, newest first, paged with the API's cursor. Filtered by who made it (the actor), what
// it was made to (the object: its kind and id), the action, and when (from, to), all kept in the
// address. Times are shown and read in one time zone: the sites' when they share one, else UTC,
// or the one chosen.
import { html, render, nothing, repeat } from '../../lit.js';
import { t } from '../../i18n.js';
import * as api from '../../api.js';
import { values } from '../../forms.js';
import { dateTime, zoneName } from '../../format.js';
import { field, focusOn, cursorList, pagedList, pager, listState, localToISO, pathOf } from './common.js';
import { loadPlaces } from './registry.js';

const PAGE = 50;

// The actions the server records (<object>.<verb>), with their words.
const ACTION_WORDS = {
  site: { create: 'admin.audit.site_create', update: 'admin.audit.site_update' },
  team: { create: 'admin.audit.team_create', update: 'admin.audit.team_update' },
  patient: { create: 'admin.audit.patient_create', update: 'admin.audit.patient_update', transfer: 'admin.audit.patient_transfer' },
  device: { create: 'admin.audit.device_create', update: 'admin.audit.device_update', secret_rotate: 'admin.audit.device_secret_rotate',
    assign: 'admin.audit.device_assign', return: 'admin.audit.device_return' },
  user: { create: 'admin.audit.user_create', update: 'admin.audit.user_update', password_set: 'admin.audit.user_password_set',
    token_create: 'admin.audit.user_token_create', token_revoke: 'admin.audit.user_token_revoke' },
  webhook: { create: 'admin.audit.webhook_create', update: 'admin.audit.webhook_update', secret_rotate: 'admin.audit.webhook_secret_rotate',
    delete: 'admin.audit.webhook_delete' },
  overrides: { set: 'admin.audit.overrides_set', delete: 'admin.audit.overrides_delete' },
  silence: { create: 'admin.audit.silence_create', delete: 'admin.audit.silence_delete' },
  alert: { acknowledge: 'admin.audit.alert_acknowledge', resolve: 'admin.audit.alert_resolve' },
  move: { propose: 'admin.audit.move_propose', approve: 'admin.audit.move_approve', reject: 'admin.audit.move_reject',
    dispatch: 'admin.audit.move_dispatch', receive: 'admin.audit.move_receive', cancel: 'admin.audit.move_cancel' },
};
const ACTIONS = Object.fromEntries(Object.entries(ACTION_WORDS).flatMap(([o, verbs]) =>
  Object.entries(verbs).map(([v, key]) => [`${o}.${v}`, key])));

// The kinds of object, with their words and where their page is.
const OBJECTS = {
  site: ['admin.audit.object_site', (id) => pathOf('sites', id)],
  team: ['admin.audit.object_team', (id) => pathOf('teams', id)],
  patient: ['admin.audit.object_patient', (id) => pathOf('patients', id)],
  device: ['admin.audit.object_device', (id) => pathOf('devices', id)],
  user: ['admin.audit.object_user', (id) => pathOf('users', id)],
  webhook: ['admin.audit.object_webhook', (id) => pathOf('webhooks', id)],
  alert: ['admin.audit.object_alert', (id) => `/app/alerts/${encodeURIComponent(id)}`],
  move: ['admin.audit.object_move', () => '/app/plan'],
};

const actionName = (a) => (ACTIONS[a] ? t(ACTIONS[a]) : a);

// A datetime-local value ("2026-11-22T08:30") of an RFC 3339 time in zone tz.
function localInput(iso, tz) {
  if (!iso) return '';
  const p = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const n = (type) => p.find((x) => x.type === type).value;
  return `${n('year')}-${n('month')}-${n('day')}T${n('hour')}:${n('minute')}`;
}

export function mount(root, ctx) {
  const q = ctx.query;
  const [kind0, ...rest] = (q.get('subject') || '').split('/');
  const s = {
    f: { actor: q.get('actor') || '', kind: OBJECTS[kind0] ? kind0 : '', object: OBJECTS[kind0] ? rest.join('/') : '',
      action: q.get('action') || '', since: q.get('since') || '', until: q.get('until') || '' },
    tz: q.get('tz') || '',
    list: cursorList(),
    places: null,
    users: [],
  };
  let alive = true;

  const zone = () => s.tz || (s.places ? s.places.zone : 'UTC');

  const list = pagedList(s, 'list', {
    fetch: async (cursor) => {
      if (!s.places) {
        const [places, users] = await Promise.all([loadPlaces(), api.all('/users', { limit: 1000 }, { cursor: 'after' })]);
        s.places = places;
        s.users = users;
      }
      const f = s.f;
      return api.get('/audit', {
        actor: f.actor || undefined, action: f.action || undefined,
        subject: f.kind && f.object ? `${f.kind}/${f.object}` : undefined,
        since: f.since || undefined, until: f.until || undefined,
        before: cursor || undefined, limit: PAGE,
      });
    },
    draw: () => draw(),
    alive: () => alive,
  });
  const load = list.load;

  function apply(ev) {
    ev.preventDefault();
    const v = values(ev.target);
    s.tz = v.tz || '';
    const tz = zone();
    s.f = { actor: v.actor || '', kind: v.kind || '', object: v.object || '', action: v.action || '',
      since: localToISO(v.since, tz), until: localToISO(v.until, tz) };
    sync();
    list.first();
  }

  function sync() {
    const f = s.f;
    ctx.setQuery({ actor: f.actor, action: f.action, subject: f.kind && f.object ? `${f.kind}/${f.object}` : '',
      since: f.since, until: f.until, tz: s.tz });
  }

  function clear() {
    s.f = { actor: '', kind: '', object: '', action: '', since: '', until: '' };
    s.tz = '';
    sync();
    const form = root.querySelector('#audit-filter');
    if (form) form.reset();
    list.first();
  }

  function page(where) {
    list.page(where);
    focusOn(root, '#audit-results');
  }

  function actorName(actor) {
    const [kind, ...rest] = actor.split(':');
    const id = rest.join(':');
    if (kind === 'user') {
      const u = s.users.find((x) => x.id === id);
      return u ? html`<a href=${pathOf('users', id)}>${u.username}</a>` : actor;
    }
    return actor;
  }

  function object(subject) {
    const i = subject.indexOf('/');
    const kind = subject.slice(0, i);
    const id = subject.slice(i + 1);
    const o = OBJECTS[kind];
    if (!o) return subject;
    return html`${t(o[0])} <a class="mono" href=${o[1](id)}>${id}</a>`;
  }

  function detail(d) {
    if (!d || typeof d !== 'object') return d == null ? '' : String(d);
    const entries = Object.entries(d);
    if (!entries.length) return '';
    const tz = zone();
    const show = (v) => {
      if (Array.isArray(v)) return v.join(', ');
      if (v !== null && typeof v === 'object') return JSON.stringify(v);
      if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return dateTime(v, tz);
      return String(v);
    };
    return html`<dl class="detail">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${show(v)}</dd>`)}</dl>`;
  }

  function filters() {
    const f = s.f;
    const tz = zone();
    const p = s.places;
    const zones = p ? [...new Set([...p.zones, 'UTC', tz])] : [tz];
    return html`<form id="audit-filter" class="filters audit-filters" @submit=${apply} aria-label=${t('admin.audit.filters')}>
      ${field('audit', { name: 'actor', label: t('admin.audit.actor'), type: 'select', value: f.actor, blank: t('filter.all'),
        options: [...s.users.map((u) => [`user:${u.id}`, u.username]), ...(f.actor && !f.actor.startsWith('user:') ? [[f.actor, f.actor]] : [])] })}
      ${field('audit', { name: 'kind', label: t('admin.audit.object_kind'), type: 'select', value: f.kind, blank: t('filter.all'),
        options: Object.entries(OBJECTS).map(([k, [w]]) => [k, t(w)]) })}
      ${field('audit', { name: 'object', label: t('admin.audit.object_id'), value: f.object, hint: t('admin.audit.object_hint') })}
      ${field('audit', { name: 'action', label: t('admin.audit.action'), type: 'select', value: f.action, blank: t('filter.all'),
        options: Object.keys(ACTIONS).map((a) => [a, `${actionName(a)} (${a})`]) })}
      ${field('audit', { name: 'since', label: t('admin.audit.from'), type: 'datetime-local', value: localInput(f.since, tz) })}
      ${field('audit', { name: 'until', label: t('admin.audit.to'), type: 'datetime-local', value: localInput(f.until, tz) })}
      ${field('audit', { name: 'tz', label: t('admin.audit.zone'), type: 'select', value: tz, options: zones.map((z) => [z, `${z} (${zoneName(z)})`]) })}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit">${t('admin.audit.apply')}</button>
        <button class="btn" type="button" @click=${clear}>${t('admin.audit.clear')}</button>
      </div>
    </form>`;
  }

  function table() {
    const l = s.list;
    const tz = zone();
    if (l.loading && !l.items.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (!l.items.length) return html`<p class="empty">${t('admin.audit.none')}</p>`;
    return html`<div class="panel"><table class="data-table audit-table">
      <thead><tr><th scope="col">${t('admin.audit.when')}</th><th scope="col">${t('admin.audit.actor')}</th>
        <th scope="col">${t('admin.audit.action')}</th><th scope="col">${t('admin.audit.object')}</th>
        <th scope="col">${t('admin.audit.detail')}</th></tr></thead>
      <tbody>${repeat(l.items, (e) => e.id, (e) => html`<tr data-id=${e.id} data-action=${e.action} data-subject=${e.subject}>
        <th scope="row" class="nowrap">${dateTime(e.at, tz)}</th>
        <td>${actorName(e.actor)}</td>
        <td>${actionName(e.action)}</td>
        <td>${object(e.subject)}</td>
        <td>${detail(e.detail)}</td>
      </tr>`)}</tbody></table></div>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="admin-section" aria-labelledby="audit-title">
      <h2 id="audit-title">${t('admin.audit.title')}</h2>
      <p class="muted small">${t('admin.audit.text')} ${t('admin.times_in', { zone: `${zone()} (${zoneName(zone())})` })}</p>
      ${filters()}
      ${listState(s.list, load)}
      <div id="audit-results" tabindex="-1" aria-busy=${s.list.loading ? 'true' : 'false'}>${table()}</div>
      ${pager(s.list, page)}
    </section>`, root);
  }

  draw();
  load();
  return () => { alive = false; };
}

export { nothing };
