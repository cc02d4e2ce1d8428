// Users and their API tokens: the list (by role), a new user (a role, and a doctor's teams or a
// fleet manager's sites), and a user's page: change, disable or enable, set a password, and the
// API tokens, each made with a name and shown this once with a copy button, and revoked.
import { html, render, nothing, repeat } from '../../lit.js';
import { t } from '../../i18n.js';
import * as api from '../../api.js';
import { formError, values } from '../../forms.js';
import { dateTime } from '../../format.js';
import {
  field, checkGroup, checked, formSender, focusOn, okNotice, drawPending, draft, secretPanel, cursorList, pagedList, pager,
  listState, pathOf,
} from './common.js';
import { loadPlaces } from './registry.js';

const ROLES = ['doctor', 'fleet_manager', 'admin'];
const ROLE_WORDS = { doctor: 'role.doctor', fleet_manager: 'role.fleet_manager', admin: 'role.admin' };
const roleName = (r) => (ROLE_WORDS[r] ? t(ROLE_WORDS[r]) : r);
const PAGE = 50;

// The fields of a user's form: who, the role, and the teams or sites the role has (the other
// group is hidden, not removed, so that switching back keeps the choice).
function userFields(form, u, role, places, err, onRole) {
  const teams = places.teams.map((x) => [x.id, `${x.name || x.id} (${x.id})`]);
  const sites = places.sites.map((x) => [x.id, `${x.name || x.id} (${x.id})`]);
  return html`
    ${field(form, { name: 'username', label: t('admin.users.username'), value: u && u.username, required: true, maxlength: 64,
      hint: t('admin.hint.username') }, err)}
    ${field(form, { name: 'role', label: t('admin.users.role'), type: 'select', value: role, required: true,
      options: ROLES.map((r) => [r, roleName(r)]), onChange: onRole }, err)}
    ${checkGroup(form, { name: 'teams', label: t('admin.users.teams'), value: u && u.teams, options: teams, hidden: role !== 'doctor',
      hint: t('admin.hint.teams'), empty: t('admin.users.no_teams') }, err)}
    ${checkGroup(form, { name: 'sites', label: t('admin.users.sites'), value: u && u.sites, options: sites, hidden: role !== 'fleet_manager',
      hint: t('admin.hint.sites'), empty: t('admin.users.no_sites') }, err)}`;
}

// The body of a user's form: the teams for a doctor, the sites for a fleet manager.
function userBody(formEl, v) {
  const b = { username: v.username, role: v.role, teams: [], sites: [] };
  if (v.role === 'doctor') b.teams = checked(formEl, 'teams');
  if (v.role === 'fleet_manager') b.sites = checked(formEl, 'sites');
  return b;
}

const USER_FIELDS = ['username', 'role', 'teams', 'sites', 'password', 'disabled'];

// The input of a form by name (form.role would be the form's ARIA role, not the input).
const named = (form, name) => form.elements.namedItem(name);

// The time zone a user's times are shown in: their team's or site's, else the registry's.
function zoneOfUser(u, places) {
  if (u.role === 'doctor' && u.teams.length) return places.teamZone(u.teams[0]) || places.zone;
  if (u.role === 'fleet_manager' && u.sites.length) return places.zoneOf(u.sites[0]) || places.zone;
  return places.zone;
}

/** The users, by id, with the form of a new one. */
export function mountList(root, ctx) {
  const s = {
    list: cursorList(), role: ctx.query.get('role') || '', creating: ctx.query.get('new') === '1',
    newRole: 'doctor', form: { err: null, busy: false }, created: null, places: null,
  };
  const form = 'create-user';
  const kept = draft(form);
  let alive = true;
  const send = formSender(s, root, () => draw());
  const list = pagedList(s, 'list', {
    fetch: async (cursor) => {
      const [page, places] = await Promise.all([
        api.get('/users', { role: s.role || undefined, after: cursor || undefined, limit: PAGE }),
        s.places ? s.places : loadPlaces(),
      ]);
      return { ...page, places };
    },
    fresh: (page) => { s.places = page.places; },
    draw: () => draw(),
    alive: () => alive,
  });
  const load = list.load;

  function syncQuery() {
    ctx.setQuery({ role: s.role, new: s.creating ? '1' : '' });
  }

  function openCreate() {
    s.creating = true;
    s.created = null;
    syncQuery();
    draw();
    restore();
    focusOn(root, `#${form}-username`);
  }

  function restore() {
    const el = root.querySelector('#' + form);
    if (el && kept.restore(el)) {
      s.newRole = named(el, 'role').value || 'doctor';
      draw();
    }
  }

  async function create(ev) {
    ev.preventDefault();
    if (s.form.busy) return;
    const el = ev.target;
    const v = values(el);
    const body = userBody(el, v);
    if (named(el, 'password').value) body.password = named(el, 'password').value;
    if (named(el, 'disabled').checked) body.disabled = true;
    const sent = await send('form', form, {}, async () => {
      const u = await api.post('/users', body);
      kept.clear();
      el.reset();
      s.created = u;
      s.creating = false;
    });
    if (!sent) return;
    syncQuery();
    await load();
    focusOn(root, '.created-notice');
  }

  function createForm() {
    if (!s.creating || !s.places) return nothing;
    const err = s.form.err;
    return html`<form id=${form} data-form=${form} class="form admin-form" @submit=${create} novalidate aria-labelledby="${form}-title"
        @input=${(e) => kept.save(e.currentTarget)} @change=${(e) => kept.save(e.currentTarget)}>
      <h2 id="${form}-title">${t('admin.users.create')}</h2>
      <div class="form-grid">
        ${userFields(form, undefined, s.newRole, s.places, err, (e) => { s.newRole = e.target.value; draw(); })}
        ${field(form, { name: 'password', label: t('admin.users.password'), type: 'password', autocomplete: 'new-password',
          hint: t('admin.hint.password_new') }, err)}
        ${field(form, { name: 'disabled', label: t('admin.users.create_disabled'), type: 'checkbox' }, err)}
      </div>
      ${formError(err, USER_FIELDS)}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${s.form.busy ? t('admin.saving') : t('admin.users.create')}</button>
        <button class="btn" type="button" @click=${() => { s.creating = false; s.form = { err: null, busy: false }; kept.clear(); syncQuery(); draw(); }}>${t('action.cancel')}</button>
      </div>
    </form>`;
  }

  function memberships(u) {
    if (!s.places) return '';
    if (u.role === 'doctor') return u.teams.map((id) => (s.places.teams.find((x) => x.id === id) || { name: id }).name || id).join(', ');
    if (u.role === 'fleet_manager') return u.sites.map((id) => (s.places.sites.find((x) => x.id === id) || { name: id }).name || id).join(', ');
    return '—';
  }

  function table() {
    const l = s.list;
    if (l.loading && !l.items.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (!l.items.length) return html`<p class="empty">${t('admin.empty')}</p>`;
    return html`<div class="panel"><table class="data-table admin-table">
      <thead><tr><th scope="col">${t('admin.users.username')}</th><th scope="col">${t('admin.users.role')}</th>
        <th scope="col">${t('admin.users.teams_or_sites')}</th><th scope="col">${t('admin.users.state')}</th></tr></thead>
      <tbody>${repeat(l.items, (u) => u.id, (u) => html`<tr data-id=${u.id}>
        <th scope="row"><a href=${pathOf('users', u.id)}>${u.username}</a></th>
        <td>${roleName(u.role)}</td><td>${memberships(u)}</td>
        <td>${u.disabled ? html`<span class="tag tag-off"><span aria-hidden="true">⊘</span> ${t('admin.users.disabled')}</span>`
    : html`<span class="tag tag-on"><span aria-hidden="true">✓</span> ${t('admin.users.enabled')}</span>`}
          ${u.has_password ? nothing : html`<span class="tag">${t('admin.users.tokens_only')}</span>`}</td>
      </tr>`)}</tbody></table></div>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="admin-section" aria-labelledby="users-title">
      <div class="admin-head">
        <h2 id="users-title">${t('admin.users.title')}</h2>
        ${s.creating ? nothing : html`<button type="button" class="btn btn-primary" @click=${openCreate}>+ ${t('admin.users.create')}</button>`}
      </div>
      ${s.created ? html`<p class="notice notice-ok created-notice" role="status" tabindex="-1"><span aria-hidden="true">✓</span>
        ${t('admin.users.created', { name: s.created.username })} <a href=${pathOf('users', s.created.id)}>${t('admin.users.open')}</a></p>` : nothing}
      ${createForm()}
      <div class="filters">
        <div class="field"><label for="users-role">${t('admin.users.role')}</label>
          <select id="users-role" @change=${(e) => { s.role = e.target.value; syncQuery(); list.first(); }}>
            <option value="" ?selected=${!s.role}>${t('filter.all')}</option>
            ${ROLES.map((r) => html`<option value=${r} ?selected=${s.role === r}>${roleName(r)}</option>`)}
          </select></div>
      </div>
      ${listState(s.list, load)}
      <div aria-busy=${s.list.loading ? 'true' : 'false'}>${table()}</div>
      ${pager(s.list, list.page)}
    </section>`, root);
  }

  draw();
  load().then(() => { if (s.creating) restore(); });
  return () => { alive = false; };
}

/** A user's page: change, disable or enable, a new password, and the API tokens. */
export function mountItem(root, ctx) {
  const id = ctx.params.id;
  const form = 'edit-user';
  const s = {
    user: null, places: null, tokens: [], error: null, role: '',
    form: { err: null, busy: false, saved: false },
    toggle: { err: null, busy: false },
    pw: { err: null, busy: false, done: false },
    token: { err: null, busy: false, made: null },
    revoke: { err: null, busy: '' },
  };
  const kept = draft(`${form}:${id}`);
  let alive = true;
  const send = formSender(s, root, () => draw());

  async function load() {
    try {
      const [u, places, tokens] = await Promise.all([api.get(`/users/${encodeURIComponent(id)}`), loadPlaces(),
        api.get(`/users/${encodeURIComponent(id)}/tokens`)]);
      if (!alive) return;
      s.user = u;
      s.role = u.role;
      s.places = places;
      s.tokens = tokens.items || [];
      ctx.setTitle(`${u.username} · ${t('admin.users.title')}`);
    } catch (e) {
      if (!alive) return;
      s.error = e;
    }
    draw();
    const el = root.querySelector('#' + form);
    if (el && kept.restore(el)) { s.role = named(el, 'role').value; draw(); }
  }

  async function patch(body) {
    s.user = await api.call('PATCH', `/users/${encodeURIComponent(id)}`, { body });
    return s.user;
  }

  async function save(ev) {
    ev.preventDefault();
    if (s.form.busy) return;
    const el = ev.target;
    const sent = await send('form', form, { saved: false }, async () => {
      await patch(userBody(el, values(el)));
      kept.clear();
      return { saved: true };
    });
    if (sent) draw();
  }

  async function toggle() {
    if (await send('toggle', '', {}, async () => { await patch({ disabled: !s.user.disabled }); })) draw();
  }

  async function setPassword(ev) {
    ev.preventDefault();
    const el = ev.target;
    const sent = await send('pw', 'password', { done: false }, async () => {
      await patch({ password: named(el, 'password').value });
      el.reset();
      return { done: true };
    });
    if (sent) draw();
  }

  async function makeToken(ev) {
    ev.preventDefault();
    const el = ev.target;
    const sent = await send('token', 'token', { made: null }, async () => {
      const made = await api.post(`/users/${encodeURIComponent(id)}/tokens`, { name: values(el).name });
      el.reset();
      const list = await api.get(`/users/${encodeURIComponent(id)}/tokens`);
      s.tokens = list.items || [];
      return { made };
    });
    if (!sent) return;
    draw();
    focusOn(root, '.secret-panel');
  }

  async function revoke(tok) {
    if (!confirm(t('admin.tokens.revoke_confirm', { name: tok.name }))) return;
    s.revoke = { err: null, busy: tok.id };
    draw();
    try {
      await api.del(`/users/${encodeURIComponent(id)}/tokens/${encodeURIComponent(tok.id)}`);
      const list = await api.get(`/users/${encodeURIComponent(id)}/tokens`);
      s.tokens = list.items || [];
      s.revoke = { err: null, busy: '' };
    } catch (e) {
      s.revoke = { err: e, busy: '' };
    }
    draw();
  }

  function tokens() {
    const tk = s.token;
    const zone = zoneOfUser(s.user, s.places);
    const when = (iso) => (iso ? dateTime(iso, zone) : '—');
    return html`<section class="panel" aria-labelledby="tokens-title">
      <h2 id="tokens-title">${t('admin.tokens.title')}</h2>
      <p class="muted small">${t('admin.tokens.text')} ${t('admin.times_in', { zone: zone || 'UTC' })}</p>
      ${tk.made ? secretPanel({ title: t('admin.tokens.made', { name: tk.made.name }), value: tk.made.token,
    warning: t('admin.tokens.warning'), onDone: () => { s.token = { err: null, busy: false, made: null }; draw(); } }) : nothing}
      ${s.tokens.length ? html`<div class="table-scroll"><table class="data-table tokens">
        <thead><tr><th scope="col">${t('admin.tokens.name')}</th><th scope="col">${t('admin.tokens.created')}</th>
          <th scope="col">${t('admin.tokens.last_used')}</th><th scope="col">${t('admin.tokens.state')}</th><th scope="col"><span class="visually-hidden">${t('admin.actions')}</span></th></tr></thead>
        <tbody>${repeat(s.tokens, (x) => x.id, (x) => html`<tr data-id=${x.id}>
          <th scope="row">${x.name} <span class="muted small mono">${x.id}</span></th>
          <td>${when(x.created)}</td><td>${when(x.last_used)}</td>
          <td>${x.revoked ? html`<span class="tag tag-off"><span aria-hidden="true">⊘</span> ${t('admin.tokens.revoked', { when: when(x.revoked) })}</span>`
    : html`<span class="tag tag-on"><span aria-hidden="true">✓</span> ${t('admin.tokens.active')}</span>`}</td>
          <td>${x.revoked ? nothing : html`<button type="button" class="btn btn-small btn-danger" ?disabled=${s.revoke.busy === x.id}
            @click=${() => revoke(x)} aria-label=${t('admin.tokens.revoke_named', { name: x.name })}>${t('admin.tokens.revoke')}</button>`}</td>
        </tr>`)}</tbody></table></div>` : html`<p class="empty">${t('admin.tokens.none')}</p>`}
      ${formError(s.revoke.err)}
      <form id="token" data-form="token" class="form admin-form inline-form" @submit=${makeToken} novalidate>
        ${field('token', { name: 'name', label: t('admin.tokens.name'), required: true, maxlength: 100, hint: t('admin.hint.token_name') }, tk.err)}
        ${formError(tk.err, ['name'])}
        <div class="form-actions"><button class="btn" type="submit" ?disabled=${tk.busy}>${t('admin.tokens.create')}</button></div>
      </form>
    </section>`;
  }

  function draw() {
    if (!alive || drawPending(root, s.error, s.user, 'users', t('admin.users.title'))) return;
    const u = s.user;
    const err = s.form.err;
    render(html`<section class="admin-section" aria-labelledby="user-title">
      <p class="crumbs"><a href=${pathOf('users')}>${t('admin.users.title')}</a> <span aria-hidden="true">›</span></p>
      <h2 id="user-title">${u.username} <span class="muted small">${roleName(u.role)}</span>
        ${u.disabled ? html`<span class="tag tag-off"><span aria-hidden="true">⊘</span> ${t('admin.users.disabled')}</span>` : nothing}</h2>
      <form id=${form} data-form=${form} class="form admin-form" @submit=${save} novalidate
          @input=${(e) => kept.save(e.currentTarget)} @change=${(e) => kept.save(e.currentTarget)}>
        <div class="form-grid">${userFields(form, u, s.role, s.places, err, (e) => { s.role = e.target.value; draw(); })}</div>
        ${formError(err, USER_FIELDS)}
        ${s.form.saved ? okNotice(t('admin.saved')) : nothing}
        <div class="form-actions"><button class="btn btn-primary" type="submit" ?disabled=${s.form.busy}>${t('admin.save')}</button></div>
      </form>
      <section class="panel" aria-labelledby="access-title">
        <h2 id="access-title">${t('admin.users.access')}</h2>
        <p>${u.disabled ? t('admin.users.is_disabled') : t('admin.users.is_enabled')}</p>
        ${formError(s.toggle.err)}
        <button type="button" class=${u.disabled ? 'btn' : 'btn btn-danger'} ?disabled=${s.toggle.busy} @click=${toggle}>
          ${u.disabled ? t('admin.users.enable') : t('admin.users.disable')}</button>
      </section>
      <form id="password" data-form="password" class="form admin-form inline-form" @submit=${setPassword} novalidate aria-labelledby="pw-title">
        <h2 id="pw-title">${t('admin.users.set_password')}</h2>
        <p class="muted small">${u.has_password ? t('admin.users.password_ends_sessions') : t('admin.users.no_password')}</p>
        ${field('password', { name: 'password', label: t('admin.users.new_password'), type: 'password', autocomplete: 'new-password',
          hint: t('admin.hint.password') }, s.pw.err)}
        ${formError(s.pw.err, ['password'])}
        ${s.pw.done ? okNotice(t('admin.users.password_set')) : nothing}
        <div class="form-actions"><button class="btn" type="submit" ?disabled=${s.pw.busy}>${t('admin.users.set_password')}</button></div>
      </form>
      ${tokens()}
      <p class="muted small"><a href="/app/admin/audit?subject=${encodeURIComponent('user/' + id)}">${t('admin.audit.of_this')}</a></p>
    </section>`, root);
  }

  draw();
  load();
  return () => { alive = false; };
}
