// Repairs: how long devices took from their fault (a fault alert of a broken device, or being put
// under maintenance) back to service, per month they came back (UTC, as the API counts them),
// centre and type, with the median, the 90th percentile, the device-days out and the hours the
// centre had no other working device of the type, so that its residents went elsewhere; the
// repairs still open, each with how it started; and the months as CSV from the API. Filters are
// kept in the address.
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { dateTime, number } from '../format.js';
import { errorText } from '../forms.js';
import { KINDS, kindName, siteName, siteZone, mySites } from '../fleet.js';

// Months as YYYY-MM strings, in UTC: repairs are counted in the month (UTC) they ended.
function utcMonth(d) {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}
function addMonths(m, n) {
  const [y, mo] = m.split('-').map(Number);
  return utcMonth(new Date(Date.UTC(y, mo - 1 + n, 1)));
}
const isMonth = (v) => /^\d{4}-(0[1-9]|1[0-2])$/.test(v || '');
const MAX_MONTHS = 24;

/** Hours in words: "84 h". */
export function hoursText(h) {
  return t('repairs.hours', { h: number(h || 0, h >= 10 ? 0 : 1) });
}

/** How a repair started, in words, with the fault alert's link. */
export function startedBy(x) {
  if (x.started_by === 'fault_alert' && x.alert) {
    return html`<span class="repair-start repair-start-fault"><span aria-hidden="true">⚠ </span><a href="/app/alerts/${x.alert}">${t('repairs.started_fault', { id: x.alert })}</a></span>`;
  }
  return html`<span class="repair-start repair-start-maintenance"><span aria-hidden="true">⚙ </span>${t('repairs.started_maintenance')}</span>`;
}

export function mount(root, ctx) {
  useStyles('fleet');
  useStyles('repairs');
  const user = ctx.user;
  const q = ctx.query;
  const current = utcMonth(new Date());
  const s = {
    to: isMonth(q.get('to')) && q.get('to') <= current ? q.get('to') : current,
    from: '',
    type: KINDS.includes(q.get('type')) ? q.get('type') : '',
    site: q.get('site') || '',
    data: null, error: null, loading: true,
    fromError: '',
  };
  s.from = isMonth(q.get('from')) && q.get('from') <= s.to ? q.get('from') : addMonths(s.to, -5);
  let alive = true;
  let seq = 0;

  async function load() {
    const my = ++seq;
    s.loading = true;
    s.error = null;
    draw();
    try {
      const d = await api.get('/utilisation/repairs', { from: s.from, to: s.to, type: s.type || undefined, site: s.site || undefined });
      if (my !== seq || !alive) return;
      s.data = d;
    } catch (e) {
      if (my !== seq || !alive) return;
      s.error = e;
    }
    s.loading = false;
    draw();
  }

  function setFilters(form) {
    const v = Object.fromEntries(new FormData(form).entries());
    let from = isMonth(v.from) ? v.from : s.from;
    const to = isMonth(v.to) ? v.to : s.to;
    s.fromError = '';
    if (from > to) from = to;
    if (addMonths(from, MAX_MONTHS - 1) < to) {
      s.fromError = t('repairs.too_long', { n: MAX_MONTHS });
      draw();
      return;
    }
    s.from = from;
    s.to = to;
    s.type = KINDS.includes(v.type) ? v.type : '';
    s.site = v.site || '';
    ctx.setQuery({ from: s.from, to: s.to, type: s.type, site: s.site });
    load();
  }

  function csvHref() {
    const p = new URLSearchParams({ format: 'csv', from: s.from, to: s.to });
    if (s.type) p.set('type', s.type);
    if (s.site) p.set('site', s.site);
    return '/api/v1/utilisation/repairs?' + p.toString();
  }

  function filters() {
    const sites = mySites(user);
    return html`<form class="filters repairs-filters" @change=${(e) => setFilters(e.currentTarget)}
        @submit=${(e) => { e.preventDefault(); setFilters(e.currentTarget); }} aria-label=${t('filter.label')}>
      <div class="field"><label for="repairs-from">${t('repairs.from')}</label>
        <input id="repairs-from" name="from" type="month" .value=${s.from} max=${current} required
          aria-invalid=${s.fromError ? 'true' : 'false'} aria-describedby="repairs-from-error">
        <p id="repairs-from-error" class="field-error" role="alert">${s.fromError || nothing}</p></div>
      <div class="field"><label for="repairs-to">${t('repairs.to')}</label>
        <input id="repairs-to" name="to" type="month" .value=${s.to} max=${current} required></div>
      <div class="field"><label for="repairs-type">${t('repairs.type')}</label>
        <select id="repairs-type" name="type"><option value="" ?selected=${!s.type}>${t('filter.all')}</option>
          ${KINDS.map((k) => html`<option value=${k} ?selected=${s.type === k}>${kindName(k)}</option>`)}</select></div>
      <div class="field"><label for="repairs-site">${t('filter.site')}</label>
        <select id="repairs-site" name="site"><option value="" ?selected=${!s.site}>${t('filter.all')}</option>
          ${sites.map((id) => html`<option value=${id} ?selected=${s.site === id}>${siteName(id)}</option>`)}</select></div>
    </form>`;
  }

  function monthsTable() {
    if (s.loading && !s.data) return html`<p class="loading">${t('app.loading')}</p>`;
    if (s.error) return html`<p class="notice notice-error" role="alert">${errorText(s.error)}</p>`;
    const rows = s.data.months || [];
    if (!rows.length) return html`<p class="empty">${t('repairs.none_ended')}</p>`;
    return html`<div class="panel"><table class="data-table repairs-table">
      <caption class="visually-hidden">${t('repairs.months_caption', { from: s.data.from, to: s.data.to })}</caption>
      <thead><tr>
        <th scope="col">${t('repairs.col_month')}</th><th scope="col">${t('repairs.col_centre')}</th><th scope="col">${t('repairs.col_type')}</th>
        <th scope="col" class="num">${t('repairs.col_count')}</th><th scope="col" class="num">${t('repairs.col_from_fault')}</th>
        <th scope="col" class="num">${t('repairs.col_median')}</th><th scope="col" class="num">${t('repairs.col_p90')}</th>
        <th scope="col" class="num">${t('repairs.col_days_out')}</th><th scope="col" class="num">${t('repairs.col_redirected')}</th>
      </tr></thead>
      <tbody>${rows.map((r) => html`<tr data-month=${r.month} data-site=${r.site} data-type=${r.type}>
        <td>${r.month}</td><td>${siteName(r.site)}</td><td>${kindName(r.type)}</td>
        <td class="num" data-col="count">${r.repairs}</td><td class="num" data-col="from_fault">${r.from_fault}</td>
        <td class="num" data-col="median">${hoursText(r.median_hours)}</td><td class="num" data-col="p90">${hoursText(r.p90_hours)}</td>
        <td class="num" data-col="days_out">${number(r.days_out, 1)}</td>
        <td class="num" data-col="redirected">${r.redirected_hours > 0
          ? html`<strong><span aria-hidden="true">↪ </span>${hoursText(r.redirected_hours)}</strong>` : hoursText(0)}</td>
      </tr>`)}</tbody>
    </table></div>`;
  }

  function openTable() {
    if (!s.data) return nothing;
    const rows = s.data.open || [];
    if (!rows.length) return html`<p class="empty">${t('repairs.none_open')}</p>`;
    const now = Date.now();
    return html`<div class="panel"><table class="data-table repairs-open">
      <thead><tr>
        <th scope="col">${t('repairs.col_device')}</th><th scope="col">${t('repairs.col_centre')}</th><th scope="col">${t('repairs.col_type')}</th>
        <th scope="col">${t('repairs.col_since')}</th><th scope="col">${t('repairs.col_started_by')}</th>
        <th scope="col" class="num">${t('repairs.col_so_far')}</th><th scope="col" class="num">${t('repairs.col_redirected')}</th>
      </tr></thead>
      <tbody>${rows.map((x) => html`<tr data-device=${x.device}>
        <td><a href="/app/devices/${encodeURIComponent(x.device)}">${x.device}</a></td>
        <td>${siteName(x.site)}</td><td>${kindName(x.type)}</td>
        <td>${dateTime(x.since, siteZone(x.site))}</td><td>${startedBy(x)}</td>
        <td class="num">${hoursText(Math.max(0, (now - new Date(x.since).getTime()) / 3600e3))}</td>
        <td class="num" data-col="redirected">${hoursText(x.redirected_hours)}</td>
      </tr>`)}</tbody>
    </table></div>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="page fleet-page repairs-page">
      <h1>${t('repairs.title')}</h1>
      <p class="muted">${t('repairs.intro')}</p>
      ${filters()}
      <p class="csv-links"><a href=${csvHref()} download>${t('repairs.csv')}</a></p>
      <section aria-labelledby="repairs-months-title" aria-busy=${s.loading ? 'true' : 'false'}>
        <h2 id="repairs-months-title">${t('repairs.months_title', { from: s.from, to: s.to })}</h2>
        ${monthsTable()}
        <p class="muted small">${t('repairs.explain')}</p>
      </section>
      <section aria-labelledby="repairs-open-title">
        <h2 id="repairs-open-title">${t('repairs.open_title')}</h2>
        ${openTable()}
      </section>
    </section>`, root);
  }

  draw();
  dir.load().catch(() => {}).then(() => { if (alive) load(); });
  return () => { alive = false; };
}
