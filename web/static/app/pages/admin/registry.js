// The registry's lists and forms for an admin: sites, teams, patients and devices. A list is
// paged with the API's cursor and searched by the start of an id; a new one is made in a form
// above the list, and one is changed on its own page. Every form keeps what was typed when the
// API refuses it, and shows the API's error next to the field it names.
import { html, render, nothing, repeat } from '../../lit.js';
import { t } from '../../i18n.js';
import * as api from '../../api.js';
import { formError, values } from '../../forms.js';
import {
  field, checkGroup, checked, formSender, focusOn, okNotice, announce, drawPending, draft, secretPanel, cursorList, pagedList,
  pager, listState, afterFor, pathOf,
} from './common.js';
import { KINDS } from './kinds.js';

const PAGE = 50;

/** The names and zones of the sites and teams, for the selects and the lists. */
export async function loadPlaces() {
  const [sites, teams] = await Promise.all([
    api.all('/sites', { limit: 1000 }, { cursor: 'after' }),
    api.all('/teams', { limit: 1000 }, { cursor: 'after' }),
  ]);
  const siteByID = new Map(sites.map((s) => [s.id, s]));
  const teamByID = new Map(teams.map((x) => [x.id, x]));
  // The zone of times that belong to no one site (the audit log, a user's tokens): the sites'
  // zone when they share one, else UTC.
  const zones = [...new Set(sites.map((x) => x.time_zone).filter(Boolean))];
  return {
    sites, teams, zone: zones.length === 1 ? zones[0] : 'UTC', zones,
    zoneOf: (site) => (siteByID.get(site) || {}).time_zone || '',
    teamZone: (team) => ((siteByID.get((teamByID.get(team) || {}).site) || {}).time_zone) || '',
    names: {
      site: (id) => (siteByID.has(id) ? `${siteByID.get(id).name || id}` : id),
      team: (id) => (teamByID.has(id) ? `${teamByID.get(id).name || id}` : id),
    },
  };
}

/** The list of a kind, with its search, filters and the form of a new one. */
export function mountList(root, ctx, section) {
  const kind = KINDS[section];
  const s = {
    list: cursorList(),
    q: ctx.query.get('q') || '',
    filters: Object.fromEntries(['site', 'team', 'kind', 'status'].map((k) => [k, ctx.query.get(k) || ''])),
    creating: ctx.query.get('new') === '1',
    form: { err: null, busy: false },
    created: null, // {id, secret}
    places: null,
  };
  const form = 'create-' + section;
  const kept = draft(form);
  let alive = true;
  const send = formSender(s, root, () => draw());
  const list = pagedList(s, 'list', {
    fetch: async (cursor) => {
      if (!s.places) s.places = await loadPlaces();
      const q = { limit: PAGE };
      for (const f of kind.filters(placesCtx())) if (s.filters[f.name]) q[f.name] = s.filters[f.name];
      q.after = cursor || afterFor(s.q) || undefined;
      const page = await api.get(kind.path, q);
      let items = page.items || [];
      let next = page.next || '';
      if (s.q) {
        const matching = items.filter((x) => x.id.startsWith(s.q));
        if (matching.length < items.length) next = ''; // past the ids that start with the search
        items = matching;
      }
      return { items, next };
    },
    draw: () => draw(),
    alive: () => alive,
  });
  const load = list.load;

  function placesCtx() {
    const p = s.places || { sites: [], teams: [], zoneOf: () => '', names: { site: (x) => x, team: (x) => x } };
    return { ...p, query: ctx.query };
  }

  function syncQuery() {
    ctx.setQuery({ q: s.q, ...s.filters, new: s.creating ? '1' : '' });
  }

  function search(ev) {
    ev.preventDefault();
    const v = values(ev.target);
    s.q = v.q || '';
    for (const f of kind.filters(placesCtx())) s.filters[f.name] = v[f.name] || '';
    syncQuery();
    list.first();
  }

  function page(where) {
    list.page(where);
    focusOn(root, '.admin-list-title');
  }

  function openCreate() {
    s.creating = true;
    s.created = null;
    syncQuery();
    draw();
    kept.restore(root.querySelector('#' + form));
    focusOn(root, `#${form} input:not([readonly]), #${form} select`);
  }

  function closeCreate() {
    s.creating = false;
    s.form = { err: null, busy: false };
    kept.clear();
    syncQuery();
    draw();
  }

  async function create(ev) {
    ev.preventDefault();
    if (s.form.busy) return;
    const v = values(ev.target);
    const sent = await send('form', form, {}, async () => {
      const body = kind.body(v, undefined, placesCtx());
      const made = await api.post(kind.path, body);
      kept.clear();
      s.created = { id: made.id, secret: made.secret || '' };
      s.creating = false;
    });
    if (!sent) return;
    if (section === 'sites' || section === 'teams') s.places = null; // the selects show the new one
    syncQuery();
    ev.target.reset();
    announce(t(kind.created, { id: s.created.id }));
    await load();
    focusOn(root, '.secret-panel, .created-notice');
  }

  function createForm() {
    if (!s.creating) return nothing;
    if (!s.places) return html`<p class="loading">${t('app.loading')}</p>`; // the selects need the sites and teams
    const c = placesCtx();
    const fields = kind.fields(undefined, c);
    const err = s.form.err;
    return html`<form id=${form} data-form=${form} class="form admin-form" @submit=${create} @input=${(e) => kept.save(e.currentTarget)}
        @change=${(e) => kept.save(e.currentTarget)} novalidate aria-labelledby="${form}-title">
      <h2 id="${form}-title">${t(kind.create)}</h2>
      <div class="form-grid">${fields.map((f) => field(form, f, err))}</div>
      ${kind.extra ? kind.extra() : nothing}
      ${formError(err, fields.map((f) => f.name))}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${s.form.busy ? t('admin.saving') : t(kind.create)}</button>
        <button class="btn" type="button" @click=${closeCreate}>${t('action.cancel')}</button>
      </div>
    </form>`;
  }

  function createdNotice() {
    const c = s.created;
    if (!c) return nothing;
    const link = html`<a href=${pathOf(section, c.id)}>${c.id}</a>`;
    if (c.secret) {
      return secretPanel({ title: t('admin.devices.secret_title', { id: c.id }), value: c.secret, warning: t('admin.devices.secret_warning'),
        more: html`<p>${t('admin.created_open')} ${link}</p>`, onDone: () => { s.created = { id: c.id }; draw(); } });
    }
    return html`<p class="notice notice-ok created-notice" role="status" tabindex="-1">
      <span aria-hidden="true">✓</span> ${t(kind.created, { id: c.id })} ${link}</p>`;
  }

  function filterBar() {
    const c = placesCtx();
    const fs = kind.filters(c);
    return html`<form class="filters admin-filters" role="search" @submit=${search} aria-label=${t('admin.search_label')}>
      <div class="field">
        <label for="admin-q">${t('admin.search_id')}</label>
        <input id="admin-q" name="q" value=${s.q} autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64"
          aria-describedby="admin-q-hint">
        <span class="hint" id="admin-q-hint">${t('admin.search_hint')}</span>
      </div>
      ${fs.map((f) => html`<div class="field">
        <label for="admin-filter-${f.name}">${f.label}</label>
        <select id="admin-filter-${f.name}" name=${f.name}>
          <option value="" ?selected=${!s.filters[f.name]}>${t('filter.all')}</option>
          ${f.options.map(([v, w]) => html`<option value=${v} ?selected=${s.filters[f.name] === v}>${w}</option>`)}
        </select></div>`)}
      <div class="form-actions"><button class="btn" type="submit">${t('admin.search')}</button></div>
    </form>`;
  }

  function table() {
    const l = s.list;
    if (l.loading && !l.items.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (!l.items.length) return html`<p class="empty">${s.q ? t('admin.none_match', { q: s.q }) : t('admin.empty')}</p>`;
    const names = placesCtx().names;
    return html`<div class="panel"><table class="data-table admin-table">
      <thead><tr>${kind.columns.map(([h]) => html`<th scope="col">${h()}</th>`)}</tr></thead>
      <tbody>${repeat(l.items, (x) => x.id, (x) => html`<tr data-id=${x.id}>
        ${kind.columns.map(([, cell], i) => (i === 0
    ? html`<th scope="row"><a href=${pathOf(section, x.id)}>${cell(x, names)}</a></th>`
    : html`<td>${cell(x, names)}</td>`))}
      </tr>`)}</tbody>
    </table></div>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="admin-section" aria-labelledby="admin-list-title">
      <div class="admin-head">
        <h2 id="admin-list-title" class="admin-list-title" tabindex="-1">${t(kind.title)}</h2>
        ${s.creating ? nothing : html`<button type="button" class="btn btn-primary" @click=${openCreate}>+ ${t(kind.create)}</button>`}
      </div>
      ${createdNotice()}
      ${createForm()}
      ${filterBar()}
      ${listState(s.list, load)}
      <div aria-busy=${s.list.loading ? 'true' : 'false'}>${table()}</div>
      ${pager(s.list, page)}
    </section>`, root);
  }

  draw();
  if (s.creating) kept.restore(root.querySelector('#' + form));
  load().then(() => {
    if (!s.creating) return;
    draw();
    kept.restore(root.querySelector('#' + form));
    const first = root.querySelector(`#${form} input:not([readonly]), #${form} select`);
    if (first && !root.contains(document.activeElement)) first.focus();
  });
  return () => { alive = false; };
}

/** One registry item's page: its form, and what belongs to it (a team's roster, a device's secret). */
export function mountItem(root, ctx, section) {
  const kind = KINDS[section];
  const id = ctx.params.id;
  const form = 'edit-' + section;
  const s = { item: null, error: null, places: null, form: { err: null, busy: false }, saved: false, doctors: [], secret: '',
    rotate: { busy: false, err: null }, transfer: { err: null, busy: false, done: null } };
  const kept = draft(`${form}:${id}`);
  let alive = true;
  const send = formSender(s, root, () => draw());

  async function load() {
    try {
      const [item, places] = await Promise.all([api.get(`${kind.path}/${encodeURIComponent(id)}`), loadPlaces()]);
      if (!alive) return;
      s.item = item;
      s.places = places;
      if (section === 'teams') {
        s.doctors = await api.all('/users', { team: id, role: 'doctor', limit: 1000 }, { cursor: 'after' });
      }
      ctx.setTitle(`${t(kind.one)} ${id}`);
    } catch (e) {
      if (!alive) return;
      s.error = e;
    }
    draw();
    if (s.item && kept.restore(root.querySelector('#' + form))) draw();
  }

  function placesCtx() {
    return { ...s.places, query: ctx.query };
  }

  async function save(ev) {
    ev.preventDefault();
    if (s.form.busy) return;
    const v = values(ev.target);
    s.saved = false;
    const sent = await send('form', form, {}, async () => {
      const body = kind.body(v, s.item, placesCtx());
      if (section === 'teams') {
        body.lead = v.lead || '';
        body.on_call = checked(ev.target, 'on_call');
      }
      s.item = await api.call('PATCH', `${kind.path}/${encodeURIComponent(id)}`, { body });
      kept.clear();
    });
    if (!sent) return;
    s.saved = true;
    announce(t('admin.saved'));
    draw();
  }

  async function rotateSecret() {
    if (!confirm(t('admin.devices.rotate_confirm', { id }))) return;
    const sent = await send('rotate', '', {}, async () => {
      const r = await api.post(`/devices/${encodeURIComponent(id)}/secret`);
      s.secret = r.secret;
    });
    if (!sent) return;
    draw();
    focusOn(root, '.secret-panel');
  }

  async function transfer(ev) {
    ev.preventDefault();
    const v = values(ev.target);
    const sent = await send('transfer', 'transfer', { done: null }, async () => {
      const tr = await api.post(`/patients/${encodeURIComponent(id)}/transfer`, { team: v.team, device_policy: v.device_policy });
      s.item = await api.get(`/patients/${encodeURIComponent(id)}`);
      ev.target.reset();
      return { done: tr };
    });
    if (!sent) return;
    draw();
    // The team field is drawn from the item: put the new one in, as the attribute alone does not.
    const teamInput = root.querySelector(`#${form}-team`);
    if (teamInput) teamInput.value = s.item.team;
  }

  function teamRoster(err) {
    const item = s.item;
    // The roster's order is the paging order: its members first, as they are, then the others.
    const enabled = s.doctors.filter((u) => !u.disabled);
    const onCall = item.on_call || [];
    const ordered = [...onCall.map((id) => enabled.find((u) => u.id === id)).filter(Boolean),
      ...enabled.filter((u) => !onCall.includes(u.id))];
    const docs = ordered.map((u) => [u.id, u.username]);
    return html`<fieldset class="admin-fieldset"><legend>${t('admin.teams.escalation')}</legend>
      ${field(form, { name: 'lead', label: t('admin.field.lead'), type: 'select', value: item.lead, blank: t('admin.none'),
        options: docs, hint: docs.length ? t('admin.hint.lead') : t('admin.hint.no_doctors') }, err)}
      ${checkGroup(form, { name: 'on_call', label: t('admin.field.on_call'), value: item.on_call, options: docs,
        empty: t('admin.hint.no_doctors'), hint: t('admin.hint.on_call') }, err)}
    </fieldset>`;
  }

  function deviceSecret() {
    if (s.secret) {
      return secretPanel({ title: t('admin.devices.secret_title', { id }), value: s.secret, warning: t('admin.devices.secret_warning'),
        onDone: () => { s.secret = ''; draw(); } });
    }
    return html`<section class="panel" aria-labelledby="rotate-title"><h2 id="rotate-title">${t('admin.devices.secret')}</h2>
      <p class="muted">${t('admin.devices.secret_text')}</p>
      ${formError(s.rotate.err)}
      <button type="button" class="btn" ?disabled=${s.rotate.busy} @click=${rotateSecret}>${t('admin.devices.rotate')}</button>
    </section>`;
  }

  function transferForm() {
    const tr = s.transfer;
    const teams = s.places.teams.filter((x) => x.id !== s.item.team).map((x) => [x.id, `${x.name || x.id} (${x.id})`]);
    return html`<form id="transfer" data-form="transfer" class="form admin-form inline-form" @submit=${transfer} novalidate aria-labelledby="transfer-title">
      <h2 id="transfer-title">${t('admin.patients.transfer')}</h2>
      <p class="muted small">${t('admin.patients.transfer_text')}</p>
      ${tr.done ? html`<p class="notice notice-ok" role="status">${t('admin.patients.transferred', { from: tr.done.from_team, to: tr.done.to_team })}</p>` : nothing}
      ${field('transfer', { name: 'team', label: t('admin.patients.new_team'), type: 'select', blank: t('admin.choose'), options: teams, required: true }, tr.err)}
      ${field('transfer', { name: 'device_policy', label: t('admin.patients.devices'), type: 'select', value: 'travel',
        options: [['travel', t('admin.patients.travel')], ['return', t('admin.patients.return')]] }, tr.err)}
      ${formError(tr.err, ['team', 'device_policy'])}
      <div class="form-actions"><button class="btn" type="submit" ?disabled=${tr.busy}>${t('admin.patients.transfer')}</button></div>
    </form>`;
  }

  function draw() {
    if (!alive || drawPending(root, s.error, s.item, section, t(kind.title))) return;
    const c = placesCtx();
    const fields = kind.fields(s.item, c);
    const err = s.form.err;
    const names = [...fields.map((f) => f.name), ...(section === 'teams' ? ['lead', 'on_call'] : [])];
    render(html`<section class="admin-section" aria-labelledby="${form}-title">
      <p class="crumbs"><a href=${pathOf(section)}>${t(kind.title)}</a> <span aria-hidden="true">›</span></p>
      <h2 id="${form}-title">${t(kind.one)} <span class="mono">${id}</span></h2>
      <form id=${form} data-form=${form} class="form admin-form" @submit=${save} novalidate
          @input=${(e) => kept.save(e.currentTarget)} @change=${(e) => kept.save(e.currentTarget)}>
        <div class="form-grid">${fields.map((f) => field(form, f, err))}</div>
        ${kind.extra ? kind.extra() : nothing}
        ${section === 'teams' ? teamRoster(err) : nothing}
        ${formError(err, names)}
        ${s.saved ? okNotice(t('admin.saved')) : nothing}
        <div class="form-actions">
          <button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${s.form.busy ? t('admin.saving') : t('admin.save')}</button>
          <a class="btn" href=${pathOf(section)}>${t('admin.back_to', { what: t(kind.title) })}</a>
        </div>
      </form>
      ${section === 'devices' ? deviceSecret() : nothing}
      ${section === 'patients' ? transferForm() : nothing}
      <p class="muted small"><a href="/app/admin/audit?subject=${encodeURIComponent(section.slice(0, -1) + '/' + id)}">${t('admin.audit.of_this')}</a></p>
    </section>`, root);
  }

  draw();
  load();
  return () => { alive = false; };
}
