// The reallocation plan and the moves of devices between centres. The plan lists the moves the
// planner proposes, each explained with both centres' devices and utilisation before and after
// and the distance, and the centres spare and short (with the growth flag of the assessment when
// the centre's patients on the type's plan grew); a planned move can be proposed as it is.
// The moves follow their chain of custody: proposed, approved (or rejected), dispatched,
// received (or cancelled), each step shown with who took it, when (in the centre's time zone)
// and the note. The API decides who may take which step; the page offers the steps the move's
// state allows and shows the API's refusal otherwise. Forms keep what was typed and show an
// error next to its field.
import { html, render, nothing } from '../lit.js';
import { t, lang } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { dateTime, number } from '../format.js';
import { errorText, fieldError, invalid, formError, values } from '../forms.js';
import {
  KINDS, kindName, siteName, siteZone, percent, verdictBadge, moveStateBadge, actorText, mySites, growthText, growthMoreText,
} from '../fleet.js';

const OPEN = ['proposed', 'approved', 'in_transit'];
const VIEWS = ['open', 'all'];
// The demand a plan judges by: last month's use, or next month's forecast.
const BASES = ['history', 'forecast'];
// The steps each state allows, in the order offered, and whether the step takes a note.
const STEPS = {
  proposed: [['approve', true], ['reject', true], ['cancel', true]],
  approved: [['dispatch', false], ['cancel', true]],
  in_transit: [['receive', false]],
};
const PROPOSE_FIELDS = ['kind', 'from', 'to', 'devices', 'reason'];

export function mount(root, ctx) {
  useStyles('fleet');
  const user = ctx.user;
  const s = {
    view: VIEWS.includes(ctx.query.get('view')) ? ctx.query.get('view') : 'open',
    basis: BASES.includes(ctx.query.get('basis')) ? ctx.query.get('basis') : 'history',
    plan: null, planError: null, planLoading: true,
    growth: new Map(), // site/type -> the assessment with its growth flag
    moves: [], movesError: null, movesLoading: true,
    users: new Map(), // admins: user id -> username
    propose: null, // {prefill, err, busy}
    step: null, // {id, action, note, err, busy}
    done: '', // what was last done, announced
  };
  let alive = true;
  const mine = () => mySites(user);

  // ---- data ----
  async function loadPlan() {
    s.planLoading = true;
    try {
      const [plan, assess] = await Promise.all([
        api.get('/reallocation/plan' + (s.basis === 'forecast' ? '?basis=forecast' : '')),
        api.get('/reallocation/assessment').catch(() => null), // the growth flags are a nicety
      ]);
      s.plan = plan;
      s.growth = new Map(((assess && assess.items) || []).filter((a) => a.growth).map((a) => [a.site + '/' + a.type, a]));
      s.planError = null;
    } catch (e) {
      s.planError = e;
    }
    s.planLoading = false;
    draw();
  }

  async function loadMoves() {
    s.movesLoading = true;
    draw();
    try {
      s.moves = await api.all('/moves', { limit: 200 }, { max: 1000 });
      s.movesError = null;
    } catch (e) {
      s.movesError = e;
    }
    s.movesLoading = false;
    draw();
  }

  async function loadUsers() {
    if (user.role !== 'admin') return;
    try {
      for (const u of await api.all('/users', { limit: 1000 }, { cursor: 'after' })) s.users.set(u.id, u.username);
      draw();
    } catch {
      // names are a nicety: the ids stand in for them
    }
  }

  function who(actor) {
    const id = actor && actor.startsWith('user:') ? actor.slice(5) : '';
    if (id && user && id === user.id) return t('actor.you');
    if (id && s.users.has(id)) return s.users.get(id);
    return actorText(actor, user);
  }

  function announce(text) {
    s.done = text;
    const el = document.getElementById('vw-announce');
    if (el) el.textContent = text;
  }

  // ---- proposing ----
  function openPropose(prefill = {}) {
    s.propose = null;
    draw(); // a new form, not the old one's inputs with what was typed in them
    s.propose = { prefill, err: null, busy: false };
    draw();
    const el = root.querySelector('#propose-form select, #propose-form input');
    if (el) el.focus();
    const form = root.querySelector('#propose-form');
    if (form) form.scrollIntoView({ block: 'nearest' });
  }

  async function submitPropose(ev) {
    ev.preventDefault();
    const p = s.propose;
    if (!p || p.busy) return;
    const v = values(ev.target);
    const devices = (v.devices || '').split(/[\s,;]+/).filter(Boolean);
    const local = checkPropose(v, devices);
    if (local) {
      p.err = local;
      draw();
      focusField(local.field);
      return;
    }
    p.busy = true;
    p.err = null;
    draw();
    try {
      const m = await api.post('/moves', { kind: v.kind, from: v.from, to: v.to, devices, reason: v.reason || '' });
      s.propose = null;
      s.moves = [m, ...s.moves.filter((x) => x.id !== m.id)];
      announce(t('fleet.plan.proposed', { id: m.id }));
      loadPlan();
      draw();
      const el = root.querySelector(`.move-card[data-id="${m.id}"]`);
      if (el) el.focus();
    } catch (e) {
      p.busy = false;
      p.err = e;
      draw();
      if (e.field) focusField(e.field);
    }
  }

  // checkPropose finds what the API would refuse without asking it: a field left empty.
  function checkPropose(v, devices) {
    const need = (field) => ({ status: 400, code: 'invalid', field, message: t('fleet.plan.required') });
    if (!KINDS.includes(v.kind)) return need('kind');
    if (!v.from) return need('from');
    if (!v.to) return need('to');
    if (v.from === v.to) return { status: 400, code: 'invalid', field: 'to', message: t('fleet.plan.same_site') };
    if (!devices.length) return need('devices');
    return null;
  }

  function focusField(field) {
    const el = root.querySelector(`#propose-form [name="${field}"]`);
    if (el) el.focus();
  }

  // ---- the steps of a move ----
  function openStep(m, action) {
    s.step = { id: m.id, action, err: null, busy: false };
    draw();
    const el = root.querySelector(`.move-card[data-id="${m.id}"] .step-form input, .move-card[data-id="${m.id}"] .step-form button[type=submit]`);
    if (el) el.focus();
  }

  async function submitStep(ev) {
    ev.preventDefault();
    const st = s.step;
    if (!st || st.busy) return;
    const withNote = (STEPS[moveOf(st.id)?.state] || []).find(([a]) => a === st.action)?.[1];
    st.busy = true;
    st.err = null;
    draw();
    try {
      const body = withNote ? { note: values(ev.target).note || '' } : undefined;
      const m = await api.post(`/moves/${st.id}/${st.action}`, body);
      s.moves = s.moves.map((x) => (x.id === m.id ? m : x));
      s.step = null;
      announce(t('fleet.plan.step_done', { id: m.id, state: t('fleet.move_state.' + m.state) }));
      if (!OPEN.includes(m.state) || m.state === 'in_transit') loadPlan();
      draw();
      const el = root.querySelector(`.move-card[data-id="${m.id}"]`);
      if (el) el.focus();
    } catch (e) {
      st.busy = false;
      st.err = e;
      draw();
    }
  }

  const moveOf = (id) => s.moves.find((m) => m.id === id);

  function keepQuery() {
    ctx.setQuery({ view: s.view === 'open' ? '' : s.view, basis: s.basis === 'history' ? '' : s.basis });
  }

  function setView(v) {
    s.view = v;
    keepQuery();
    draw();
  }

  function setBasis(b) {
    if (b === s.basis) return;
    s.basis = b;
    s.plan = null;
    keepQuery();
    loadPlan();
  }

  // ---- drawing: the plan ----
  function side(name, x) {
    return t('fleet.plan.side', {
      site: siteName(name), before: x.devices, after: x.devices_after,
      ubefore: percent(x.utilisation_before), uafter: percent(x.utilisation_after),
    });
  }

  function plannedMove(m) {
    const canPropose = user.role === 'admin' || mine().includes(m.from) || mine().includes(m.to);
    return html`<li class="planned">
      <h3>${t('fleet.plan.move_title', { n: m.count, type: kindName(m.type), from: siteName(m.from), to: siteName(m.to) })}</h3>
      <dl class="facts">
        <dt>${t('fleet.plan.donor')}</dt><dd>${side(m.from, m.donor)}</dd>
        <dt>${t('fleet.plan.receiver')}</dt><dd>${side(m.to, m.receiver)}</dd>
        <dt>${t('fleet.plan.distance')}</dt><dd>${t('fleet.km', { km: number(m.distance_km, 1) })}</dd>
        <dt>${t('fleet.plan.devices')}</dt><dd>${m.devices.join(', ')}</dd>
      </dl>
      ${lang === 'en' ? html`<p class="muted small explanation">${m.explanation}</p>` : nothing}
      ${canPropose ? html`<button type="button" class="btn" @click=${() => openPropose({ kind: m.type, from: m.from, to: m.to, devices: m.devices.join(', '), reason: m.explanation })}>
        ${t('fleet.plan.propose_this')}</button>` : nothing}
    </li>`;
  }

  function demandCell(a) {
    const f = a.forecast;
    if (!f) return number(a.demand_per_day, 1);
    return html`${number(f.mean, 1)} <span class="muted small">${t('fleet.plan.interval', { lo: number(f.lo80, 1), hi: number(f.hi80, 1) })}</span>`;
  }

  function underway(a) {
    if (a.arriving) return html` <span class="muted small">${t('fleet.plan.arriving', { n: a.arriving })}</span>`;
    if (a.leaving) return html` <span class="muted small">${t('fleet.plan.leaving', { n: a.leaving })}</span>`;
    return nothing;
  }

  function verdictRow(a) {
    const g = s.growth.get(a.site + '/' + a.type);
    return html`<tr data-site=${a.site} data-type=${a.type}><td>${verdictBadge(a.verdict)}</td><td>${siteName(a.site)}
        ${g ? html`<div class="growth-flag"><span aria-hidden="true">↗</span> ${growthText(g.growth)}: ${growthMoreText(g)}</div>` : nothing}</td>
      <td>${kindName(a.type)}</td>
      <td>${a.devices}</td><td>${demandCell(a)}</td><td>${a.need < 0 ? '—' : a.need}</td>
      <td>${a.verdict === 'spare' ? t('fleet.plan.can_give', { n: a.spare }) : t('fleet.plan.missing', { n: a.missing })}${underway(a)}</td>
      <td>${(a.history || []).map(percent).join(' → ')}</td></tr>`;
  }

  function basisSwitch() {
    return html`<div class="tabs" role="tablist" aria-label=${t('fleet.plan.basis_label')}>
      ${BASES.map((b) => html`<button type="button" role="tab" aria-selected=${s.basis === b ? 'true' : 'false'} data-basis=${b}
        @click=${() => setBasis(b)}>${t('fleet.plan.basis_' + b)}</button>`)}
    </div>`;
  }

  function planSection() {
    if (s.planLoading && !s.plan) return html`${basisSwitch()}<p class="loading">${t('app.loading')}</p>`;
    if (s.planError) return html`${basisSwitch()}<p class="notice notice-error" role="alert">${errorText(s.planError)}</p>`;
    const p = s.plan;
    const th = p.thresholds;
    const verdicts = [...p.short, ...p.spare];
    return html`
      ${basisSwitch()}
      <p>${t('fleet.plan.basis', { from: p.from, to: p.to, low: percent(th.low), high: percent(th.high), months: th.months, target: percent(th.target) })}</p>
      ${p.basis === 'forecast' ? html`<p>${t('fleet.plan.on_forecast', { month: p.forecast_month })}</p>` : nothing}
      <p><strong>${p.moves.length ? t('fleet.plan.summary', { moves: p.moves.length, moved: p.moved, km: number(p.distance_km, 1) }) : t('fleet.plan.no_moves')}</strong>
        ${p.shortage ? t('fleet.plan.shortage', { shortage: p.shortage, unmet: p.unmet }) : nothing}</p>
      ${p.moves.length ? html`<ol class="plain planned-moves">${p.moves.map(plannedMove)}</ol>` : nothing}
      ${verdicts.length ? html`<div class="panel"><table class="data-table">
        <caption class="visually-hidden">${t('fleet.plan.verdicts_caption')}</caption>
        <thead><tr><th scope="col">${t('fleet.plan.col_verdict')}</th><th scope="col">${t('fleet.plan.col_centre')}</th>
          <th scope="col">${t('fleet.plan.col_type')}</th><th scope="col">${t('fleet.plan.col_devices')}</th>
          <th scope="col">${t('fleet.plan.col_demand')}</th><th scope="col">${t('fleet.plan.col_need')}</th>
          <th scope="col">${t('fleet.plan.col_spare_short')}</th><th scope="col">${t('fleet.plan.col_history')}</th></tr></thead>
        <tbody>${verdicts.map(verdictRow)}</tbody></table></div>` : nothing}`;
  }

  // ---- drawing: proposing ----
  function proposeForm() {
    const p = s.propose;
    const err = p.err;
    const pre = p.prefill;
    const sites = dir.allSites();
    const f = 'propose';
    const siteSelect = (name, label) => html`<div class="field">
      <label for="${f}-${name}">${label}</label>
      <select id="${f}-${name}" name=${name} aria-invalid=${invalid(name, err)} aria-describedby="${f}-${name}-error">
        <option value="">${t('fleet.plan.choose')}</option>
        ${sites.map((x) => html`<option value=${x.id} ?selected=${pre[name] === x.id}>${x.name || x.id}</option>`)}
      </select>
      ${fieldError(f, name, err)}
    </div>`;
    return html`<form id="propose-form" class="form propose-form" @submit=${submitPropose} novalidate aria-labelledby="propose-title"
        @keydown=${(e) => { if (e.key === 'Escape') { s.propose = null; draw(); } }}>
      <h3 id="propose-title">${t('fleet.plan.propose_title')}</h3>
      <div class="form-grid">
        <div class="field">
          <label for="${f}-kind">${t('fleet.plan.kind')}</label>
          <select id="${f}-kind" name="kind" aria-invalid=${invalid('kind', err)} aria-describedby="${f}-kind-error">
            <option value="">${t('fleet.plan.choose')}</option>
            ${KINDS.map((k) => html`<option value=${k} ?selected=${pre.kind === k}>${kindName(k)}</option>`)}
          </select>
          ${fieldError(f, 'kind', err)}
        </div>
        ${siteSelect('from', t('fleet.plan.from'))}
        ${siteSelect('to', t('fleet.plan.to'))}
      </div>
      <div class="field">
        <label for="${f}-devices">${t('fleet.plan.devices_field')}</label>
        <input id="${f}-devices" name="devices" autocomplete="off" value=${pre.devices || ''}
          aria-invalid=${invalid('devices', err)} aria-describedby="${f}-devices-hint ${f}-devices-error">
        <span class="hint" id="${f}-devices-hint">${t('fleet.plan.devices_hint')}</span>
        ${fieldError(f, 'devices', err)}
      </div>
      <div class="field">
        <label for="${f}-reason">${t('fleet.plan.reason')}</label>
        <textarea id="${f}-reason" name="reason" rows="3" maxlength="1000"
          aria-invalid=${invalid('reason', err)} aria-describedby="${f}-reason-error">${pre.reason || ''}</textarea>
        ${fieldError(f, 'reason', err)}
      </div>
      ${formError(err, PROPOSE_FIELDS)}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" ?disabled=${p.busy}>${t('fleet.plan.propose')}</button>
        <button class="btn" type="button" @click=${() => { s.propose = null; draw(); }}>${t('action.cancel')}</button>
      </div>
    </form>`;
  }

  // ---- drawing: the moves ----
  function custody(m) {
    const zFrom = siteZone(m.from);
    const zTo = siteZone(m.to);
    const steps = [
      { state: 'proposed', by: m.proposed_by, at: m.proposed_at, note: m.reason, zone: zFrom, label: 'fleet.plan.reason_label' },
      m.decided_at ? { state: m.state === 'rejected' ? 'rejected' : 'approved', by: m.decided_by, at: m.decided_at, note: m.decision_note, zone: zFrom } : null,
      m.dispatched_at ? { state: 'in_transit', by: m.dispatched_by, at: m.dispatched_at, zone: zFrom } : null,
      m.received_at ? { state: 'received', by: m.received_by, at: m.received_at, zone: zTo } : null,
      m.cancelled_at ? { state: 'cancelled', by: m.cancelled_by, at: m.cancelled_at, note: m.cancel_note, zone: zFrom } : null,
    ].filter(Boolean);
    return html`<ol class="custody">${steps.map((st) => html`<li>
      ${moveStateBadge(st.state)} <span>${t('fleet.plan.by_at', { who: who(st.by), when: dateTime(st.at, st.zone) })}</span>
      ${st.note ? html`<div class="note">${t(st.label || 'fleet.plan.note_label', { note: st.note })}</div>` : nothing}
    </li>`)}</ol>`;
  }

  function stepForm(m) {
    const st = s.step;
    const withNote = (STEPS[m.state] || []).find(([a]) => a === st.action)?.[1];
    const f = `step${m.id}`;
    return html`<form class="form step-form" @submit=${submitStep} novalidate aria-label=${t('fleet.plan.action_' + st.action)}
        @keydown=${(e) => { if (e.key === 'Escape') { s.step = null; draw(); } }}>
      ${withNote ? html`<div class="field">
        <label for="${f}-note">${t('fleet.plan.note')}</label>
        <input id="${f}-note" name="note" autocomplete="off" maxlength="1000" aria-invalid=${invalid('note', st.err)} aria-describedby="${f}-note-error">
        ${fieldError(f, 'note', st.err)}
      </div>` : html`<p>${t('fleet.plan.confirm_' + st.action, { n: m.devices.length, from: siteName(m.from), to: siteName(m.to) })}</p>`}
      ${formError(st.err, ['note'])}
      <div class="form-actions">
        <button class="btn btn-primary" type="submit" ?disabled=${st.busy}>${t('fleet.plan.action_' + st.action)}</button>
        <button class="btn" type="button" @click=${() => { s.step = null; draw(); }}>${t('action.cancel')}</button>
      </div>
    </form>`;
  }

  // mayStep says whether the person may take a step, as the API decides it: the donor's fleet
  // managers approve, reject and dispatch, the receiver's confirm receipt, the proposer or the
  // donor's cancel; an admin each. Steps the person may not take are not offered.
  function mayStep(m, action) {
    if (user.role === 'admin') return true;
    const sites = user.sites || [];
    if (action === 'receive') return sites.includes(m.to);
    if (action === 'cancel') return sites.includes(m.from) || m.proposed_by === 'user:' + user.id;
    return sites.includes(m.from);
  }

  function moveCard(m) {
    const steps = (STEPS[m.state] || []).filter(([a]) => mayStep(m, a));
    const open = s.step && s.step.id === m.id;
    return html`<li class="move-card" data-id=${m.id} tabindex="-1" aria-labelledby="move-${m.id}-title">
      <div class="move-head">
        <h3 id="move-${m.id}-title">${t('fleet.plan.move_heading', { id: m.id, n: m.devices.length, type: kindName(m.kind), from: siteName(m.from), to: siteName(m.to) })}</h3>
        ${moveStateBadge(m.state)}
      </div>
      <p class="small">${t('fleet.plan.devices_list', { ids: m.devices.join(', ') })}</p>
      ${custody(m)}
      ${!steps.length && STEPS[m.state] ? html`<p class="muted small">${t('fleet.plan.waiting_' + m.state, { from: siteName(m.from), to: siteName(m.to) })}</p>` : nothing}
      ${steps.length && !open ? html`<div class="row-actions">${steps.map(([a]) => html`<button type="button" class="btn btn-small"
          data-action=${a} @click=${() => openStep(m, a)}>${t('fleet.plan.action_' + a)}</button>`)}</div>` : nothing}
      ${open ? stepForm(m) : nothing}
    </li>`;
  }

  function movesSection() {
    if (s.movesLoading && !s.moves.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (s.movesError) return html`<p class="notice notice-error" role="alert">${errorText(s.movesError)}</p>`;
    const list = s.view === 'open' ? s.moves.filter((m) => OPEN.includes(m.state)) : s.moves;
    return html`
      <div class="tabs" role="tablist" aria-label=${t('fleet.plan.moves')}>
        ${VIEWS.map((v) => html`<button type="button" role="tab" aria-selected=${s.view === v ? 'true' : 'false'}
          @click=${() => setView(v)}>${t('fleet.plan.view_' + v)}</button>`)}
      </div>
      ${list.length ? html`<ul class="plain moves">${list.map(moveCard)}</ul>` : html`<p class="empty">${t('fleet.plan.no_move_' + s.view)}</p>`}`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="page fleet-page plan-page">
      <h1>${t('fleet.plan.title')}</h1>
      <section aria-labelledby="plan-title" aria-busy=${s.planLoading ? 'true' : 'false'}>
        <h2 id="plan-title">${t('fleet.plan.plan')}</h2>
        ${planSection()}
      </section>
      <section aria-labelledby="moves-title" aria-busy=${s.movesLoading ? 'true' : 'false'}>
        <div class="moves-top">
          <h2 id="moves-title">${t('fleet.plan.moves')}</h2>
          ${s.propose ? nothing : html`<button type="button" class="btn btn-primary" @click=${() => openPropose()}>${t('fleet.plan.propose_new')}</button>`}
        </div>
        ${s.done ? html`<p class="notice" role="status">${s.done}</p>` : nothing}
        ${s.propose ? proposeForm() : nothing}
        ${movesSection()}
      </section>
    </section>`, root);
  }

  draw();
  dir.load().catch(() => {}).then(draw);
  loadPlan();
  loadMoves();
  loadUsers();
  return () => { alive = false; };
}
