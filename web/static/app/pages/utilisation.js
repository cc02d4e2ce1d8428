// Utilisation: per device type, a heatmap of each centre by month, and of each device by day for
// one month and centre. Heat cells are a table with the value in each cell; the spare and short
// lines (reallocation.low, 60%, and reallocation.high, 90%) are marked in the cells (▽ below the
// low line, ▲ above the high one) and in the legend, not by colour alone. The figures can be
// downloaded as CSV from the API. Filters are kept in the address. The centres whose patients on
// a care plan grew beyond reallocation.growth (the assessment's growth flag) are listed with
// their numbers and the devices they would lack at the target.
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { number } from '../format.js';
import { errorText } from '../forms.js';
import { KINDS, kindName, siteName, siteZone, percent, band, bandMark, mySites, modeName, growthFlags, planName, growthMoreText } from '../fleet.js';

// Months as YYYY-MM strings.
function monthOf(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}
function addMonths(m, n) {
  const [y, mo] = m.split('-').map(Number);
  return monthOf(new Date(y, mo - 1 + n, 1));
}
function monthsFrom(from, to) {
  const out = [];
  for (let m = from; m <= to && out.length < 24; m = addMonths(m, 1)) out.push(m);
  return out;
}
/** The current month in time zone tz (the browser's when tz is empty or unknown). */
function monthIn(tz) {
  try {
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz || undefined, year: 'numeric', month: '2-digit' }).formatToParts(new Date());
    return `${parts.find((p) => p.type === 'year').value}-${parts.find((p) => p.type === 'month').value}`;
  } catch {
    return monthOf(new Date());
  }
}
const isMonth = (v) => /^\d{4}-(0[1-9]|1[0-2])$/.test(v || '');

// heatClass is the colour step of a utilisation: five steps, the bands' lines among them.
function heatClass(v, th) {
  if (v === null || v === undefined || v < 0) return 'heat-none';
  if (v > th.high) return 'heat-4';
  if (v >= th.target) return 'heat-3';
  if (v >= th.low) return 'heat-2';
  if (v >= th.low / 2) return 'heat-1';
  return 'heat-0';
}

export function mount(root, ctx) {
  useStyles('fleet');
  const user = ctx.user;
  const q = ctx.query;
  // This month, in the time zone of the person's (first) centre, where its days are counted:
  // set once the directory has loaded (the browser's clock until then).
  let current = monthOf(new Date());
  const s = {
    type: KINDS.includes(q.get('type')) ? q.get('type') : '',
    to: '', from: '', month: '',
    site: q.get('site') || '',
    months: null, monthsError: null, loadingMonths: true,
    days: null, daysError: null, loadingDays: true,
    th: { low: 0.6, high: 0.9, target: 0.75, months: 3 },
    assess: null, // the assessment's items, for the growth flags; null when it could not be read
  };
  function defaults() {
    current = monthIn(siteZone(mySites(user)[0]));
    s.to = isMonth(q.get('to')) ? q.get('to') : current;
    s.from = isMonth(q.get('from')) && q.get('from') <= s.to ? q.get('from') : addMonths(s.to, -5);
    s.month = isMonth(q.get('month')) ? q.get('month') : addMonths(current, -1);
  }
  defaults();
  let alive = true;
  let seqM = 0;
  let seqD = 0;

  function syncQuery() {
    ctx.setQuery({ type: s.type, from: s.from, to: s.to, month: s.month, site: s.site });
  }

  async function loadMonths() {
    const my = ++seqM;
    s.loadingMonths = true;
    s.monthsError = null;
    draw();
    try {
      const [u, a] = await Promise.all([
        api.get('/utilisation', { by: 'type', from: s.from, to: s.to, type: s.type || undefined }),
        api.get('/reallocation/assessment', { type: s.type || undefined }).catch(() => null),
      ]);
      if (my !== seqM || !alive) return;
      s.months = u;
      if (a && a.thresholds) s.th = a.thresholds;
      s.assess = a ? a.items || [] : null;
    } catch (e) {
      if (my !== seqM || !alive) return;
      s.monthsError = e;
    }
    s.loadingMonths = false;
    draw();
  }

  async function loadDays() {
    const my = ++seqD;
    s.loadingDays = true;
    s.daysError = null;
    draw();
    try {
      const d = await api.get('/utilisation/days', { month: s.month, site: s.site || undefined, type: s.type || undefined });
      if (my !== seqD || !alive) return;
      s.days = d;
    } catch (e) {
      if (my !== seqD || !alive) return;
      s.daysError = e;
    }
    s.loadingDays = false;
    draw();
  }

  function setFilters(form) {
    const v = Object.fromEntries(new FormData(form).entries());
    const type = KINDS.includes(v.type) ? v.type : '';
    const from = isMonth(v.from) ? v.from : s.from;
    let to = isMonth(v.to) ? v.to : s.to;
    if (to < from) to = from;
    const changedMonths = type !== s.type || from !== s.from || to !== s.to;
    const changedDays = type !== s.type || v.site !== s.site || v.month !== s.month;
    s.type = type;
    s.from = from;
    s.to = monthsFrom(from, to).at(-1);
    s.site = v.site || '';
    s.month = isMonth(v.month) ? v.month : s.month;
    syncQuery();
    if (changedMonths) loadMonths();
    if (changedDays) loadDays();
    draw();
  }

  function showDaysOf(month, site) {
    s.month = month;
    if (site) s.site = site;
    syncQuery();
    loadDays();
    const el = root.querySelector('#days-title');
    if (el) el.scrollIntoView({ block: 'start' });
  }

  // ---- the centre-by-month heatmap ----
  function monthTables() {
    if (s.loadingMonths && !s.months) return html`<p class="loading">${t('app.loading')}</p>`;
    if (s.monthsError) return html`<p class="notice notice-error" role="alert">${errorText(s.monthsError)}</p>`;
    const figs = (s.months && s.months.figures) || [];
    const months = monthsFrom(s.months.from, s.months.to);
    const types = KINDS.filter((k) => figs.some((f) => f.type === k));
    if (!types.length) return html`<p class="empty">${t('fleet.util.no_figures')}</p>`;
    return types.map((type) => {
      const rows = [...new Set(figs.filter((f) => f.type === type).map((f) => f.site))].sort();
      const cell = (site, m) => figs.find((f) => f.type === type && f.site === site && f.month === m);
      return html`<div class="panel heat-panel">
        <table class="heat" data-type=${type}>
          <caption>${t('fleet.util.by_month_caption', { type: kindName(type) })}</caption>
          <thead><tr><th scope="col">${t('fleet.util.centre')}</th>
            ${months.map((m) => html`<th scope="col"><button type="button" class="link-button"
              @click=${() => showDaysOf(m)} aria-label=${t('fleet.util.show_days', { month: m })}>${m}</button>
              ${m === current ? html`<div class="muted small">${t('fleet.util.so_far')}</div>` : nothing}</th>`)}</tr></thead>
          <tbody>${rows.map((site) => html`<tr><th scope="row">${siteName(site)}</th>
            ${months.map((m) => {
              const f = cell(site, m);
              if (!f || !f.capacity) return html`<td class="heat-none" data-month=${m} data-site=${site}>—</td>`;
              const b = band(f.utilisation, s.th);
              return html`<td class="${heatClass(f.utilisation, s.th)} band-${b}" data-month=${m} data-site=${site}
                  title=${t('fleet.util.cell_title', { used: number(f.used, 0), capacity: number(f.capacity, 0), devices: f.devices })}>
                <span class="heat-value">${percent(f.utilisation)}</span>${bandMark(b) ? html`<span class="heat-mark" aria-label=${t('fleet.util.band_' + b)}>${bandMark(b)}</span>` : nothing}</td>`;
            })}</tr>`)}</tbody>
        </table>
      </div>`;
    });
  }

  // ---- the device-by-day heatmap ----
  function dayTables() {
    if (s.loadingDays && !s.days) return html`<p class="loading">${t('app.loading')}</p>`;
    if (s.daysError) return html`<p class="notice notice-error" role="alert">${errorText(s.daysError)}</p>`;
    const devs = (s.days && s.days.devices) || [];
    if (!devs.length) return html`<p class="empty">${t('fleet.util.no_devices')}</p>`;
    const types = KINDS.filter((k) => devs.some((d) => d.type === k));
    const n = Math.max(...devs.map((d) => d.days.length));
    const dayNums = Array.from({ length: n }, (_, i) => i + 1);
    return types.map((type) => {
      const rows = devs.filter((d) => d.type === type);
      const station = rows.some((d) => d.mode === 'station');
      return html`<div class="panel heat-panel">
        <table class="heat heat-days" data-type=${type}>
          <caption>${t(station ? 'fleet.util.by_day_caption_station' : 'fleet.util.by_day_caption_home', { type: kindName(type), month: s.days.month })}</caption>
          <thead><tr><th scope="col">${t('fleet.util.device')}</th>${dayNums.map((d) => html`<th scope="col" class="day-col">${d}</th>`)}</tr></thead>
          <tbody>${rows.map((d) => html`<tr><th scope="row"><a href="/app/devices/${encodeURIComponent(d.device)}">${d.device}</a>
              <div class="muted small">${siteName(d.site)} · ${modeName(d.mode)}</div></th>
            ${d.days.map((day) => dayCell(d, day))}</tr>`)}</tbody>
        </table>
      </div>`;
    });
  }

  function dayCell(d, day) {
    if (!day.in_service) {
      return html`<td class="heat-off" data-day=${day.day} title=${t('fleet.util.not_in_service')}><span aria-label=${t('fleet.util.not_in_service')}>×</span></td>`;
    }
    if (d.mode === 'station') {
      const v = d.rated_uses_per_day ? day.uses / d.rated_uses_per_day : null;
      const b = band(v, s.th);
      return html`<td class="${heatClass(v, s.th)} band-${b}" data-day=${day.day}
          title=${t('fleet.util.day_title', { uses: day.uses, rated: d.rated_uses_per_day, pct: percent(v) })}>
        <span class="heat-value">${day.uses}</span>${bandMark(b) ? html`<span class="heat-mark" aria-label=${t('fleet.util.band_' + b)}>${bandMark(b)}</span>` : nothing}</td>`;
    }
    if (!day.lent) return html`<td class="heat-idle" data-day=${day.day} title=${t('fleet.util.not_lent')}><span aria-label=${t('fleet.util.not_lent')}>·</span></td>`;
    return day.uses
      ? html`<td class="heat-3" data-day=${day.day} title=${t('fleet.util.home_used', { uses: day.uses })}><span class="heat-value">${day.uses}</span></td>`
      : html`<td class="heat-0" data-day=${day.day} title=${t('fleet.util.home_unused')}><span class="heat-value">0</span></td>`;
  }

  function legend() {
    const th = s.th;
    return html`<div class="heat-legend" aria-labelledby="legend-title">
      <h2 id="legend-title" class="visually-hidden">${t('fleet.util.legend')}</h2>
      <ul class="plain">
        <li><span class="swatch heat-0"></span><span class="swatch heat-1"></span> ${t('fleet.util.legend_low', { low: percent(th.low) })} <strong aria-hidden="true">▽</strong></li>
        <li><span class="swatch heat-2"></span><span class="swatch heat-3"></span> ${t('fleet.util.legend_mid', { low: percent(th.low), high: percent(th.high), target: percent(th.target) })}</li>
        <li><span class="swatch heat-4"></span> ${t('fleet.util.legend_high', { high: percent(th.high) })} <strong aria-hidden="true">▲</strong></li>
        <li><span class="swatch heat-off">×</span> ${t('fleet.util.not_in_service')}</li>
        <li><span class="swatch heat-idle">·</span> ${t('fleet.util.not_lent')}</li>
      </ul>
      <p class="muted small">${t('fleet.util.rule', { low: percent(th.low), high: percent(th.high), months: th.months })}</p>
    </div>`;
  }

  // ---- the growth flags ----
  function growthSection() {
    if (!s.assess) return nothing;
    const flags = growthFlags(s.assess);
    const rate = percent(s.th.growth || 0);
    return html`<section class="panel growth-panel" aria-labelledby="growth-title">
      <h2 id="growth-title">${t('fleet.growth.title')}</h2>
      ${flags.length ? html`<p class="muted small">${t('fleet.growth.intro', { rate, target: percent(s.th.target) })}</p>
        <div class="table-wrap"><table class="growth-table">
          <thead><tr><th scope="col">${t('fleet.growth.centre')}</th><th scope="col">${t('fleet.growth.plan_col')}</th>
            <th scope="col">${t('fleet.growth.patients')}</th><th scope="col">${t('fleet.growth.rate')}</th><th scope="col">${t('fleet.growth.needs')}</th></tr></thead>
          <tbody>${flags.map((f) => html`<tr data-site=${f.site} data-plan=${f.growth.plan}>
            <th scope="row">${siteName(f.site)}</th>
            <td><span aria-hidden="true">↗</span> ${planName(f.growth.plan)}</td>
            <td class="num">${f.growth.patients_before} → ${f.growth.patients}</td>
            <td class="num">+${percent(f.growth.rate)}</td>
            <td>${f.types.map(growthMoreText).join(', ')}</td></tr>`)}</tbody>
        </table></div>`
        : html`<p class="empty">${s.th.growth ? t('fleet.growth.none', { rate }) : nothing}</p>`}
    </section>`;
  }

  function csvHref(by) {
    const p = new URLSearchParams({ format: 'csv', by, from: s.from, to: s.to });
    if (s.type) p.set('type', s.type);
    return '/api/v1/utilisation?' + p.toString();
  }

  function filters() {
    const sites = mySites(user);
    return html`<form class="filters util-filters" @change=${(e) => setFilters(e.currentTarget)} @submit=${(e) => { e.preventDefault(); setFilters(e.currentTarget); }}
        aria-label=${t('filter.label')}>
      <div class="field"><label for="util-type">${t('fleet.util.type')}</label>
        <select id="util-type" name="type"><option value="" ?selected=${!s.type}>${t('filter.all')}</option>
          ${KINDS.map((k) => html`<option value=${k} ?selected=${s.type === k}>${kindName(k)}</option>`)}</select></div>
      <div class="field"><label for="util-from">${t('fleet.util.from')}</label>
        <input id="util-from" name="from" type="month" .value=${s.from} max=${current} required></div>
      <div class="field"><label for="util-to">${t('fleet.util.to')}</label>
        <input id="util-to" name="to" type="month" .value=${s.to} max=${current} required></div>
      <div class="field"><label for="util-month">${t('fleet.util.month')}</label>
        <input id="util-month" name="month" type="month" .value=${s.month} max=${current} required></div>
      <div class="field"><label for="util-site">${t('filter.site')}</label>
        <select id="util-site" name="site"><option value="" ?selected=${!s.site}>${t('filter.all')}</option>
          ${sites.map((id) => html`<option value=${id} ?selected=${s.site === id}>${siteName(id)}</option>`)}</select></div>
    </form>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="page fleet-page util-page">
      <h1>${t('fleet.util.title')}</h1>
      <p class="muted">${t('fleet.util.intro')}</p>
      ${filters()}
      <p class="csv-links">${t('fleet.util.download')}
        <a href=${csvHref('type')} download>${t('fleet.util.csv_type')}</a> ·
        <a href=${csvHref('device')} download>${t('fleet.util.csv_device')}</a></p>
      ${legend()}
      ${growthSection()}
      <section aria-labelledby="months-title" aria-busy=${s.loadingMonths ? 'true' : 'false'}>
        <h2 id="months-title">${t('fleet.util.by_month', { from: s.from, to: s.to })}</h2>
        ${monthTables()}
      </section>
      <section aria-labelledby="days-title" aria-busy=${s.loadingDays ? 'true' : 'false'}>
        <h2 id="days-title">${t('fleet.util.by_day', { month: s.month, site: s.site ? siteName(s.site) : t('fleet.util.all_sites') })}</h2>
        ${dayTables()}
      </section>
    </section>`, root);
  }

  draw();
  dir.load().catch(() => {}).then(() => {
    if (!alive) return;
    defaults();
    loadMonths();
    loadDays();
  });
  return () => { alive = false; };
}
