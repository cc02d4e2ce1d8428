// A patient's page for the family-doctor team: for a period chosen in the address (24 h, 7,
// 14, 30 or 90 days), the CGM report (AGP, time in ranges, key figures and its flags) with one
// small chart per day, the meter glucose, home blood pressure and the other vital signs, then
// adherence, the devices lent, the thresholds and their overrides, the transfer and the alert
// history. The API decides who may see the patient: a 403 or 404 shows as such. The glucose
// report prints on one A4 page (css/patients.css).
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { uPlot } from '../chart.js';
import { errorText, values } from '../forms.js';
import { measurementName, zoneName } from '../format.js';
import * as g from '../patient/glucose.js';
import * as v from '../patient/vitals.js';
import * as care from '../patient/care.js';
import { dateOnly, dayLabel, midnights, minuteOf, hourOf } from '../patient/time.js';

/** The periods offered, in local days before today (1 is "24 h": the last whole day). */
const PERIODS = [1, 7, 14, 30, 90];
const CHUNK_DAYS = 6; // days of CGM per request: 1728 readings at 5 minutes, under the 2000 of one answer
const PRINT_WIDTH = 680;

export function mount(root, ctx) {
  useStyles('patients');
  const id = ctx.params.id;
  const q = ctx.query;
  const s = {
    days: PERIODS.includes(Number(q.get('days'))) ? Number(q.get('days')) : 14,
    unit: q.get('unit') === 'mgdl' ? 'mgdl' : 'mmol',
    patient: null, summary: null, ths: null, devices: null, alerts: null,
    meter: null, bp: null, vitals: {}, error: null, loading: true,
    ovr: { editing: false, err: null, busy: false, saved: false },
    tr: { open: false, err: null, busy: false, done: null },
    noCharts: false,
  };
  const plots = new Map(); // chart name -> {destroy, plot}
  const chunks = new Map(); // "days|chunk" -> promise of CGM readings
  let alive = true;
  let gen = 0; // bumps on each load of the period's data: a chart of an older one is dropped
  let observer = null;

  const tz = () => (s.summary && s.summary.time_zone) || '';
  const u = () => g.unitOf(s.unit);
  const canEdit = ['doctor', 'admin'].includes(ctx.user?.role);

  // ---- data ----
  async function loadPatient() {
    try {
      const [p, ths] = await Promise.all([api.get(`/patients/${encodeURIComponent(id)}`), api.get(`/patients/${encodeURIComponent(id)}/thresholds`),
        dir.load().catch(() => {})]);
      if (!alive) return false;
      s.patient = p;
      s.ths = ths;
      ctx.setTitle(t('patient.page_title', { id: p.id }));
      return true;
    } catch (e) {
      if (!alive) return false;
      s.error = e;
      s.loading = false;
      draw();
      return false;
    }
  }

  function fetchSummary() {
    return api.get(`/patients/${encodeURIComponent(id)}/summary`, { days: s.days, glucose_unit: s.unit === 'mgdl' ? 'mg/dL' : undefined });
  }

  // loadSummary loads the summary of the period (or takes the one already asked for, pending)
  // and draws the page with it.
  async function loadSummary(pending) {
    const my = ++gen;
    s.loading = true;
    draw();
    try {
      const sum = await (pending || fetchSummary());
      if (!alive || my !== gen) return;
      s.summary = sum;
      s.error = null;
    } catch (e) {
      if (!alive || my !== gen) return;
      s.error = e;
    }
    s.loading = false;
    resetCharts();
    draw();
    await drawMain(my);
    if (my === gen && !performance.getEntriesByName('vw:patient-rendered').length) performance.mark('vw:patient-rendered');
    loadSeries(my);
  }

  // The readings behind the charts of the period: meter glucose, BP and the vital signs.
  async function loadSeries(my) {
    const sum = s.summary;
    if (!sum) return;
    const base = `/patients/${encodeURIComponent(id)}/readings`;
    const from = sum.cgm.period.from;
    const bpFrom = [from, sum.home_bp.period?.from].filter(Boolean).sort()[0];
    const now = new Date().toISOString();
    const tasks = [
      api.get(base, { type: 'glucose', source: 'meter', from, to: sum.cgm.period.to }).then((r) => { s.meter = r; }),
      api.get(base, { type: 'bp', from: bpFrom, to: now }).then((r) => { s.bp = r; }),
      ...v.VITALS.map((x) => api.get(base, { type: x.type, from, to: now }).then((r) => { s.vitals[x.type] = r; })),
    ];
    await Promise.allSettled(tasks);
    if (!alive || my !== gen) return;
    draw();
    await drawSeries(my);
    // The period's page has its final layout: what waits to measure or act on it waits for this.
    if (alive && my === gen) performance.mark('vw:patient-series');
  }

  async function loadCare() {
    const p = encodeURIComponent(id);
    await Promise.allSettled([
      api.get(`/patients/${p}/devices`).then((r) => { s.devices = r.items || []; }).catch(() => { s.devices = []; }),
      api.get('/alerts', { patient: id, limit: 100 }).then((r) => { s.alerts = r.items || []; }).catch(() => { s.alerts = []; }),
    ]);
    if (!alive) return;
    draw();
    performance.mark('vw:patient-care');
  }

  // ---- charts ----
  function slot(name) {
    return root.querySelector(`[data-chart="${name}"]`);
  }

  async function put(name, my, drawing) {
    const old = plots.get(name);
    if (old) { old.destroy(); plots.delete(name); }
    const el = slot(name);
    if (!el) return;
    el.replaceChildren();
    const p = await drawing(el);
    if (!alive || my !== gen) { p.destroy(); return; }
    plots.set(name, p);
    if (!p.drawn && name === 'agp') { s.noCharts = true; draw(); }
  }

  async function drawMain(my) {
    if (!s.summary) return;
    await put('agp', my, (el) => g.drawAgp(el, s.summary.cgm, u()));
    observeDays();
  }

  function drawSeries(my) {
    const sum = s.summary;
    const drawn = [];
    if (s.meter) drawn.push(put('meter', my, (el) => g.drawMeter(el, s.meter.readings || [], sum.meter, u(), (iso) => minuteOf(iso, tz()))));
    if (s.bp) drawn.push(put('bp', my, (el) => v.drawBP(el, s.bp.readings || [], sum.home_bp, s.ths, tz(), (iso) => hourOf(iso, tz()))));
    for (const x of v.VITALS) {
      if (s.vitals[x.type]) drawn.push(put('vital-' + x.type, my, (el) => v.drawVital(el, x, s.vitals[x.type], s.ths, tz())));
    }
    return Promise.allSettled(drawn);
  }

  function dayBounds() {
    const p = s.summary.cgm.period;
    return midnights(p.from, p.days, tz());
  }

  // The CGM readings of the chunk of days i belongs to, fetched once per period.
  function chunkOf(i) {
    const c = Math.floor(i / CHUNK_DAYS);
    const key = `${s.days}|${s.summary.cgm.period.from}|${c}`;
    if (!chunks.has(key)) {
      const b = dayBounds();
      const from = new Date(b[c * CHUNK_DAYS] * 1000).toISOString();
      const to = new Date(b[Math.min(b.length - 1, (c + 1) * CHUNK_DAYS)] * 1000).toISOString();
      chunks.set(key, api.get(`/patients/${encodeURIComponent(id)}/readings`, { type: 'glucose', source: 'cgm', from, to })
        .then((r) => r.readings && r.readings.length ? r.readings : (r.windows || []).map((w) => ({ time: w.start, value: w.value })))
        .catch((e) => { chunks.delete(key); throw e; }));
    }
    return chunks.get(key);
  }

  async function drawDay(el) {
    const i = Number(el.dataset.day);
    const my = gen;
    el.dataset.drawn = 'pending';
    try {
      const rs = await chunkOf(i);
      if (!alive || my !== gen) return;
      const b = dayBounds();
      const day = rs.filter((r) => { const x = new Date(r.time).getTime() / 1000; return x >= b[i] && x < b[i + 1]; });
      await put('day-' + i, my, (box) => (day.length ? g.drawDay(box, day, [b[i], b[i + 1]], u(), tz()) : Promise.resolve({ drawn: false, destroy() {} })));
      el.dataset.drawn = day.length ? 'yes' : 'empty';
    } catch {
      el.dataset.drawn = 'failed';
    }
  }

  function observeDays() {
    if (observer) observer.disconnect();
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting && !e.target.dataset.drawn) {
          observer.unobserve(e.target);
          drawDay(e.target);
        }
      }
    }, { rootMargin: '200px' });
    for (const el of root.querySelectorAll('.day-chart')) observer.observe(el);
  }

  // Before the charts of a new period or unit: the old ones go, and every day is drawn again.
  function resetCharts() {
    for (const p of plots.values()) p.destroy();
    plots.clear();
    for (const el of root.querySelectorAll('.day-chart')) {
      delete el.dataset.drawn;
      el.replaceChildren();
    }
  }

  // ---- controls ----
  function setPeriod(days) {
    if (days === s.days) return;
    s.days = days;
    keepQuery();
    s.meter = null;
    loadSummary();
  }

  function setUnit(unit) {
    if (unit === s.unit) return;
    s.unit = unit;
    keepQuery();
    loadSummary();
  }

  function keepQuery() {
    ctx.setQuery({ days: s.days === 14 ? '' : String(s.days), unit: s.unit === 'mgdl' ? 'mgdl' : '' });
  }

  function print() {
    window.print();
  }

  // The AGP is drawn at the width of the page; for print, at the width of A4.
  function beforePrint() {
    const p = plots.get('agp');
    if (!p || !p.plot) return;
    p.plot.vwHeld = true;
    p.plot.setSize({ width: PRINT_WIDTH, height: 280 });
  }
  function afterPrint() {
    const p = plots.get('agp');
    const el = slot('agp');
    if (!p || !p.plot || !el) return;
    p.plot.vwHeld = false;
    p.plot.setSize({ width: Math.max(260, el.clientWidth), height: 300 });
  }
  window.addEventListener('beforeprint', beforePrint);
  window.addEventListener('afterprint', afterPrint);

  // ---- forms ----
  async function saveOverrides(ev) {
    ev.preventDefault();
    const o = s.ovr;
    if (o.busy) return;
    o.busy = true;
    o.err = null;
    draw();
    try {
      await api.call('PUT', `/patients/${encodeURIComponent(id)}/overrides`, { body: { overrides: care.overridesOf(ev.target, s.ths) } });
      s.ths = await api.get(`/patients/${encodeURIComponent(id)}/thresholds`);
      s.ovr = { editing: false, err: null, busy: false, saved: true };
      draw();
      loadSummary(); // the summary is judged by the thresholds in force
    } catch (e) {
      o.busy = false;
      o.err = e;
      draw();
      const bad = e.field && ev.target.elements.namedItem(e.field);
      if (bad) bad.focus();
    }
  }

  async function transfer(ev) {
    ev.preventDefault();
    const f = s.tr;
    if (f.busy) return;
    f.busy = true;
    f.err = null;
    draw();
    const body = values(ev.target);
    try {
      const done = await api.post(`/patients/${encodeURIComponent(id)}/transfer`, { team: body.team, device_policy: body.device_policy });
      const team = dir.team(done.to_team);
      s.tr = { open: false, err: null, busy: false, done: { ...done, team_name: team ? team.name || team.id : done.to_team } };
    } catch (e) {
      f.busy = false;
      f.err = e;
    }
    draw();
  }

  // ---- drawing ----
  function header(p) {
    const team = dir.team(p.team);
    const site = team ? dir.site(team.site) : null;
    const zone = tz();
    const age = p.birth_year ? new Date().getFullYear() - p.birth_year : null;
    return html`<p class="no-print"><a href="/app/patients">← ${t('patients.back')}</a></p>
      <h1>${t('patient.page_title', { id: p.id })}</h1>
      <dl class="facts patient-facts">
        <dt>${t('patient.team')}</dt><dd>${team ? `${team.name || team.id}${site ? ' · ' + (site.name || site.id) : ''}` : p.team}</dd>
        ${p.birth_year ? html`<dt>${t('patient.birth_year')}</dt><dd>${t('patient.birth_year_text', { year: p.birth_year, age })}</dd>` : nothing}
        <dt>${t('patient.plans')}</dt><dd>${p.plans.length ? html`<ul class="plans">${p.plans.map((x) => html`<li>${x}</li>`)}</ul>` : t('patient.no_plans')}</dd>
        ${zone ? html`<dt>${t('patient.times_in')}</dt><dd>${zone} (${zoneName(zone)})</dd>` : nothing}
        ${s.summary && s.summary.overrides.length ? html`<dt>${t('patient.judged_by')}</dt><dd>${s.summary.overrides.map((x) => t('patient.overrides_of_' + x)).join(', ')}</dd>` : nothing}
      </dl>`;
  }

  function controls() {
    return html`<div class="controls no-print" role="group" aria-label=${t('patient.controls')}>
      <div class="segmented" role="group" aria-label=${t('patient.period')}>
        <span class="seg-label">${t('patient.period')}</span>
        ${PERIODS.map((d) => html`<button type="button" aria-pressed=${d === s.days ? 'true' : 'false'} data-days=${d}
          @click=${() => setPeriod(d)}>${d === 1 ? t('patient.period_24h') : t('patient.period_days', { n: d })}</button>`)}
      </div>
      <div class="segmented" role="group" aria-label=${t('patient.unit')}>
        <span class="seg-label">${t('patient.unit')}</span>
        ${['mmol', 'mgdl'].map((x) => html`<button type="button" aria-pressed=${x === s.unit ? 'true' : 'false'} data-unit=${x}
          @click=${() => setUnit(x)}>${g.unitOf(x).name}</button>`)}
      </div>
      <button type="button" class="btn print-button" @click=${print}>${t('patient.print')}</button>
    </div>`;
  }

  function report(sum) {
    const c = sum.cgm;
    const un = u();
    return html`<section class="panel glucose-report" aria-labelledby="cgm-title">
      <h2 id="cgm-title">${t('patient.cgm_report')}</h2>
      <p class="period-line">${t('patient.period_text', { from: dateOnly(c.period.from, tz()), to: dateOnly(new Date(new Date(c.period.to).getTime() - 1).toISOString(), tz()), n: c.period.days })}
        <span class="print-only"> · ${t('patient.page_title', { id })} · ${t('patient.printed', { when: dateOnly(new Date().toISOString(), tz()) })}</span></p>
      ${c.readings ? nothing : html`<p class="notice">${t('patient.no_cgm')}</p>`}
      ${g.agpFlags(c)}
      <h3>${t('patient.agp')} <span class="muted small">(${un.name})</span></h3>
      <div class="chart agp-chart" data-chart="agp" role="img" aria-label=${t('patient.agp_label', { days: c.period.days })}></div>
      ${s.noCharts ? html`<p class="notice">${t('chart.unavailable')}</p>${g.agpTable(c, un)}`
        : html`<details class="no-print"><summary>${t('patient.agp_table')}</summary>${g.agpTable(c, un)}</details>`}
      <div class="report-grid">
        <div><h3>${t('patient.tir')}</h3>${g.tirBar(c, un)}</div>
        <div><h3>${t('patient.key_figures')}</h3>${g.keyFigures(c, un)}</div>
      </div>
    </section>`;
  }

  function daily(sum) {
    const p = sum.cgm.period;
    if (!sum.cgm.readings) return nothing;
    const b = midnights(p.from, p.days, tz());
    return html`<section class="panel no-print" aria-labelledby="daily-title">
      <h2 id="daily-title">${t('patient.daily')}</h2>
      <p class="small muted">${t('patient.daily_hint', { lo: u().fmt(3.9), hi: u().fmt(10.0), unit: u().name })}</p>
      <div class="days">${b.slice(0, -1).map((x, i) => html`<figure class="day">
        <figcaption>${dayLabel(x * 1000, tz())}</figcaption>
        <div class="day-chart" data-day=${i} data-chart=${'day-' + i}></div></figure>`)}</div>
    </section>`;
  }

  function meter(sum) {
    const m = sum.meter;
    const raw = s.meter && s.meter.windows && s.meter.windows.length;
    return html`<section class="panel no-print" aria-labelledby="meter-title">
      <h2 id="meter-title">${t('patient.meter')}</h2>
      ${m.readings ? html`${g.meterFigures(m, u())}
        <h3>${t('patient.by_time_of_day')}</h3>
        ${raw ? html`<p class="notice">${t('patient.meter_too_many')}</p>` : nothing}
        <div class="chart" data-chart="meter" role="img" aria-label=${t('patient.meter_chart_label', { n: m.readings })}></div>`
        : html`<p class="muted">${t('patient.no_meter')}</p>`}
    </section>`;
  }

  function bloodPressure(sum) {
    return html`<section class="panel no-print" aria-labelledby="bp-title">
      <h2 id="bp-title">${t('patient.bp')}</h2>
      <h3>${t('patient.home_average')}</h3>
      ${v.homeAverage(sum.home_bp, tz())}
      <h3>${t('patient.bp_readings')}</h3>
      ${s.bp && !(s.bp.readings || []).length ? html`<p class="muted">${t('patient.no_bp')}</p>` : nothing}
      <div class="chart" data-chart="bp" role="img" aria-label=${t('patient.bp_chart_label')}></div>
    </section>`;
  }

  function vitals(sum) {
    return html`<section class="panel no-print" aria-labelledby="vitals-title">
      <h2 id="vitals-title">${t('patient.vitals')}</h2>
      <div class="vitals">${v.VITALS.map((x) => {
        const r = s.vitals[x.type];
        const empty = r && !(r.readings || []).length && !(r.windows || []).length;
        return html`<div class="vital">
          <h3>${measurementName(x.type)}</h3>
          ${v.vitalFigures(x, sum.vitals, tz())}
          ${empty ? html`<p class="small muted">${t('patient.no_readings_period')}</p>`
            : html`<div class="chart small-chart" data-chart=${'vital-' + x.type} role="img" aria-label=${measurementName(x.type)}></div>`}
        </div>`;
      })}</div>
    </section>`;
  }

  function careSections(p, sum) {
    return html`
      <section class="panel no-print" aria-labelledby="adh-title">
        <h2 id="adh-title">${t('patient.adherence')}</h2>
        ${care.adherence(sum.adherence, tz())}
      </section>
      <section class="panel no-print" aria-labelledby="dev-title">
        <h2 id="dev-title">${t('patient.devices')}</h2>
        ${care.devicesTable(s.devices, tz())}
      </section>
      <section class="panel no-print" aria-labelledby="ths-title">
        <h2 id="ths-title">${t('patient.thresholds')}</h2>
        ${care.thresholdsTable(s.ths, { ...s.ovr, canEdit,
          onEdit: () => { s.ovr = { editing: true, err: null, busy: false, saved: false }; draw(); root.querySelector('.override-input')?.focus(); },
          onCancel: () => { s.ovr = { editing: false, err: null, busy: false, saved: false }; draw(); },
          onSubmit: saveOverrides })}
      </section>
      <section class="panel no-print" aria-labelledby="tr-title">
        <h2 id="tr-title">${t('patient.transfer')}</h2>
        ${care.transferForm({ ...s.tr, teams: dir.allTeams(), current: p.team,
          onOpen: () => { s.tr = { open: true, err: null, busy: false, done: null }; draw(); root.querySelector('#tr-team')?.focus(); },
          onCancel: () => { s.tr = { open: false, err: null, busy: false, done: null }; draw(); },
          onSubmit: transfer })}
      </section>
      <section class="panel no-print" aria-labelledby="alerts-title">
        <h2 id="alerts-title">${t('patient.alerts')}</h2>
        ${care.alertHistory(s.alerts, tz())}
      </section>`;
  }

  function refused(e) {
    const forbidden = e.status === 403;
    const missing = e.status === 404;
    return html`<section class="page patient-refused" data-status=${e.status}>
      <p><a href="/app/patients">← ${t('patients.back')}</a></p>
      <h1>${forbidden ? t('patient.forbidden_title') : missing ? t('patient.notfound_title') : t('patient.error_title')}</h1>
      <p class=${forbidden || missing ? 'notice' : 'notice notice-error'} role="alert">
        ${forbidden ? t('patient.forbidden_text', { id }) : missing ? t('patient.notfound_text', { id }) : errorText(e)}</p>
    </section>`;
  }

  function draw() {
    if (!alive) return;
    if (!s.patient) {
      render(s.error ? refused(s.error) : html`<section class="page"><p class="loading">${t('app.loading')}</p></section>`, root);
      return;
    }
    const sum = s.summary;
    render(html`<article class="page patient-page" aria-busy=${s.loading ? 'true' : 'false'}>
      ${header(s.patient)}
      ${controls()}
      ${s.error ? html`<p class="notice notice-error" role="alert">${errorText(s.error)}</p>` : nothing}
      ${sum ? html`${report(sum)}${daily(sum)}${meter(sum)}${bloodPressure(sum)}${vitals(sum)}${careSections(s.patient, sum)}`
        : html`<p class="loading">${t('app.loading')}</p>`}
    </article>`, root);
  }

  draw();
  // The summary, the slowest answer, and the chart library are asked for at once, beside the
  // patient; a refusal of the patient shows as such whatever the summary says.
  const first = fetchSummary();
  first.catch(() => {});
  uPlot();
  loadPatient().then((ok) => {
    if (!ok) return;
    loadSummary(first);
    loadCare();
  });
  return () => {
    alive = false;
    if (observer) observer.disconnect();
    for (const p of plots.values()) p.destroy();
    window.removeEventListener('beforeprint', beforePrint);
    window.removeEventListener('afterprint', afterPrint);
  };
}

