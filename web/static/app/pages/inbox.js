// The inbox: the alerts of the person's teams (a doctor) or sites (a fleet manager; an admin sees
// all), live from the alert feed. Open alerts come sorted by severity then age, grouped by
// patient (or device), with the response target's countdown; those that notified nobody (late,
// in doubt, silenced) are kept apart. Actions: acknowledge, resolve, snooze, and acknowledge a
// selection. Keys: j/k move, a acknowledge, r resolve, s snooze, x select, Enter open, ? help.
import { html, render, nothing, repeat, classMap } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as live from '../live.js';
import * as sound from '../sound.js';
import * as dir from '../directory.js';
import { dateTime, duration, ago } from '../format.js';
import { errorText, values } from '../forms.js';
import {
  SEVERITIES, STATES, rank, severityBadge, ruleName, subjectText, valueText, canSnooze, quietReason, escalationText, targetText,
  act, actionForm, fieldOf,
} from '../alerts.js';

const FRESH_MS = 10000;
const OPEN_LIMIT = 5000;
const CLOSED_LIMIT = 200;

export function mount(root, ctx) {
  const user = ctx.user;
  const s = {
    tab: STATES.includes(ctx.query.get('tab')) ? ctx.query.get('tab') : 'open',
    filters: { rule: ctx.query.get('rule') || '', severity: ctx.query.get('severity') || '',
      team: ctx.query.get('team') || '', site: ctx.query.get('site') || '', category: ctx.query.get('category') || '' },
    alerts: new Map(),
    pending: [], // events that came while the list was loading, applied again on the loaded list
    loading: true,
    error: null,
    selected: new Set(),
    focus: null, // id of the row with focus
    form: null, // {id, kind, err, busy}
    fresh: new Map(), // id -> time of the cue
    bulk: null, // {busy, done, failed: [{id, err}]}
    now: new Date(),
    help: false,
  };
  let alive = true;
  let loadSeq = 0;

  // ---- data ----
  async function load() {
    const my = ++loadSeq;
    s.loading = true;
    s.error = null;
    draw();
    try {
      const [items] = await Promise.all([
        s.tab === 'open'
          ? api.all('/alerts', { state: 'open', limit: 1000 }, { max: OPEN_LIMIT })
          : api.get('/alerts', { state: s.tab, limit: CLOSED_LIMIT }).then((p) => p.items || []),
        dir.load().catch(() => {}), // names and zones are a nicety: the alerts show without them
      ]);
      if (my !== loadSeq || !alive) return;
      s.alerts = new Map(items.map((a) => [a.id, a]));
      const pending = s.pending;
      s.pending = [];
      s.loading = false;
      for (const ev of pending) apply(ev.alert);
    } catch (e) {
      if (my !== loadSeq || !alive) return;
      s.error = e;
    }
    s.loading = false;
    draw();
    if (s.tab === 'open' && !performance.getEntriesByName('vw:inbox-rendered').length) {
      performance.mark('vw:inbox-rendered');
    }
  }

  // apply brings an alert's new state into the list: in it when it is in the tab's state, out of
  // it otherwise; a change older than the one shown is ignored (events and answers may cross).
  function apply(alert) {
    const had = s.alerts.get(alert.id);
    if (had && had.updated_at > alert.updated_at) return;
    if (alert.state === s.tab) s.alerts.set(alert.id, alert);
    else if (had) {
      s.alerts.delete(alert.id);
      s.selected.delete(alert.id);
      if (s.form && s.form.id === alert.id && !s.form.busy) s.form = null;
    }
  }

  function onEvent({ type, alert }) {
    if (!alive) return;
    if (s.loading) s.pending.push({ type, alert });
    apply(alert);
    const cue = type === 'raised' || type === 'severity_raised' || type === 'escalated';
    if (cue && alert.state === 'open') {
      s.fresh.set(alert.id, Date.now());
      setTimeout(() => { s.fresh.delete(alert.id); if (alive) draw(); }, FRESH_MS);
      const notifies = !alert.late && !alert.doubt && !alert.silenced;
      if (notifies && rank(alert.severity) >= rank('urgent')) sound.beep(alert.severity);
      announce(t('inbox.announce_' + type, { severity: t('severity.' + alert.severity), rule: ruleName(alert.rule), subject: subjectText(alert) }));
    }
    draw();
  }

  function announce(text) {
    const el = document.getElementById('vw-announce');
    if (el) el.textContent = text;
  }

  // ---- what is shown ----
  function visible() {
    const f = s.filters;
    const min = f.severity ? rank(f.severity) : -1;
    return [...s.alerts.values()].filter((a) => (!f.rule || a.rule === f.rule) && rank(a.severity) >= min &&
      (!f.team || a.team === f.team) && (!f.site || a.site === f.site) && (!f.category || a.category === f.category));
  }

  // Open alerts: by severity (worst first), then age (oldest first). Closed tabs: newest first.
  function order(list) {
    if (s.tab !== 'open') {
      const key = s.tab === 'resolved' ? 'resolved_at' : 'acknowledged_at';
      return list.sort((a, b) => (b[key] || b.updated_at).localeCompare(a[key] || a.updated_at));
    }
    return list.sort((a, b) => rank(b.severity) - rank(a.severity) || a.created_at.localeCompare(b.created_at) || a.id - b.id);
  }

  // Groups of one subject, each ordered within, ordered by their first alert.
  function groups(list) {
    const by = new Map();
    for (const a of order(list)) {
      if (!by.has(a.subject)) by.set(a.subject, []);
      by.get(a.subject).push(a);
    }
    return [...by.entries()].map(([subject, alerts]) => ({ subject, alerts }));
  }

  function sections() {
    const list = visible();
    const actionable = list.filter((a) => !quietReason(a));
    const quiet = list.filter((a) => quietReason(a));
    return { actionable: groups(actionable), quiet: groups(quiet), count: list.length };
  }

  // The rows in the order they are shown, for j/k.
  function rowOrder() {
    return [...root.querySelectorAll('.alert-row')].map((el) => Number(el.dataset.id));
  }

  // ---- actions ----
  function openForm(id, kind) {
    const a = s.alerts.get(id);
    if (!a) return;
    if (kind === 'acknowledge' && a.state !== 'open') return;
    if (kind === 'resolve' && a.state === 'resolved') return;
    sound.unlock();
    s.form = { id, kind, err: null, busy: false };
    s.focus = id;
    draw();
    const input = root.querySelector(`.alert-row[data-id="${id}"] .action-form input`);
    if (input) input.focus();
  }

  function closeForm() {
    const id = s.form && s.form.id;
    s.form = null;
    draw();
    focusRow(id);
  }

  async function submitForm(ev) {
    ev.preventDefault();
    const f = s.form;
    if (!f || f.busy) return;
    const a = s.alerts.get(f.id);
    f.busy = true;
    f.err = null;
    draw();
    try {
      const res = await act(f.kind, a, values(ev.target));
      if (f.kind !== 'snooze') onEvent({ type: f.kind === 'acknowledge' ? 'acknowledged' : 'resolved', alert: res });
      announce(t('inbox.done_' + f.kind, { rule: ruleName(a.rule), subject: subjectText(a) }));
      const next = neighbour(f.id);
      s.form = null;
      draw();
      focusRow(s.alerts.has(f.id) ? f.id : next);
    } catch (e) {
      f.busy = false;
      f.err = fieldOf(f.kind, e);
      draw();
      const bad = e.field && root.querySelector(`.alert-row[data-id="${f.id}"] [name="${f.err.field}"]`);
      if (bad) bad.focus();
    }
  }

  function neighbour(id) {
    const ids = rowOrder();
    const i = ids.indexOf(id);
    return ids[i + 1] ?? ids[i - 1] ?? null;
  }

  async function bulkAcknowledge(ev) {
    ev.preventDefault();
    const note = values(ev.target).note || '';
    const ids = [...s.selected].filter((id) => s.alerts.get(id) && s.alerts.get(id).state === 'open');
    s.bulk = { busy: true, done: 0, failed: [] };
    draw();
    let i = 0;
    async function worker() {
      while (i < ids.length) {
        const id = ids[i++];
        try {
          const res = await act('acknowledge', s.alerts.get(id), { note });
          s.selected.delete(id);
          s.bulk.done++;
          onEvent({ type: 'acknowledged', alert: res });
        } catch (e) {
          s.bulk.failed.push({ id, err: e });
        }
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()]);
    s.bulk.busy = false;
    announce(t('bulk.result', { done: s.bulk.done, failed: s.bulk.failed.length }));
    draw();
  }

  function toggleSelect(id) {
    if (s.selected.has(id)) s.selected.delete(id);
    else s.selected.add(id);
    draw();
  }

  // ---- keys ----
  function focusRow(id) {
    if (id == null) return;
    s.focus = id;
    draw();
    const el = root.querySelector(`.alert-row[data-id="${id}"]`);
    if (el) el.focus();
  }

  function onKey(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target instanceof Element ? ev.target.tagName : '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return;
    const help = root.querySelector('#inbox-help');
    if (help && help.open) return;
    const ids = rowOrder();
    const cur = ids.indexOf(s.focus);
    const rowFocused = ev.target instanceof Element && ev.target.classList.contains('alert-row');
    switch (ev.key) {
      case 'j':
        focusRow(ids[Math.min(ids.length - 1, cur + 1)] ?? ids[0]);
        break;
      case 'k':
        focusRow(ids[Math.max(0, cur - 1)] ?? ids[0]);
        break;
      case 'a':
        if (s.focus != null) openForm(s.focus, 'acknowledge');
        break;
      case 'r':
        if (s.focus != null) openForm(s.focus, 'resolve');
        break;
      case 's':
        if (s.focus != null && canSnooze(s.alerts.get(s.focus) || {})) openForm(s.focus, 'snooze');
        break;
      case 'x':
        if (s.focus != null) toggleSelect(s.focus);
        break;
      case 'Enter':
        if (!rowFocused || s.focus == null) return;
        ctx.go(`/app/alerts/${s.focus}`);
        break;
      case '?':
        showHelp();
        break;
      default:
        return;
    }
    sound.unlock();
    ev.preventDefault();
  }

  function showHelp() {
    const d = root.querySelector('#inbox-help');
    if (d && !d.open) d.showModal();
  }

  // ---- filters, tabs ----
  function setTab(tab) {
    if (tab === s.tab) return;
    s.tab = tab;
    s.selected.clear();
    s.form = null;
    s.alerts = new Map();
    syncQuery();
    load();
  }

  function setFilter(name, value) {
    s.filters[name] = value;
    syncQuery();
    draw();
  }

  function syncQuery() {
    ctx.setQuery({ tab: s.tab === 'open' ? '' : s.tab, ...s.filters });
  }

  // ---- drawing ----
  function row(a) {
    const tz = dir.zoneOf(a);
    const target = targetText(a, dir.targetSeconds(a), s.now);
    const esc = escalationText(a.escalation_level);
    const why = quietReason(a);
    const form = s.form && s.form.id === a.id ? s.form : null;
    const classes = { 'alert-row': true, 'is-selected': s.selected.has(a.id), 'is-fresh': s.fresh.has(a.id) };
    const repeats = a.count - 1;
    return html`<li class=${classMap(classes)} data-id=${a.id} tabindex=${s.focus === a.id ? 0 : -1}
        aria-label=${t('severity.' + a.severity) + ', ' + ruleName(a.rule) + ', ' + subjectText(a)}
        @focus=${(e) => { if (e.target === e.currentTarget) s.focus = a.id; }}>
      <div class="select">
        <input type="checkbox" .checked=${s.selected.has(a.id)} @change=${() => toggleSelect(a.id)}
          aria-label=${t('inbox.select', { rule: ruleName(a.rule), subject: subjectText(a) })} ?disabled=${a.state !== 'open'}>
      </div>
      <div class="alert-main">
        <div class="alert-title">
          ${severityBadge(a.severity)}
          <a href="/app/alerts/${a.id}">${ruleName(a.rule)}</a>
          ${valueText(a) ? html`<span class="value">${valueText(a)}</span>` : nothing}
          ${why ? html`<span class="why">${why}</span>` : nothing}
        </div>
        <ul class="alert-facts">
          <li>${t('inbox.measured', { when: dateTime(a.last_seen, tz), ago: ago(a.last_seen, s.now) })}</li>
          ${a.state === 'open' ? html`<li>${t('inbox.open_for', { d: duration((s.now - new Date(a.created_at)) / 1000) })}</li>` : nothing}
          ${repeats > 0 ? html`<li>${t('inbox.repeats', { n: repeats })}</li>` : nothing}
          ${esc ? html`<li><strong>${t('inbox.escalated', { to: esc })}</strong></li>` : nothing}
          ${target ? html`<li class=${target.passed ? 'target-passed' : 'target-left'}>
              ${target.passed ? html`<span aria-hidden="true">!</span> ` : nothing}${target.text}</li>` : nothing}
          ${a.state === 'acknowledged' ? html`<li>${t('inbox.acknowledged_by', { who: a.acknowledged_by, when: dateTime(a.acknowledged_at, tz) })}</li>` : nothing}
          ${a.state === 'resolved' ? html`<li>${t('inbox.resolved_by', { who: a.resolved_by, when: dateTime(a.resolved_at, tz) })}</li>` : nothing}
        </ul>
      </div>
      <div class="row-actions">
        ${a.state === 'open' ? html`<button type="button" class="btn btn-small" @click=${() => openForm(a.id, 'acknowledge')}>${t('action.acknowledge')}</button>` : nothing}
        ${a.state !== 'resolved' ? html`<button type="button" class="btn btn-small" @click=${() => openForm(a.id, 'resolve')}>${t('action.resolve')}</button>` : nothing}
        ${a.state !== 'resolved' && canSnooze(a) ? html`<button type="button" class="btn btn-small" @click=${() => openForm(a.id, 'snooze')}>${t('action.snooze')}</button>` : nothing}
      </div>
      ${form ? html`<div class="row-form">${actionForm(form.kind, a, { err: form.err, busy: form.busy, onSubmit: submitForm, onCancel: closeForm })}</div>` : nothing}
    </li>`;
  }

  function group(g) {
    const first = g.alerts[0];
    const place = dir.placeOf(first);
    return html`<section class="group" aria-label=${subjectText(first)}>
      <header class="group-head">
        <h3>${first.patient ? html`<a href="/app/patients/${encodeURIComponent(first.patient)}">${subjectText(first)}</a>` : subjectText(first)}</h3>
        ${place ? html`<span class="muted small">${place}</span>` : nothing}
        <span class="tag">${t('inbox.alert_count', { n: g.alerts.length })}</span>
      </header>
      <ul class="alerts">${repeat(g.alerts, (a) => a.id, row)}</ul>
    </section>`;
  }

  function filters() {
    const f = s.filters;
    const rules = [...new Set([...s.alerts.values()].map((a) => a.rule))].sort();
    const teams = user.role === 'doctor' ? user.teams || [] : [...new Set([...s.alerts.values()].map((a) => a.team).filter(Boolean))].sort();
    const sites = user.role === 'fleet_manager' ? user.sites || [] : [...new Set([...s.alerts.values()].map((a) => a.site).filter(Boolean))].sort();
    const teamName = (id) => (dir.team(id) && dir.team(id).name) || id;
    const siteName = (id) => (dir.site(id) && dir.site(id).name) || id;
    const sel = (name, label, options) => html`<div class="field">
        <label for="filter-${name}">${label}</label>
        <select id="filter-${name}" @change=${(e) => setFilter(name, e.target.value)}>
          <option value="" ?selected=${!f[name]}>${t('filter.all')}</option>
          ${options.map(([v, text]) => html`<option value=${v} ?selected=${f[name] === v}>${text}</option>`)}
        </select></div>`;
    return html`<div class="filters" role="group" aria-label=${t('filter.label')}>
      ${sel('rule', t('filter.rule'), (f.rule && !rules.includes(f.rule) ? [...rules, f.rule] : rules).map((r) => [r, ruleName(r)]))}
      ${sel('severity', t('filter.severity'), SEVERITIES.slice().reverse().map((v) => [v, t('filter.at_least', { severity: t('severity.' + v) })]))}
      ${user.role !== 'fleet_manager' && teams.length ? sel('team', t('filter.team'), teams.map((id) => [id, teamName(id)])) : nothing}
      ${user.role !== 'doctor' && sites.length ? sel('site', t('filter.site'), sites.map((id) => [id, siteName(id)])) : nothing}
      ${user.role === 'admin' ? sel('category', t('filter.category'), [['clinical', t('category.clinical')], ['fault', t('category.fault')]]) : nothing}
    </div>`;
  }

  function bulkBar() {
    const n = s.selected.size;
    if (!n && !(s.bulk && !s.bulk.busy)) return nothing;
    const b = s.bulk;
    return html`<form class="bulk" @submit=${bulkAcknowledge} aria-label=${t('bulk.label')}>
      ${n ? html`<span>${t('bulk.selected', { n })}</span>
        <label class="visually-hidden" for="bulk-note">${t('action.note')}</label>
        <input id="bulk-note" name="note" placeholder=${t('bulk.note_placeholder')} autocomplete="off" maxlength="1000">
        <button class="btn btn-primary" type="submit" ?disabled=${b && b.busy}>${t('bulk.acknowledge', { n })}</button>
        <button class="btn" type="button" @click=${() => { s.selected.clear(); draw(); }}>${t('bulk.clear')}</button>` : nothing}
      ${b && !b.busy ? html`<span role="status">${t('bulk.result', { done: b.done, failed: b.failed.length })}</span>
        ${b.failed.map((x) => html`<span class="form-error">#${x.id}: ${errorText(x.err)}</span>`)}` : nothing}
    </form>`;
  }

  function helpDialog() {
    const keys = [['j', t('keys.next')], ['k', t('keys.previous')], ['a', t('keys.acknowledge')], ['r', t('keys.resolve')],
      ['s', t('keys.snooze')], ['x', t('keys.select')], ['Enter', t('keys.open')], ['Esc', t('keys.cancel')], ['?', t('keys.help')]];
    return html`<dialog id="inbox-help" aria-labelledby="inbox-help-title">
      <h2 id="inbox-help-title">${t('keys.title')}</h2>
      <dl class="keys">${keys.map(([k, v]) => html`<dt><kbd>${k}</kbd></dt><dd>${v}</dd>`)}</dl>
      <form method="dialog"><button class="btn" autofocus>${t('action.close')}</button></form>
    </dialog>`;
  }

  function body() {
    if (s.error) return html`<p class="notice notice-error" role="alert">${errorText(s.error)}
      <button class="btn btn-small" type="button" @click=${load}>${t('action.retry')}</button></p>`;
    if (s.loading && !s.alerts.size) return html`<p class="loading">${t('app.loading')}</p>`;
    const sec = sections();
    if (!sec.count) return html`<p class="empty">${t(s.alerts.size ? 'inbox.none_match' : 'inbox.empty_' + s.tab)}</p>`;
    return html`
      ${sec.actionable.length ? html`<div class="section-actionable">${repeat(sec.actionable, (g) => g.subject, group)}</div>`
        : html`<p class="empty">${t('inbox.no_actionable')}</p>`}
      ${sec.quiet.length ? html`<details class="quiet-section" ?open=${!sec.actionable.length}>
          <summary>${t('inbox.quiet', { n: sec.quiet.reduce((n, g) => n + g.alerts.length, 0) })}</summary>
          <p class="muted small">${t('inbox.quiet_hint')}</p>
          ${repeat(sec.quiet, (g) => g.subject, group)}
        </details>` : nothing}`;
  }

  function draw() {
    if (!alive) return;
    const muted = sound.muted();
    render(html`<section class="page inbox">
      <div class="inbox-top">
        <h1>${t(user.role === 'fleet_manager' ? 'inbox.title_faults' : 'inbox.title')}</h1>
        <div class="form-actions">
          <button type="button" class="btn btn-small" aria-pressed=${muted ? 'true' : 'false'}
            @click=${() => { sound.setMuted(!muted); sound.unlock(); draw(); }}>
            ${muted ? t('sound.muted') : t('sound.on')}</button>
          <button type="button" class="btn btn-small" @click=${showHelp}>${t('keys.button')}</button>
        </div>
      </div>
      <div class="tabs" role="tablist" aria-label=${t('inbox.tabs')}>
        ${STATES.map((st) => html`<button type="button" role="tab" aria-selected=${s.tab === st ? 'true' : 'false'}
          @click=${() => setTab(st)}>${t('state.' + st)}${s.tab === st && !s.loading ? html` (${visible().length})` : nothing}</button>`)}
      </div>
      ${filters()}
      ${bulkBar()}
      <div role="tabpanel" aria-busy=${s.loading ? 'true' : 'false'}>${body()}</div>
      ${helpDialog()}
    </section>`, root);
  }

  const unsubscribe = live.subscribe(onEvent);
  const unresync = live.onResync(load);
  const tick = setInterval(() => { s.now = new Date(); draw(); }, 30000);
  document.addEventListener('keydown', onKey);
  draw();
  load();

  return () => {
    alive = false;
    unsubscribe();
    unresync();
    clearInterval(tick);
    document.removeEventListener('keydown', onKey);
  };
}
