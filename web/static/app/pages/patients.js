// The patients of the person's teams (a doctor; an admin sees all): their care plans, open
// alerts (how many, the worst severity), and the headline of each one's summary: the last
// reading of each plan's type, the days of the last 30 with one, the 14-day time in range and
// the 7-day home BP average. The list is searchable by id and sortable, both kept in the
// address. A summary costs a query of the patient's readings, so each row's is fetched when the
// row comes into view, a few at a time, and kept while the page is open.
import { html, render, nothing, repeat } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { errorText } from '../forms.js';
import { number, measurementName, ago, unitOf } from '../format.js';
import { severityBadge, rank } from '../alerts.js';

const SORTS = ['id', 'alerts', 'tir', 'bp', 'adherence'];
const PARALLEL = 3; // summaries fetched at once

export function mount(root, ctx) {
  useStyles('patients');
  const s = {
    patients: [], alerts: new Map(), loading: true, error: null,
    q: ctx.query.get('q') || '', team: ctx.query.get('team') || '',
    sort: SORTS.includes(ctx.query.get('sort')) ? ctx.query.get('sort') : 'alerts',
    heads: new Map(), // id -> {summary} | {error}
  };
  let alive = true;
  let queue = [];
  let running = 0;
  const asked = new Set();
  let observer = null;

  async function load() {
    try {
      const [patients, open] = await Promise.all([
        api.all('/patients', { limit: 1000 }, { cursor: 'after', max: 20000 }),
        api.all('/alerts', { state: 'open', category: 'clinical', limit: 1000 }, { max: 20000 }).catch(() => []),
        dir.load().catch(() => {}),
      ]);
      if (!alive) return;
      s.patients = patients;
      s.alerts = new Map();
      for (const a of open) {
        if (!a.patient) continue;
        const x = s.alerts.get(a.patient) || { count: 0, worst: '' };
        x.count++;
        if (!x.worst || rank(a.severity) > rank(x.worst)) x.worst = a.severity;
        s.alerts.set(a.patient, x);
      }
    } catch (e) {
      if (!alive) return;
      s.error = e;
    }
    s.loading = false;
    draw();
    observe();
    if (!performance.getEntriesByName('vw:patients-rendered').length) performance.mark('vw:patients-rendered');
  }

  // ---- the headline of each row, when it comes into view ----
  function observe() {
    if (observer) observer.disconnect();
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const id = e.target.dataset.patient;
        if (e.isIntersecting && id && !asked.has(id)) {
          asked.add(id);
          queue.push(id);
        }
      }
      pump();
    }, { rootMargin: '300px' });
    for (const el of root.querySelectorAll('tr[data-patient]')) observer.observe(el);
  }

  function pump() {
    while (alive && running < PARALLEL && queue.length) {
      const id = queue.shift();
      running++;
      api.get(`/patients/${encodeURIComponent(id)}/summary`)
        .then((sum) => { s.heads.set(id, { summary: sum }); })
        .catch((e) => { s.heads.set(id, { error: e }); })
        .finally(() => {
          running--;
          if (!alive) return;
          draw();
          pump();
        });
    }
  }

  // ---- what is shown ----
  function visible() {
    const q = s.q.trim().toLowerCase();
    const list = s.patients.filter((p) => (!q || p.id.toLowerCase().includes(q)) && (!s.team || p.team === s.team));
    const head = (p) => s.heads.get(p.id)?.summary;
    const tir = (p) => inRange(head(p)) ?? -1;
    const bp = (p) => { const h = head(p)?.home_bp; return h && h.readings ? h.mean.systolic : -1; };
    const adh = (p) => { const a = head(p)?.adherence; return a && a.types.length ? Math.min(...a.types.map((x) => x.days)) : 99; };
    const al = (p) => s.alerts.get(p.id) || { count: 0, worst: '' };
    const by = {
      id: (a, b) => a.id.localeCompare(b.id),
      alerts: (a, b) => (rank(al(b).worst) - rank(al(a).worst)) || (al(b).count - al(a).count) || a.id.localeCompare(b.id),
      tir: (a, b) => (tir(a) < 0) - (tir(b) < 0) || tir(a) - tir(b) || a.id.localeCompare(b.id),
      bp: (a, b) => bp(b) - bp(a) || a.id.localeCompare(b.id),
      adherence: (a, b) => adh(a) - adh(b) || a.id.localeCompare(b.id),
    };
    return list.sort(by[s.sort]);
  }

  function inRange(sum) {
    if (!sum || !sum.cgm.readings) return null;
    const b = sum.cgm.bands.find((x) => x.band === '3.9-10.0');
    return b ? b.percent : null;
  }

  function keep() {
    ctx.setQuery({ q: s.q, team: s.team, sort: s.sort === 'alerts' ? '' : s.sort });
  }

  function onSearch(ev) {
    s.q = ev.target.value;
    keep();
    draw();
    observe();
  }

  // ---- drawing ----
  function lastReadings(sum) {
    const types = sum.adherence.types || [];
    if (!types.length) return html`<span class="muted">${t('patients.no_plan_types')}</span>`;
    return html`<ul class="cell-list">${types.map((x) => html`<li>
      <span class="small">${measurementName(x.type)}:</span>
      ${x.last ? html`${readingText(x.last)} <span class="small muted">${ago(x.last.time)}</span>` : html`<span class="muted">—</span>`}</li>`)}</ul>`;
  }

  function adherence(sum) {
    const types = sum.adherence.types || [];
    if (!types.length) return '—';
    return html`<ul class="cell-list">${types.map((x) => html`<li class=${x.meets_yardstick ? '' : 'short-of'}>
      ${t('patients.days_of_30', { type: measurementName(x.type), n: x.days, of: sum.adherence.period.days })}
      ${x.meets_yardstick ? nothing : html`<span class="not-met" title=${t('patients.below_yardstick', { n: sum.adherence.yardstick })}>
        <span aria-hidden="true">✗</span><span class="visually-hidden">${t('patients.below_yardstick', { n: sum.adherence.yardstick })}</span></span>`}</li>`)}</ul>`;
  }

  function tirCell(sum) {
    const p = inRange(sum);
    if (p === null) return html`<span class="muted">—</span>`;
    const tc = (sum.cgm.targets || []).find((x) => x.metric === 'time_in_range');
    return html`<span data-figure="tir">${number(p, 1)} %</span>
      ${tc ? (tc.met ? html`<span class="met"><span aria-hidden="true">✓</span><span class="visually-hidden">${t('patient.target_met')}</span></span>`
        : html`<span class="not-met"><span aria-hidden="true">✗</span><span class="visually-hidden">${t('patient.target_not_met')}</span></span>`) : nothing}
      ${(sum.cgm.flags || []).length ? html`<br><span class="small muted">${t('patients.tir_flagged')}</span>` : nothing}`;
  }

  function bpCell(sum) {
    const h = sum.home_bp;
    if (!h.readings) return html`<span class="muted">—</span>`;
    return html`<span data-figure="bp">${number(h.mean.systolic, 0)}/${number(h.mean.diastolic, 0)}</span>
      ${!h.enough ? html`<br><span class="small muted">${t('patient.bp_not_judged')}</span>`
        : h.at_or_above_target ? html`<br><span class="sev sev-warning"><span aria-hidden="true">!</span> ${t('patients.above_target')}</span>` : nothing}`;
  }

  function row(p) {
    const al = s.alerts.get(p.id);
    const head = s.heads.get(p.id);
    const team = dir.team(p.team);
    const sum = head?.summary;
    const pending = html`<span class="muted small">${head?.error ? t('patients.summary_failed') : t('app.loading')}</span>`;
    return html`<tr data-patient=${p.id}>
      <th scope="row"><a href=${'/app/patients/' + encodeURIComponent(p.id)}>${p.id}</a>
        <br><span class="small muted">${team ? team.name || team.id : p.team}</span></th>
      <td>${p.plans.length ? html`<ul class="cell-list">${p.plans.map((x) => html`<li>${x}</li>`)}</ul>` : html`<span class="muted">—</span>`}</td>
      <td>${al ? html`${severityBadge(al.worst)} <span class="alert-count">${t('patients.n_open', { n: al.count })}</span>` : html`<span class="muted">${t('patients.none_open')}</span>`}</td>
      <td>${sum ? lastReadings(sum) : pending}</td>
      <td>${sum ? adherence(sum) : pending}</td>
      <td>${sum ? tirCell(sum) : pending}</td>
      <td>${sum ? bpCell(sum) : pending}</td>
    </tr>`;
  }

  function draw() {
    if (!alive) return;
    if (s.loading) {
      render(html`<section class="page"><h1>${t('patients.title')}</h1><p class="loading">${t('app.loading')}</p></section>`, root);
      return;
    }
    if (s.error) {
      render(html`<section class="page"><h1>${t('patients.title')}</h1><p class="notice notice-error" role="alert">${errorText(s.error)}</p></section>`, root);
      return;
    }
    const list = visible();
    const teams = [...new Set(s.patients.map((p) => p.team))].sort();
    render(html`<section class="page patients-page">
      <h1>${t('patients.title')}</h1>
      <form class="filters" role="search" @submit=${(e) => e.preventDefault()}>
        <div class="field">
          <label for="patients-q">${t('patients.search')}</label>
          <input id="patients-q" type="search" name="q" autocomplete="off" .value=${s.q} @input=${onSearch} placeholder=${t('patients.search_placeholder')}>
        </div>
        ${teams.length > 1 ? html`<div class="field">
          <label for="patients-team">${t('patients.team')}</label>
          <select id="patients-team" @change=${(e) => { s.team = e.target.value; keep(); draw(); observe(); }}>
            <option value="" ?selected=${!s.team}>${t('filter.all')}</option>
            ${teams.map((x) => html`<option value=${x} ?selected=${x === s.team}>${dir.team(x)?.name || x}</option>`)}
          </select></div>` : nothing}
        <div class="field">
          <label for="patients-sort">${t('patients.sort')}</label>
          <select id="patients-sort" @change=${(e) => { s.sort = e.target.value; keep(); draw(); }}>
            ${SORTS.map((x) => html`<option value=${x} ?selected=${x === s.sort}>${t('patients.sort_' + x)}</option>`)}
          </select>
        </div>
      </form>
      <p class="small muted" role="status">${t('patients.count', { n: list.length, total: s.patients.length })}
        ${s.sort === 'tir' || s.sort === 'bp' || s.sort === 'adherence' ? t('patients.sort_loaded') : ''}</p>
      ${list.length ? html`<div class="panel table-panel"><table class="data-table patients-table">
        <caption class="visually-hidden">${t('patients.title')}</caption>
        <thead><tr>
          <th scope="col">${t('patients.col_patient')}</th><th scope="col">${t('patients.col_plans')}</th>
          <th scope="col">${t('patients.col_alerts')}</th><th scope="col">${t('patients.col_last')}</th>
          <th scope="col">${t('patients.col_adherence')}</th><th scope="col">${t('patients.col_tir')}</th>
          <th scope="col">${t('patients.col_bp', { unit: unitOf('bp') })}</th></tr></thead>
        <tbody>${repeat(list, (p) => p.id, row)}</tbody>
      </table></div>` : html`<p class="empty">${s.patients.length ? t('patients.none_match') : t('patients.none')}</p>`}
    </section>`, root);
  }

  draw();
  load();
  return () => {
    alive = false;
    queue = [];
    if (observer) observer.disconnect();
  };
}

function readingText(r) {
  if (r.type === 'bp') return `${number(r.systolic, 0)}/${number(r.diastolic, 0)}`;
  return number(r.value, 1);
}
