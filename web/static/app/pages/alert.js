// One alert: what happened in words, the evidence readings on a chart with the thresholds the
// rule used drawn across it (and as a table), the rule's version and thresholds, the history
// (who did what, when, with their notes) and the escalation path. It follows the live feed, and
// offers the inbox's actions.
import { html, render, nothing, ref, createRef } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as live from '../live.js';
import * as dir from '../directory.js';
import * as chart from '../chart.js';
import { dateTime, shortDateTime, duration, number, unitOf, measurementName, zoneName } from '../format.js';
import { errorText, values } from '../forms.js';
import {
  severityBadge, ruleName, subjectText, valueText, canSnooze, quietReason, escalationText, targetText, act, actionForm, fieldOf,
} from '../alerts.js';

// The thresholds of each rule that are levels of the charted value, drawn across the chart; the
// others (durations, counts, deltas) are in the table only.
const LINES = {
  glucose_low: ['below'], glucose_very_low: ['below'], glucose_high: ['above'], glucose_very_high: ['above'],
  cgm_low_episode: ['below'],
  bp_crisis: ['systolic_at_or_above', 'diastolic_at_or_above'], bp_home_average: ['systolic_at_or_above', 'diastolic_at_or_above'],
  bp_low: ['systolic_below', 'diastolic_below'],
  spo2_low: ['very_low_at_or_below', 'low_at_or_below'],
  heart_rate: ['very_high_at_or_above', 'high_at_or_above', 'low_at_or_below', 'very_low_at_or_below'],
  fever: ['high_at_or_above', 'at_or_above', 'baseline'],
  battery_low: ['very_low_at_or_below', 'low_at_or_below'],
};

// Threshold keys that are durations, in seconds.
const isDuration = (k) => /(^|_)(duration|recovery|max_gap|window|after|skip|interval|drift)$/.test(k);

export function mount(root, ctx) {
  const id = ctx.params.id;
  const s = { alert: null, error: null, form: null, now: new Date() };
  const chartEl = createRef();
  let plot = null;
  let alive = true;
  let reloadTimer = null;

  async function load() {
    try {
      const [a] = await Promise.all([api.get(`/alerts/${encodeURIComponent(id)}`), dir.load().catch(() => {})]);
      if (!alive) return;
      s.alert = a;
      s.error = null;
      ctx.setTitle(`${ruleName(a.rule)} · ${subjectText(a)}`);
    } catch (e) {
      if (!alive) return;
      s.error = e;
    }
    draw();
    await drawChart();
  }

  function onEvent({ alert }) {
    if (!alive || !s.alert || String(alert.id) !== String(id)) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 300); // the detail has the evidence and history the event lacks
  }

  // ---- the evidence ----
  function measurement(a) {
    const counts = new Map();
    for (const e of a.evidence || []) if (e.measurement) counts.set(e.measurement, (counts.get(e.measurement) || 0) + 1);
    return [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] || '';
  }

  function chartData(a) {
    const m = measurement(a);
    const ev = (a.evidence || []).filter((e) => e.measurement === m);
    const x = ev.map((e) => new Date(e.time).getTime() / 1000);
    const unit = unitOf(m);
    let series;
    if (m === 'bp') {
      series = [{ label: t('reading.systolic'), values: ev.map((e) => e.systolic ?? null) },
        { label: t('reading.diastolic'), values: ev.map((e) => e.diastolic ?? null) }];
    } else {
      series = [{ label: measurementName(m), values: ev.map((e) => e.value ?? null) }];
    }
    const th = a.thresholds || {};
    const lines = (LINES[a.rule] || []).filter((k) => typeof th[k] === 'number' && (k !== 'baseline' || th[k] > 0))
      .map((k) => ({ label: t('chart.threshold', { key: k, value: number(th[k], 2) }), value: th[k] }));
    return { m, x, series, lines, unit };
  }

  async function drawChart() {
    if (plot) { plot.destroy(); plot = null; }
    const el = chartEl.value;
    if (!el || !s.alert) return;
    const d = chartData(s.alert);
    plot = await chart.draw(el, { x: d.x, series: d.series, lines: d.lines, tz: dir.zoneOf(s.alert), yLabel: d.unit });
    if (!alive) { plot.destroy(); return; }
    s.chartDrawn = plot.drawn;
    draw();
  }

  // ---- actions ----
  function openForm(kind) {
    s.form = { kind, err: null, busy: false };
    draw();
    const input = root.querySelector('.action-form input');
    if (input) input.focus();
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = s.form;
    if (!f || f.busy) return;
    f.busy = true;
    f.err = null;
    draw();
    try {
      await act(f.kind, s.alert, values(ev.target));
      s.form = null;
      await load();
    } catch (e) {
      f.busy = false;
      f.err = fieldOf(f.kind, e);
      draw();
    }
  }

  // ---- drawing ----
  function facts(a) {
    const tz = dir.zoneOf(a);
    const target = targetText(a, dir.targetSeconds(a), s.now);
    const why = quietReason(a);
    const rows = [
      [t('alert.state'), t('state.' + a.state)],
      [t('alert.subject'), a.patient ? html`<a href="/app/patients/${encodeURIComponent(a.patient)}">${subjectText(a)}</a>` : subjectText(a)],
      [t('alert.place'), dir.placeOf(a)],
      a.device && a.patient ? [t('alert.device'), a.device] : null,
      [t('alert.category'), t('category.' + a.category)],
      [t('alert.value'), valueText(a) || '—'],
      [t('alert.first_seen'), dateTime(a.first_seen, tz)],
      [t('alert.last_seen'), dateTime(a.last_seen, tz)],
      [t('alert.count'), String(a.count)],
      a.state === 'open' ? [t('alert.open_for'), duration((s.now - new Date(a.created_at)) / 1000)] : null,
      target ? [t('alert.target'), html`<span class=${target.passed ? 'target-passed' : 'target-left'}>${target.text}</span>`] : null,
      a.escalation_level ? [t('alert.escalation'), escalationText(a.escalation_level)] : null,
      why ? [t('alert.quiet'), why] : null,
      a.notified_severity ? [t('alert.notified_severity'), t('severity.' + a.notified_severity)] : null,
      [t('alert.rule_version'), String(a.rule_version)],
      tz ? [t('alert.time_zone'), `${tz} (${zoneName(tz, a.last_seen)})`] : null,
    ].filter(Boolean);
    return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
  }

  function evidence(a) {
    const tz = dir.zoneOf(a);
    const d = chartData(a);
    const list = a.evidence || [];
    const noChart = s.chartDrawn === false;
    return html`<section class="panel" aria-labelledby="evidence-title">
      <h2 id="evidence-title">${t('alert.evidence')}${d.m ? html` · ${measurementName(d.m)}${d.unit ? html` (${d.unit})` : nothing}` : nothing}</h2>
      ${a.evidence_warning ? html`<p class="notice">${t('alert.evidence_recorded')}</p>` : nothing}
      ${a.evidence_truncated ? html`<p class="muted small">${t('alert.evidence_truncated')}</p>` : nothing}
      ${list.length ? html`<div class="chart" ${ref(chartEl)} role="img"
          aria-label=${t('alert.chart_label', { n: d.x.length, lines: d.lines.map((l) => l.label).join(', ') })}></div>
        ${noChart ? html`<p class="notice" id="chart-fallback">${t('chart.unavailable')}</p>` : nothing}
        <details ?open=${noChart}>
          <summary>${t('alert.evidence_table')}</summary>
          <table class="data-table">
            <thead><tr><th scope="col">${t('reading.time')}</th><th scope="col">${t('reading.measurement')}</th>
              <th scope="col">${t('reading.value')}</th><th scope="col">${t('reading.device')}</th>
              <th scope="col">${t('reading.recorded')}</th><th scope="col">${t('reading.flags')}</th></tr></thead>
            <tbody>${list.map((e) => html`<tr>
              <td>${shortDateTime(e.time, tz)}</td>
              <td>${e.measurement ? measurementName(e.measurement) : '—'}</td>
              <td>${readingValue(e)}</td>
              <td>${e.device}</td>
              <td>${e.recorded ? t('reading.recorded_yes') : t('reading.recorded_no')}${e.in_influxdb === false ? html` · ${t('reading.not_stored')}` : nothing}</td>
              <td>${(e.flags || []).join(', ')}</td></tr>`)}</tbody>
          </table>
        </details>` : html`<p class="muted">${t('alert.no_evidence')}</p>`}
    </section>`;
  }

  function readingValue(e) {
    const u = unitOf(e.measurement);
    if (e.measurement === 'bp') return `${number(e.systolic || 0)}/${number(e.diastolic || 0)} ${u}`.trim();
    if (e.value === undefined) return '—';
    return `${number(e.value, 2)} ${u}`.trim();
  }

  function thresholds(a) {
    const th = Object.entries(a.thresholds || {}).sort(([x], [y]) => x.localeCompare(y));
    const u = unitOf(measurement(a));
    return html`<section class="panel" aria-labelledby="thresholds-title">
      <h2 id="thresholds-title">${t('alert.thresholds')}</h2>
      <p class="muted small">${t('alert.thresholds_hint', { version: a.rule_version })}</p>
      ${th.length ? html`<table class="data-table"><thead><tr><th scope="col">${t('alert.threshold_key')}</th>
          <th scope="col">${t('alert.threshold_value')}</th></tr></thead>
        <tbody>${th.map(([k, v]) => html`<tr><td><code>${k}</code></td>
          <td>${isDuration(k) ? duration(v) : (LINES[a.rule] || []).includes(k) && u ? `${number(v, 2)} ${u}` : number(v, 2)}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">${t('alert.no_thresholds')}</p>`}
    </section>`;
  }

  function history(a) {
    const tz = dir.zoneOf(a);
    return html`<section class="panel" aria-labelledby="history-title">
      <h2 id="history-title">${t('alert.history')}</h2>
      <ol class="history">${(a.events || []).map((e) => html`<li>
        <strong>${t('event.' + e.type)}</strong> · ${dateTime(e.at, tz)} · ${actorText(e.actor)} ${severityBadge(e.severity)}
        ${e.type === 'escalated' && e.note ? html`<div>${t('alert.paged', { who: e.note })}</div>`
          : e.note ? html`<div class="note">${t('alert.note', { note: e.note })}</div>` : nothing}
        ${e.notify ? nothing : html`<span class="muted small">${t('alert.notified_nobody')}</span>`}
      </li>`)}</ol>
    </section>`;
  }

  function actorText(actor) {
    if (actor === 'system') return t('actor.system');
    if (ctx.user && actor === 'user:' + ctx.user.id) return t('actor.you');
    return actor;
  }

  function path(a) {
    let body;
    if (a.category !== 'clinical' || !a.team) body = html`<p>${t('escalation.none_fault')}</p>`;
    else {
      const team = dir.team(a.team);
      if (!team) body = html`<p class="muted">${t('escalation.unknown')}</p>`;
      else {
        const steps = [];
        if (team.lead) steps.push({ level: 1, text: t('escalation.step_lead', { who: team.lead }) });
        (team.on_call || []).forEach((who, i) => steps.push({ level: i + 2, text: t('escalation.step_on_call', { n: i + 1, who }) }));
        body = html`
          <p>${t('escalation.rule', { target: duration(dir.targetSeconds(a)) })}</p>
          ${steps.length ? html`<ol class="path">${steps.map((st) => html`<li class=${a.escalation_level >= st.level ? 'reached' : ''}>
              ${st.text}${a.escalation_level >= st.level ? html` — ${t('escalation.reached')}` : nothing}</li>`)}</ol>`
            : html`<p class="muted">${t('escalation.nobody')}</p>`}`;
      }
    }
    return html`<section class="panel" aria-labelledby="path-title"><h2 id="path-title">${t('alert.path')}</h2>${body}</section>`;
  }

  function draw() {
    if (!alive) return;
    if (s.error) {
      render(html`<section class="page"><p><a href="/app/inbox">← ${t('alert.back')}</a></p>
        <p class="notice notice-error" role="alert">${errorText(s.error)}</p></section>`, root);
      return;
    }
    const a = s.alert;
    if (!a) {
      render(html`<section class="page"><p class="loading">${t('app.loading')}</p></section>`, root);
      return;
    }
    render(html`<article class="page alert-page">
      <p><a href="/app/inbox">← ${t('alert.back')}</a></p>
      <h1>${severityBadge(a.severity)} ${ruleName(a.rule)} · ${subjectText(a)}</h1>
      ${facts(a)}
      <div class="row-actions">
        ${a.state === 'open' ? html`<button type="button" class="btn" @click=${() => openForm('acknowledge')}>${t('action.acknowledge')}</button>` : nothing}
        ${a.state !== 'resolved' ? html`<button type="button" class="btn" @click=${() => openForm('resolve')}>${t('action.resolve')}</button>
          ${canSnooze(a) ? html`<button type="button" class="btn" @click=${() => openForm('snooze')}>${t('action.snooze')}</button>` : nothing}` : nothing}
      </div>
      ${s.form ? html`<div class="row-form">${actionForm(s.form.kind, a, { err: s.form.err, busy: s.form.busy, onSubmit: submit,
        onCancel: () => { s.form = null; draw(); } })}</div>` : nothing}
      ${evidence(a)}
      ${thresholds(a)}
      ${history(a)}
      ${path(a)}
    </article>`, root);
  }

  const unsubscribe = live.subscribe(onEvent);
  const unresync = live.onResync(load);
  draw();
  load();
  return () => {
    alive = false;
    unsubscribe();
    unresync();
    clearTimeout(reloadTimer);
    if (plot) plot.destroy();
  };
}
