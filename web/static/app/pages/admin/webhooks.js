// Webhooks: the receivers of a team's clinical alerts or a site's device faults. The list, a new
// webhook (its signing secret shown this once), and a webhook's page: change its URL, whether it
// is on and the lowest severity it is sent, give it a new secret, delete it, and its delivery
// log, newest first, paged with the API's cursor.
import { html, render, nothing, repeat } from '../../lit.js';
import { t } from '../../i18n.js';
import * as api from '../../api.js';
import { formError, values } from '../../forms.js';
import { dateTime } from '../../format.js';
import { SEVERITIES, severityBadge } from '../../alerts.js';
import {
  field, formSender, focusOn, okNotice, drawPending, draft, secretPanel, cursorList, pagedList, pager, listState, pathOf,
} from './common.js';
import { loadPlaces } from './registry.js';

const PAGE = 50;
const FIELDS = ['target', 'team', 'site', 'url', 'min_severity', 'enabled'];
const DELIVERY_STATES = { pending: 'admin.webhooks.state_pending', delivered: 'admin.webhooks.state_delivered', failed: 'admin.webhooks.state_failed' };
const DELIVERY_ICONS = { pending: '…', delivered: '✓', failed: '✗' };

function severityOptions() {
  return [['', t('admin.webhooks.every_severity')], ...SEVERITIES.map((v) => [v, t('filter.at_least', { severity: t('severity.' + v) })])];
}

// Whom a webhook is for, in words.
function targetOf(w, places) {
  if (w.team) return t('admin.webhooks.for_team', { name: places.names.team(w.team) });
  return t('admin.webhooks.for_site', { name: places.names.site(w.site) });
}

// The zone of a webhook's times: its team's site's or its site's.
function zoneOf(w, places) {
  return (w.team ? places.teamZone(w.team) : places.zoneOf(w.site)) || places.zone;
}

/** The webhooks, by id, with the form of a new one. */
export function mountList(root, ctx) {
  const s = { list: cursorList(), places: null, creating: ctx.query.get('new') === '1', target: 'team',
    form: { err: null, busy: false }, created: null };
  const form = 'create-webhook';
  const kept = draft(form);
  let alive = true;
  const send = formSender(s, root, () => draw());
  const list = pagedList(s, 'list', {
    fetch: async (cursor) => {
      const [page, places] = await Promise.all([api.get('/webhooks', { after: cursor || undefined, limit: PAGE }),
        s.places || loadPlaces()]);
      return { ...page, places };
    },
    fresh: (page) => { s.places = page.places; },
    draw: () => draw(),
    alive: () => alive,
  });
  const load = list.load;

  function openCreate() {
    s.creating = true;
    s.created = null;
    ctx.setQuery({ new: '1' });
    draw();
    const el = root.querySelector('#' + form);
    if (el && kept.restore(el)) { s.target = el.elements.namedItem('target').value || 'team'; draw(); }
    focusOn(root, `#${form}-target`);
  }

  async function create(ev) {
    ev.preventDefault();
    if (s.form.busy) return;
    const el = ev.target;
    const v = values(el);
    const body = { url: v.url, enabled: el.elements.namedItem('enabled').checked };
    if (v.min_severity) body.min_severity = v.min_severity;
    if (v.target === 'site') body.site = v.site; else body.team = v.team;
    const sent = await send('form', form, {}, async () => {
      s.created = await api.post('/webhooks', body);
      kept.clear();
      el.reset();
      s.creating = false;
    });
    if (!sent) return;
    ctx.setQuery({});
    await load();
    focusOn(root, '.secret-panel');
  }

  function createForm() {
    if (!s.creating || !s.places) return nothing;
    const err = s.form.err;
    const p = s.places;
    return html`<form id=${form} data-form=${form} class="form admin-form" @submit=${create} novalidate aria-labelledby="${form}-title"
        @input=${(e) => kept.save(e.currentTarget)} @change=${(e) => kept.save(e.currentTarget)}>
      <h2 id="${form}-title">${t('admin.webhooks.create')}</h2>
      <div class="form-grid">
        ${field(form, { name: 'target', label: t('admin.webhooks.target'), type: 'select', value: s.target,
          options: [['team', t('admin.webhooks.target_team')], ['site', t('admin.webhooks.target_site')]],
          onChange: (e) => { s.target = e.target.value; draw(); } }, err)}
        ${field(form, { name: 'team', label: t('admin.field.team'), type: 'select', blank: t('admin.choose'), hidden: s.target !== 'team',
          options: p.teams.map((x) => [x.id, `${x.name || x.id} (${x.id})`]) }, err)}
        ${field(form, { name: 'site', label: t('admin.field.site'), type: 'select', blank: t('admin.choose'), hidden: s.target !== 'site',
          options: p.sites.map((x) => [x.id, `${x.name || x.id} (${x.id})`]) }, err)}
        ${field(form, { name: 'url', label: t('admin.webhooks.url'), type: 'url', required: true, placeholder: 'https://', hint: t('admin.hint.webhook_url') }, err)}
        ${field(form, { name: 'min_severity', label: t('admin.webhooks.min_severity'), type: 'select', options: severityOptions() }, err)}
        ${field(form, { name: 'enabled', label: t('admin.webhooks.enabled'), type: 'checkbox', value: true }, err)}
      </div>
      ${formError(err, FIELDS)}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${t('admin.webhooks.create')}</button>
        <button class="btn" type="button" @click=${() => { s.creating = false; s.form = { err: null, busy: false }; kept.clear(); ctx.setQuery({}); draw(); }}>${t('action.cancel')}</button>
      </div>
    </form>`;
  }

  function table() {
    const l = s.list;
    if (l.loading && !l.items.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (!l.items.length) return html`<p class="empty">${t('admin.webhooks.none')}</p>`;
    return html`<div class="panel"><table class="data-table admin-table">
      <thead><tr><th scope="col">${t('admin.webhooks.url')}</th><th scope="col">${t('admin.webhooks.target')}</th>
        <th scope="col">${t('admin.webhooks.min_severity')}</th><th scope="col">${t('admin.users.state')}</th></tr></thead>
      <tbody>${repeat(l.items, (w) => w.id, (w) => html`<tr data-id=${w.id}>
        <th scope="row"><a href=${pathOf('webhooks', w.id)} class="mono">${w.url}</a></th>
        <td>${targetOf(w, s.places)}</td>
        <td>${w.min_severity ? severityBadge(w.min_severity) : t('admin.webhooks.every_severity')}</td>
        <td>${w.enabled ? html`<span class="tag tag-on"><span aria-hidden="true">✓</span> ${t('admin.webhooks.on')}</span>`
    : html`<span class="tag tag-off"><span aria-hidden="true">⊘</span> ${t('admin.webhooks.off')}</span>`}</td>
      </tr>`)}</tbody></table></div>`;
  }

  function draw() {
    if (!alive) return;
    const c = s.created;
    render(html`<section class="admin-section" aria-labelledby="webhooks-title">
      <div class="admin-head">
        <h2 id="webhooks-title">${t('admin.webhooks.title')}</h2>
        ${s.creating ? nothing : html`<button type="button" class="btn btn-primary" @click=${openCreate}>+ ${t('admin.webhooks.create')}</button>`}
      </div>
      <p class="muted small">${t('admin.webhooks.text')}</p>
      ${c ? secretPanel({ title: t('admin.webhooks.secret_title'), value: c.secret, warning: t('admin.webhooks.secret_warning'),
    more: html`<p><a href=${pathOf('webhooks', c.id)}>${t('admin.webhooks.open')}</a></p>`, onDone: () => { s.created = null; draw(); } }) : nothing}
      ${createForm()}
      ${listState(s.list, load)}
      <div aria-busy=${s.list.loading ? 'true' : 'false'}>${table()}</div>
      ${pager(s.list, list.page)}
    </section>`, root);
  }

  draw();
  load().then(() => {
    if (!s.creating) return;
    const el = root.querySelector('#' + form);
    if (el && kept.restore(el)) { s.target = el.elements.namedItem('target').value || 'team'; draw(); }
  });
  return () => { alive = false; };
}

/** A webhook's page: change it, a new secret, delete it, and its delivery log. */
export function mountItem(root, ctx) {
  const id = ctx.params.id;
  const form = 'edit-webhook';
  const s = { hook: null, places: null, error: null, form: { err: null, busy: false, saved: false }, secret: '', by: '',
    act: { err: null, busy: false }, log: cursorList() };
  let alive = true;
  const send = formSender(s, root, () => draw());
  const deliveries = pagedList(s, 'log', {
    fetch: (cursor) => api.get(`/webhooks/${encodeURIComponent(id)}/deliveries`, { before: cursor || undefined, limit: PAGE }),
    draw: () => draw(),
    alive: () => alive,
  });
  const loadLog = deliveries.load;

  async function load() {
    try {
      const [hook, places] = await Promise.all([api.get(`/webhooks/${encodeURIComponent(id)}`), loadPlaces()]);
      if (!alive) return;
      s.hook = hook;
      s.places = places;
      s.by = hook.created_by;
      if (s.by.startsWith('user:')) {
        s.by = await api.get(`/users/${encodeURIComponent(s.by.slice(5))}`).then((u) => u.username, () => hook.created_by);
      }
    } catch (e) {
      if (!alive) return;
      s.error = e;
    }
    draw();
    if (s.hook) loadLog();
  }

  async function save(ev) {
    ev.preventDefault();
    const el = ev.target;
    const v = values(el);
    const sent = await send('form', form, { saved: false }, async () => {
      s.hook = await api.call('PATCH', `/webhooks/${encodeURIComponent(id)}`, {
        body: { url: v.url, enabled: el.elements.namedItem('enabled').checked, min_severity: v.min_severity || '' },
      });
      return { saved: true };
    });
    if (sent) draw();
  }

  async function rotate() {
    if (!confirm(t('admin.webhooks.rotate_confirm'))) return;
    const sent = await send('act', '', {}, async () => {
      const r = await api.post(`/webhooks/${encodeURIComponent(id)}/rotate-secret`);
      s.secret = r.secret;
    });
    if (sent) draw();
    focusOn(root, '.secret-panel');
  }

  async function remove() {
    if (!confirm(t('admin.webhooks.delete_confirm', { url: s.hook.url }))) return;
    const sent = await send('act', '', {}, async () => { await api.del(`/webhooks/${encodeURIComponent(id)}`); });
    if (sent) ctx.go(pathOf('webhooks'));
  }

  function log() {
    const l = s.log;
    const tz = zoneOf(s.hook, s.places);
    const when = (iso) => (iso ? dateTime(iso, tz) : '—');
    return html`<section class="panel" aria-labelledby="log-title">
      <h2 id="log-title" tabindex="-1">${t('admin.webhooks.log')}</h2>
      <p class="muted small">${t('admin.webhooks.log_text')} ${t('admin.times_in', { zone: tz })}</p>
      ${listState(l, loadLog)}
      ${l.loading && !l.items.length ? html`<p class="loading">${t('app.loading')}</p>`
    : !l.items.length ? html`<p class="empty">${t('admin.webhooks.no_deliveries')}</p>`
      : html`<div class="table-scroll"><table class="data-table deliveries">
        <thead><tr><th scope="col">${t('admin.webhooks.queued')}</th><th scope="col">${t('admin.webhooks.event')}</th>
          <th scope="col">${t('admin.users.state')}</th><th scope="col">${t('admin.webhooks.attempts')}</th>
          <th scope="col">${t('admin.webhooks.last')}</th><th scope="col">${t('admin.webhooks.next_or_delivered')}</th></tr></thead>
        <tbody>${repeat(l.items, (d) => d.id, (d) => html`<tr data-id=${d.id} class="delivery-${d.state}">
          <th scope="row">${when(d.created_at)}</th>
          <td>${t('event.' + d.event_type)} <span class="muted small mono">#${d.event}</span></td>
          <td><span class="tag delivery-state"><span aria-hidden="true">${DELIVERY_ICONS[d.state] || ''}</span>
            ${DELIVERY_STATES[d.state] ? t(DELIVERY_STATES[d.state]) : d.state}</span></td>
          <td>${d.attempts}</td>
          <td>${d.last_status ? html`HTTP ${d.last_status}` : nothing} ${d.last_error ? html`<span class="small">${d.last_error}</span>` : nothing}
            ${d.last_attempt_at ? html`<br><span class="muted small">${when(d.last_attempt_at)}</span>` : nothing}</td>
          <td>${d.delivered_at ? when(d.delivered_at) : d.next_attempt_at ? t('admin.webhooks.next_at', { when: when(d.next_attempt_at) }) : '—'}</td>
        </tr>`)}</tbody></table></div>`}
      ${pager(l, deliveries.page)}
    </section>`;
  }

  function draw() {
    if (!alive || drawPending(root, s.error, s.hook, 'webhooks', t('admin.webhooks.title'))) return;
    const w = s.hook;
    const err = s.form.err;
    render(html`<section class="admin-section" aria-labelledby="hook-title">
      <p class="crumbs"><a href=${pathOf('webhooks')}>${t('admin.webhooks.title')}</a> <span aria-hidden="true">›</span></p>
      <h2 id="hook-title">${t('admin.webhooks.one')} #${w.id}: ${targetOf(w, s.places)}</h2>
      <p class="muted small">${t('admin.webhooks.made_by', { who: s.by, when: dateTime(w.created_at, zoneOf(w, s.places)) })}</p>
      ${s.secret ? secretPanel({ title: t('admin.webhooks.secret_title'), value: s.secret, warning: t('admin.webhooks.secret_warning'),
    onDone: () => { s.secret = ''; draw(); } }) : nothing}
      <form id=${form} data-form=${form} class="form admin-form" @submit=${save} novalidate>
        <div class="form-grid">
          ${field(form, { name: 'url', label: t('admin.webhooks.url'), type: 'url', value: w.url, required: true, hint: t('admin.hint.webhook_url') }, err)}
          ${field(form, { name: 'min_severity', label: t('admin.webhooks.min_severity'), type: 'select', value: w.min_severity || '', options: severityOptions() }, err)}
          ${field(form, { name: 'enabled', label: t('admin.webhooks.enabled'), type: 'checkbox', value: w.enabled, hint: t('admin.hint.webhook_enabled') }, err)}
        </div>
        ${formError(err, FIELDS)}
        ${s.form.saved ? okNotice(t('admin.saved')) : nothing}
        <div class="form-actions"><button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${t('admin.save')}</button></div>
      </form>
      <section class="panel" aria-labelledby="hook-actions">
        <h2 id="hook-actions">${t('admin.webhooks.secret')}</h2>
        <p class="muted small">${t('admin.webhooks.rotate_text')}</p>
        ${formError(s.act.err)}
        <div class="form-actions">
          <button type="button" class="btn" ?disabled=${s.act.busy} @click=${rotate}>${t('admin.webhooks.rotate')}</button>
          <button type="button" class="btn btn-danger" ?disabled=${s.act.busy} @click=${remove}>${t('admin.webhooks.delete')}</button>
        </div>
      </section>
      ${log()}
    </section>`, root);
  }

  draw();
  load();
  return () => { alive = false; };
}
