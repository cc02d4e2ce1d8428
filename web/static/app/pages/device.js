// One device: what the registry says of it, its live status (connection, last heard from,
// battery, signal, firmware reported against the registry's, clock offset, calibration, the
// last 24 hours' readings and dead letters, the move of a device in transit), its fault alerts,
// its recent readings (a chart and a table), its dead letters with the reason, and, when it is
// faulty, where its residents can go instead; and its repairs (from the fault or maintenance back
// to service, how each started, and the hours its centre's residents were redirected). A device of another centre is refused by the API:
// the page then says it is not one of theirs (403) or not found (404).
import { html, render, nothing, ref, createRef } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import * as chart from '../chart.js';
import { useStyles } from '../styles.js';
import { dateTime, shortDateTime, ago, number, duration, unitOf, measurementName } from '../format.js';
import { errorText } from '../forms.js';
import { startedBy, hoursText } from './repairs.js';
import { severityBadge, ruleName } from '../alerts.js';
import {
  kindName, modeName, statusName, stateBadge, siteName, siteZone, reasonName, READING_TYPES,
} from '../fleet.js';

const RANGES = { '24h': 1, '7d': 7, '30d': 30 };

export function mount(root, ctx) {
  useStyles('fleet');
  useStyles('repairs');
  const id = ctx.params.id;
  const q = ctx.query;
  const s = {
    device: null, error: null,
    status: null, statusError: null,
    faults: [], faultsError: null,
    dead: [], deadError: null,
    alt: null, altError: null,
    repairs: null, repairsError: null,
    type: q.get('type') || '',
    range: RANGES[q.get('range')] ? q.get('range') : '7d',
    readings: null, readingsError: null, readingsLoading: false,
  };
  const chartEl = createRef();
  let plot = null;
  let alive = true;
  let seqR = 0;

  const zone = () => (s.device ? siteZone(s.device.site) : '');
  const enc = encodeURIComponent(id);

  async function load() {
    try {
      const [d] = await Promise.all([api.get(`/devices/${enc}`), dir.load().catch(() => {})]);
      if (!alive) return;
      s.device = d;
      ctx.setTitle(t('fleet.device.title', { id: d.id }));
      const types = READING_TYPES[d.kind] || [];
      if (!types.includes(s.type)) s.type = types[0] || '';
    } catch (e) {
      if (!alive) return;
      s.error = e;
      draw();
      return;
    }
    draw();
    await Promise.all([
      api.get(`/devices/${enc}/status`).then((x) => { s.status = x; }).catch((e) => { s.statusError = e; }),
      api.get('/alerts', { device: id, category: 'fault', limit: 50 }).then((p) => { s.faults = p.items || []; }).catch((e) => { s.faultsError = e; }),
      api.get('/deadletters', { device: id, limit: 20 }).then((p) => { s.dead = p.items || []; }).catch((e) => { s.deadError = e; }),
      api.get(`/devices/${enc}/repairs`).then((r) => { s.repairs = r.repairs || []; }).catch((e) => { s.repairsError = e; }),
      loadReadings(),
    ]);
    if (!alive) return;
    draw();
    if (s.status && (s.status.states || []).includes('faulty')) {
      try {
        s.alt = await api.get(`/devices/${enc}/alternatives`);
      } catch (e) {
        s.altError = e;
      }
      draw();
    }
  }

  async function loadReadings() {
    if (!s.type) return;
    const my = ++seqR;
    s.readingsLoading = true;
    draw();
    const to = new Date();
    const from = new Date(to.getTime() - RANGES[s.range] * 86400e3);
    try {
      const r = await api.get(`/devices/${enc}/readings`, { type: s.type, from: from.toISOString(), to: to.toISOString() });
      if (my !== seqR || !alive) return;
      s.readings = r;
      s.readingsError = null;
    } catch (e) {
      if (my !== seqR || !alive) return;
      s.readingsError = e;
      s.readings = null;
    }
    s.readingsLoading = false;
    draw();
    await drawChart();
  }

  function setReadings(type, range) {
    s.type = type;
    s.range = range;
    ctx.setQuery({ type, range: range === '7d' ? '' : range });
    loadReadings();
  }

  // ---- the readings ----
  function points() {
    const r = s.readings;
    if (!r) return [];
    if (r.windows && r.windows.length) return r.windows.map((w) => ({ ...w, time: w.start, window: true }));
    return r.readings || [];
  }

  async function drawChart() {
    if (plot) { plot.destroy(); plot = null; }
    const el = chartEl.value;
    const pts = points();
    if (!el || !pts.length) return;
    const x = pts.map((p) => new Date(p.time).getTime() / 1000);
    const series = s.type === 'bp'
      ? [{ label: t('reading.systolic'), values: pts.map((p) => p.systolic ?? null) }, { label: t('reading.diastolic'), values: pts.map((p) => p.diastolic ?? null) }]
      : [{ label: measurementName(s.type), values: pts.map((p) => p.value ?? null) }];
    plot = await chart.draw(el, { x, series, tz: zone(), yLabel: unitOf(s.type) });
    if (!alive) { plot.destroy(); return; }
    s.chartDrawn = plot.drawn;
  }

  function value(p) {
    const u = unitOf(s.type);
    if (s.type === 'bp') return `${number(p.systolic ?? 0, 0)}/${number(p.diastolic ?? 0, 0)}${p.pulse ? ` · ${number(p.pulse, 0)} /min` : ''} ${u}`.trim();
    return p.value === undefined ? '—' : `${number(p.value, 2)} ${u}`.trim();
  }

  function readingsSection() {
    const d = s.device;
    const types = READING_TYPES[d.kind] || [];
    if (!types.length) return nothing;
    const pts = points();
    const windows = s.readings && s.readings.windows && s.readings.windows.length;
    const latest = [...pts].reverse().slice(0, 50);
    return html`<section class="panel" aria-labelledby="readings-title" aria-busy=${s.readingsLoading ? 'true' : 'false'}>
      <h2 id="readings-title">${t('fleet.device.readings')}</h2>
      <div class="filters">
        ${types.length > 1 ? html`<div class="field"><label for="reading-type">${t('fleet.device.reading_type')}</label>
          <select id="reading-type" @change=${(e) => setReadings(e.target.value, s.range)}>
            ${types.map((x) => html`<option value=${x} ?selected=${s.type === x}>${measurementName(x)}</option>`)}</select></div>` : nothing}
        <div class="field"><label for="reading-range">${t('fleet.device.range')}</label>
          <select id="reading-range" @change=${(e) => setReadings(s.type, e.target.value)}>
            ${Object.keys(RANGES).map((r) => html`<option value=${r} ?selected=${s.range === r}>${t('fleet.device.range_' + r)}</option>`)}</select></div>
      </div>
      ${s.readingsError ? html`<p class="notice notice-error" role="alert">${errorText(s.readingsError)}</p>` : nothing}
      ${pts.length ? html`
        <div class="chart" ${ref(chartEl)} role="img" aria-label=${t('fleet.device.chart_label', { n: pts.length, type: measurementName(s.type) })}></div>
        ${s.chartDrawn === false ? html`<p class="notice">${t('chart.unavailable')}</p>` : nothing}
        ${windows ? html`<p class="muted small">${t('fleet.device.windows', { every: duration(s.readings.every_seconds || 0) })}</p>` : nothing}
        <details ?open=${s.chartDrawn === false}>
          <summary>${t('fleet.device.readings_table', { n: latest.length })}</summary>
          <table class="data-table readings-table">
            <thead><tr><th scope="col">${t('reading.time')}</th><th scope="col">${t('reading.value')}</th>
              <th scope="col">${windows ? t('fleet.device.count') : t('reading.flags')}</th></tr></thead>
            <tbody>${latest.map((p) => html`<tr><td>${shortDateTime(p.time, zone())}</td><td>${value(p)}</td>
              <td>${p.window ? p.count : (p.flags || []).join(', ')}</td></tr>`)}</tbody>
          </table>
        </details>` : s.readingsLoading ? html`<p class="loading">${t('app.loading')}</p>` : html`<p class="empty">${t('fleet.device.no_readings')}</p>`}
    </section>`;
  }

  // ---- the rest ----
  function registryFacts(d) {
    const tz = zone();
    const rows = [
      [t('fleet.device.kind'), `${kindName(d.kind)} · ${modeName(d.mode)}`],
      [t('fleet.device.site'), siteName(d.site)],
      [t('fleet.device.status'), statusName(d.status)],
      [t('fleet.device.model'), [d.model, d.serial].filter(Boolean).join(' · ') || '—'],
      d.mode === 'station' ? [t('fleet.device.rated'), String(d.rated_uses_per_day)] : null,
      [t('fleet.device.in_service'), d.in_service ? dateTime(d.in_service, tz) : '—'],
    ].filter(Boolean);
    return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
  }

  function statusFacts() {
    if (s.statusError) {
      return html`<p class="muted">${s.statusError.status === 503 ? t('fleet.device.no_status') : errorText(s.statusError)}</p>`;
    }
    const st = s.status;
    if (!st) return html`<p class="loading">${t('app.loading')}</p>`;
    const tz = zone();
    const when = (iso) => html`${dateTime(iso, tz)} <span class="muted small">(${ago(iso)})</span>`;
    const fw = st.firmware || {};
    const rows = [
      [t('fleet.device.states'), html`<span class="chips">${(st.states || []).length ? st.states.map(stateBadge) : t('fleet.device.no_state')}</span>`],
      [t('fleet.device.connection'), st.connection ? html`${t('fleet.event.' + st.connection.event)} · ${when(st.connection.at)}` : t('fleet.device.unknown')],
      [t('fleet.device.last_message'), st.last_message_at ? when(st.last_message_at) : t('fleet.devices.never')],
      [t('fleet.device.last_telemetry'), st.last_telemetry_at ? when(st.last_telemetry_at) : t('fleet.devices.never')],
      [t('fleet.device.offline_after'), duration(st.offline_after_seconds)],
      [t('fleet.device.battery'), st.battery ? html`${t('fleet.percent', { v: number(st.battery.percent, 0) })}
        ${st.battery.percent <= st.battery.low_at_or_below ? html`<strong class="warn-text">${t('fleet.device.battery_low', { at: number(st.battery.low_at_or_below, 0) })}</strong>` : nothing}
        <span class="muted small">${dateTime(st.battery.at, tz)}</span>` : '—'],
      [t('fleet.device.signal'), st.signal ? html`${t('fleet.device.dbm', { v: number(st.signal.dbm, 0) })} <span class="muted small">${dateTime(st.signal.at, tz)}</span>` : '—'],
      [t('fleet.device.firmware'), fw.reported
        ? html`${fw.differs ? html`<strong class="warn-text"><span aria-hidden="true">≠ </span>${t('fleet.devices.firmware_differs', { reported: fw.reported, registry: fw.registry || '—' })}</strong>`
          : t('fleet.device.firmware_same', { v: fw.reported })} <span class="muted small">${dateTime(fw.reported_at, tz)}</span>`
        : fw.registry ? t('fleet.device.firmware_registry', { v: fw.registry }) : '—'],
      [t('fleet.device.clock'), st.clock_offset ? t('fleet.device.clock_ms', { ms: number(st.clock_offset.ms, 0) }) : '—'],
      [t('fleet.device.calibration'), st.next_calibration ? html`${dateTime(st.next_calibration, tz)}${(st.states || []).includes('calibration_due') ? html` <strong class="warn-text">${t('fleet.state.calibration_due')}</strong>` : nothing}` : '—'],
      [t('fleet.device.last_24h'), t('fleet.device.counts_24h', { readings: st.last_24h.readings, dead: st.last_24h.dead_letters })],
      st.move ? [t('fleet.device.move'), html`<a href="/app/plan?view=all">${t('fleet.device.move_text', { id: st.move.id, from: siteName(st.move.from), to: siteName(st.move.to) })}</a>`] : null,
      [t('fleet.device.as_of'), dateTime(st.as_of, tz)],
    ].filter(Boolean);
    return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
  }

  function faultsSection() {
    const tz = zone();
    let body;
    if (s.faultsError) body = html`<p class="muted">${errorText(s.faultsError)}</p>`;
    else if (!s.faults.length) body = html`<p class="empty">${t('fleet.device.no_faults')}</p>`;
    else {
      body = html`<ol class="plain fault-list">${s.faults.map((a) => html`<li>
        ${severityBadge(a.severity)} <a href="/app/alerts/${a.id}">${ruleName(a.rule)}</a>
        <span class="tag">${t('state.' + a.state)}</span>
        ${a.last_value ? html`<span>${a.last_value}</span>` : nothing}
        <div class="muted small">${t('fleet.device.fault_when', { first: dateTime(a.first_seen, tz), last: dateTime(a.last_seen, tz) })}</div>
      </li>`)}</ol>`;
    }
    return html`<section class="panel" aria-labelledby="faults-title"><h2 id="faults-title">${t('fleet.device.faults')}</h2>${body}</section>`;
  }

  function deadSection() {
    const tz = zone();
    let body;
    if (s.deadError) body = html`<p class="muted">${errorText(s.deadError)}</p>`;
    else if (!s.dead.length) body = html`<p class="empty">${t('fleet.devices.no_dead')}</p>`;
    else {
      body = html`<table class="data-table"><thead><tr><th scope="col">${t('fleet.devices.dead_received')}</th>
          <th scope="col">${t('fleet.devices.dead_reason')}</th><th scope="col">${t('fleet.devices.dead_detail')}</th></tr></thead>
        <tbody>${s.dead.map((x) => html`<tr><td>${dateTime(x.received, tz)}</td><td><strong>${reasonName(x.reason)}</strong></td>
          <td><code class="small">${x.detail}</code></td></tr>`)}</tbody></table>`;
    }
    return html`<section class="panel" aria-labelledby="dead-title"><h2 id="dead-title">${t('fleet.devices.dead_title')}</h2>${body}</section>`;
  }

  function repairsSection() {
    let body;
    if (s.repairsError) body = html`<p class="muted">${errorText(s.repairsError)}</p>`;
    else if (!s.repairs) body = html`<p class="loading">${t('app.loading')}</p>`;
    else if (!s.repairs.length) body = html`<p class="empty">${t('repairs.device_none')}</p>`;
    else {
      const now = Date.now();
      body = html`<table class="data-table device-repairs"><thead><tr>
          <th scope="col">${t('repairs.col_since')}</th><th scope="col">${t('repairs.col_until')}</th>
          <th scope="col">${t('repairs.col_started_by')}</th><th scope="col">${t('repairs.col_centre')}</th>
          <th scope="col" class="num">${t('repairs.col_duration')}</th><th scope="col" class="num">${t('repairs.col_redirected')}</th></tr></thead>
        <tbody>${s.repairs.map((x) => {
          const tz = siteZone(x.site);
          const out = x.until ? x.hours : Math.max(0, (now - new Date(x.since).getTime()) / 3600e3);
          return html`<tr data-since=${x.since}><td>${dateTime(x.since, tz)}</td>
            <td>${x.until ? dateTime(x.until, tz) : html`<strong>${t('repairs.open')}</strong>`}</td>
            <td>${startedBy(x)}</td><td>${siteName(x.site)}</td>
            <td class="num" data-col="hours">${hoursText(out)}</td><td class="num" data-col="redirected">${hoursText(x.redirected_hours)}</td></tr>`;
        })}</tbody></table>`;
    }
    return html`<section class="panel" aria-labelledby="repairs-title"><h2 id="repairs-title">${t('repairs.device_title')}</h2>${body}
      <p><a href="/app/repairs">${t('repairs.device_all')}</a></p></section>`;
  }

  function altSection() {
    if (!s.alt && !s.altError) return nothing;
    let body;
    if (s.altError) body = html`<p class="muted">${errorText(s.altError)}</p>`;
    else if (!s.alt.alternatives.length) body = html`<p>${t('fleet.map.no_alternatives')}</p>`;
    else {
      body = html`<table class="data-table"><thead><tr><th scope="col">${t('fleet.map.col_centre')}</th><th scope="col">${t('fleet.map.col_distance')}</th>
          <th scope="col">${t('fleet.map.col_working')}</th><th scope="col">${t('fleet.map.col_spare_uses')}</th></tr></thead>
        <tbody>${s.alt.alternatives.map((x) => html`<tr><td>${siteName(x.site)}</td><td>${t('fleet.km', { km: number(x.distance_km, 1) })}</td>
          <td>${x.devices}</td><td>${number(x.spare_uses_per_day, 1)}</td></tr>`)}</tbody></table>`;
    }
    return html`<section class="panel" aria-labelledby="alt-title"><h2 id="alt-title">${t('fleet.device.alternatives')}</h2>${body}
      <p><a href="/app/map">${t('fleet.device.on_map')}</a></p></section>`;
  }

  function draw() {
    if (!alive) return;
    if (s.error) {
      const e = s.error;
      const title = e.status === 403 ? t('fleet.device.forbidden_title') : e.status === 404 ? t('fleet.device.notfound_title') : t('fleet.device.error_title');
      const text = e.status === 403 ? t('fleet.device.forbidden_text', { id }) : e.status === 404 ? t('fleet.device.notfound_text', { id }) : errorText(e);
      ctx.setTitle(title);
      render(html`<section class="page fleet-page device-page device-refused" data-status=${e.status}>
        <p><a href="/app/devices">← ${t('fleet.device.back')}</a></p>
        <h1>${title}</h1><p class="notice notice-error" role="alert">${text}</p></section>`, root);
      return;
    }
    const d = s.device;
    if (!d) {
      render(html`<section class="page fleet-page"><p class="loading">${t('app.loading')}</p></section>`, root);
      return;
    }
    render(html`<article class="page fleet-page device-page">
      <p><a href="/app/devices">← ${t('fleet.device.back')}</a></p>
      <h1>${t('fleet.device.title', { id: d.id })} <span class="chips">${((s.status && s.status.states) || []).map(stateBadge)}</span></h1>
      <div class="device-grid">
        <section class="panel" aria-labelledby="status-title"><h2 id="status-title">${t('fleet.device.status_title')}</h2>${statusFacts()}</section>
        <section class="panel" aria-labelledby="registry-title"><h2 id="registry-title">${t('fleet.device.registry')}</h2>${registryFacts(d)}</section>
      </div>
      ${altSection()}
      ${faultsSection()}
      ${repairsSection()}
      ${readingsSection()}
      ${deadSection()}
    </article>`, root);
  }

  draw();
  load();
  return () => {
    alive = false;
    if (plot) plot.destroy();
  };
}

