// The glucose parts of the patient's page: the CGM report of the international consensus (the
// AGP with its percentile bands and the target band, the stacked time-in-range bar with the
// consensus targets beside it, in words as well as colours, GMI, CV, mean, sensor activity and
// the flags that keep an AGP from being reported), one small chart per day, and the meter
// readings by time of day and meal context. Figures come from the API's summary; glucose is in
// mmol/L, or mg/dL when chosen (the summary's _mgdl fields; readings are converted here).
import { html, svg, nothing } from '../lit.js';
import { t, lang } from '../i18n.js';
import { number } from '../format.js';
import * as charts from './charts.js';

export const MGDL_PER_MMOL = 18.016;

/** The consensus bands, low to high, as the summary names them. */
export const BANDS = ["below_3.0", '3.0-3.8', '3.9-10.0', '10.1-13.9', "above_13.9"];
const BAND_WORDS = {
  "below_3.0": 'patient.band_very_low', '3.0-3.8': 'patient.band_low', '3.9-10.0': 'patient.band_in_range',
  '10.1-13.9': 'patient.band_high', "above_13.9": 'patient.band_very_high',
};
const BAND_RANGE = {
  mmol: { "below_3.0": '<3.0', '3.0-3.8': '3.0–3.8', '3.9-10.0': '3.9–10.0', '10.1-13.9': '10.1–13.9', "above_13.9": '>13.9' },
  mgdl: { "below_3.0": '<54', '3.0-3.8': '54–69', '3.9-10.0': '70–180', '10.1-13.9': '181–250', "above_13.9": '>250' },
};
// The consensus target shown beside each band: the metric of the summary's targets.
const BAND_TARGET = {
  "below_3.0": "time_below_3.0", '3.0-3.8': "time_below_3.9", '3.9-10.0': 'time_in_range',
  '10.1-13.9': "time_above_10.0", "above_13.9": "time_above_13.9",
};
const FLAG_WORDS = {
  no_data: 'patient.flag_no_data', short_period: 'patient.flag_short_period',
  low_sensor_activity: 'patient.flag_low_sensor_activity', too_few_days: 'patient.flag_too_few_days',
};
const CONTEXT_WORDS = {
  fasting: 'patient.context_fasting', before_meal: 'patient.context_before_meal', after_meal: 'patient.context_after_meal',
  bedtime: 'patient.context_bedtime', random: 'patient.context_random', unspecified: 'patient.context_unspecified',
};

const fixedFormats = new Map();

/** A glucose value with exactly digits decimals, as a meter shows it: "10.0". */
export function fixed(v, digits) {
  let f = fixedFormats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    fixedFormats.set(digits, f);
  }
  return f.format(v);
}

/** The glucose unit shown: 'mmol' (mmol/L) or 'mgdl' (mg/dL). */
export function unitOf(code) {
  const mg = code === 'mgdl';
  return {
    code: mg ? 'mgdl' : 'mmol',
    name: mg ? 'mg/dL' : 'mmol/L',
    /** a value in mmol/L in this unit */
    conv: (v) => (mg ? v * MGDL_PER_MMOL : v),
    /** a value in mmol/L, written in this unit */
    fmt: (v) => (v === null || v === undefined ? '—' : fixed(mg ? v * MGDL_PER_MMOL : v, mg ? 0 : 1)),
    /** the summary's own figure in this unit: its _mgdl twin when there is one */
    pick: (obj, key) => (mg && obj[key + '_mgdl'] !== undefined ? obj[key + '_mgdl'] : obj[key]),
    /** the top of the glucose charts */
    yMax: mg ? 400 : 22.2,
  };
}

/** The words of a flag of the summary. */
export function flagText(f) {
  return FLAG_WORDS[f] ? t(FLAG_WORDS[f]) : f;
}

/** The words of a meal context. */
export function contextText(c) {
  return CONTEXT_WORDS[c] ? t(CONTEXT_WORDS[c]) : c;
}

/** The name of a band with its range in the unit: "In range 3.9–10.0 mmol/L". */
export function bandText(band, u) {
  return t('patient.band_with_range', { band: t(BAND_WORDS[band]), range: BAND_RANGE[u.code][band], unit: u.name });
}

function minutesText(m) {
  const h = Math.floor(m / 60);
  const min = Math.round(m - h * 60);
  return h ? t('patient.h_min', { h, m: min }) : t('patient.min', { m: min });
}

function targetText(tc) {
  if (!tc) return '';
  const op = { above: '>', below: '<', at_most: '≤' }[tc.op] || tc.op;
  return t('patient.target_short', { op, limit: number(tc.limit, 1) });
}

function metText(tc) {
  if (!tc) return nothing;
  return tc.met ? html`<span class="met"><span aria-hidden="true">✓</span> ${t('patient.target_met')}</span>`
    : html`<span class="not-met"><span aria-hidden="true">✗</span> ${t('patient.target_not_met')}</span>`;
}

/** The stacked time-in-range bar: an SVG bar (high at the top) and, beside it, each band in words. */
export function tirBar(cgm, u) {
  const byBand = new Map((cgm.bands || []).map((b) => [b.band, b]));
  const targets = new Map((cgm.targets || []).map((x) => [x.metric, x]));
  const top = [...BANDS].reverse();
  let y = 0;
  const rects = [];
  for (const band of top) {
    const p = byBand.get(band)?.percent || 0;
    rects.push(svg`<rect class=${'tir-' + band.replace(/[._]/g, '-')} x="0" y=${y} width="40" height=${p}></rect>`);
    y += p;
  }
  return html`<div class="tir">
    <svg class="tir-bar" viewBox="0 0 40 100" preserveAspectRatio="none" aria-hidden="true">${rects}</svg>
    <ul class="tir-list" aria-label=${t('patient.tir_label')}>
      ${top.map((band) => {
        const b = byBand.get(band) || { percent: 0, minutes_per_day: 0 };
        const tc = targets.get(BAND_TARGET[band]);
        return html`<li class="tir-row" data-band=${band}>
          <span class=${'tir-swatch tir-' + band.replace(/[._]/g, '-')} aria-hidden="true"></span>
          <span class="tir-name">${bandText(band, u)}</span>
          <span class="tir-percent">${number(b.percent, 1)} %</span>
          <span class="tir-minutes">${t('patient.per_day', { d: minutesText(b.minutes_per_day) })}</span>
          ${tc ? html`<span class="tir-target">${t('patient.consensus', { target: targetText(tc) })}
            ${tc.metric !== 'time_in_range' && (band === '3.0-3.8' || band === '10.1-13.9')
              ? html`<span class="muted small">${t('patient.target_combined')}</span>` : nothing}
            ${metText(tc)}</span>` : nothing}
        </li>`;
      })}
    </ul>
  </div>`;
}

/** The key figures of the CGM report. */
export function keyFigures(cgm, u) {
  const cv = (cgm.targets || []).find((x) => x.metric === 'cv');
  const rows = [
    [t('patient.mean_glucose'), html`<span data-figure="mean">${u.fmt(cgm.mean)}</span> ${u.name}`],
    [t('patient.gmi'), html`<span data-figure="gmi">${number(cgm.gmi_percent, 1)}</span> %`],
    [t('patient.cv'), html`<span data-figure="cv">${number(cgm.cv_percent, 1)}</span> % ${cv ? html`(${t('patient.consensus', { target: targetText(cv) })} ${metText(cv)})` : nothing}`],
    [t('patient.sd'), `${u.fmt(cgm.sd)} ${u.name}`],
    [t('patient.sensor_active'), html`<span data-figure="sensor">${number(cgm.sensor_active_percent, 1)}</span> %`],
    [t('patient.cgm_readings'), number(cgm.readings, 0)],
    [t('patient.episodes'), String((cgm.episodes || []).length)],
    cgm.excluded && cgm.excluded.readings ? [t('patient.excluded'), excludedText(cgm.excluded)] : null,
    [t('patient.target_set'), t(cgm.target_set === 'older_high_risk' ? 'patient.targets_older' : 'patient.targets_standard')],
  ].filter(Boolean);
  return html`<dl class="facts key-figures">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

/** How many readings were left out as in doubt, and why. */
export function excludedText(e) {
  if (!e || !e.readings) return '';
  const why = (e.by_reason || []).map((r) => `${r.reason} ${r.readings}`).join(', ');
  return t('patient.excluded_text', { n: e.readings, why });
}

/** Why the AGP cannot be reported, or nothing. */
export function agpFlags(cgm) {
  const flags = cgm.flags || [];
  if (cgm.agp && cgm.agp.reportable && !flags.length) return nothing;
  return html`<div class="notice agp-flags" role="note">
    <strong>${t('patient.agp_not_reportable')}</strong>
    <ul>${(flags.length ? flags : ['short_period']).map((f) => html`<li data-flag=${f}>${flagText(f)}</li>`)}</ul>
  </div>`;
}

/** The AGP's bins in the unit: [{start_minute, readings, p5..p95}]. */
export function agpBins(cgm, u) {
  return (cgm.agp?.bins || []).map((b) => {
    if (u.code === 'mgdl' && b.percentiles_mgdl) {
      const [p5, p25, p50, p75, p95] = b.percentiles_mgdl;
      return { start_minute: b.start_minute, readings: b.readings, p5, p25, p50, p75, p95 };
    }
    return b;
  });
}

/** Draws the AGP of the CGM report into el. */
export function drawAgp(el, cgm, u) {
  return charts.agp(el, {
    bins: agpBins(cgm, u), lo: u.conv(3.9), hi: u.conv(10.0), yMax: u.code === 'mgdl' ? 350 : 20,
    labels: {
      time: t('patient.time_of_day'), p5: t('patient.p5'), p25: t('patient.p25'), p50: t('patient.p50'), p75: t('patient.p75'),
      p95: t('patient.p95'), lo: t('patient.target_low', { v: u.fmt(3.9), unit: u.name }), hi: t('patient.target_high', { v: u.fmt(10.0), unit: u.name }),
    },
  });
}

/** The AGP as a table (for a build without uPlot, and for screen readers): by hour. */
export function agpTable(cgm, u) {
  const bins = agpBins(cgm, u).filter((b, i) => i % 4 === 0);
  return html`<table class="data-table agp-table"><caption class="visually-hidden">${t('patient.agp')}</caption>
    <thead><tr><th scope="col">${t('patient.time_of_day')}</th><th scope="col">${t('patient.p5')}</th><th scope="col">${t('patient.p25')}</th>
      <th scope="col">${t('patient.p50')}</th><th scope="col">${t('patient.p75')}</th><th scope="col">${t('patient.p95')}</th></tr></thead>
    <tbody>${bins.map((b) => html`<tr><td>${charts.clock(b.start_minute)}</td>${['p5', 'p25', 'p50', 'p75', 'p95'].map((k) =>
      html`<td>${b.readings ? fixed(b[k], u.code === 'mgdl' ? 0 : 1) : '—'}</td>`)}</tr>`)}</tbody></table>`;
}

/** Draws one day of CGM readings ([{time, value}]) into el; span is [from, to) in seconds. */
export function drawDay(el, readings, span, u, tz) {
  return charts.day(el, {
    x: readings.map((r) => new Date(r.time).getTime() / 1000), y: readings.map((r) => u.conv(r.value)),
    lo: u.code === 'mgdl' ? 70 : 3.9, hi: u.code === 'mgdl' ? 180 : 10, yMax: u.yMax, day: span, tz,
  });
}

// ---- meter glucose ----

/** The meter report: mean fasting, share in the patient's target range, lows and highs, by context. */
export function meterFigures(meter, u) {
  const bands = new Map((meter.bands || []).map((b) => [b.band, b]));
  const lows = (bands.get("below_3.0")?.readings || 0) + (bands.get('3.0-3.8')?.readings || 0);
  const highs = (bands.get('10.1-13.9')?.readings || 0) + (bands.get("above_13.9")?.readings || 0);
  const tg = meter.targets || {};
  const low = u.code === 'mgdl' && tg.low_mgdl !== undefined ? fixed(tg.low_mgdl, 0) : fixed(tg.low, 1);
  const high = u.code === 'mgdl' && tg.high_mgdl !== undefined ? fixed(tg.high_mgdl, 0) : fixed(tg.high, 1);
  const rows = [
    [t('patient.meter_readings'), t('patient.meter_readings_text', { n: meter.readings, days: meter.days_with_readings, per_day: number(meter.per_day, 1) })],
    [t('patient.mean_fasting'), meter.fasting && meter.fasting.readings
      ? html`<span data-figure="fasting">${fixed(u.pick(meter.fasting, 'mean'), u.code === 'mgdl' ? 0 : 1)}</span> ${u.name} (${t('patient.n_readings', { n: meter.fasting.readings })})` : '—'],
    [t('patient.in_target', { low, high, unit: u.name }), html`<span data-figure="in-target">${number(meter.in_target?.percent || 0, 1)}</span> % (${t('patient.n_readings', { n: meter.in_target?.readings || 0 })})`],
    [t('patient.meter_lows', { v: u.fmt(3.9), unit: u.name }), t('patient.n_readings', { n: lows })],
    [t('patient.meter_highs', { v: u.fmt(10.0), unit: u.name }), t('patient.n_readings', { n: highs })],
    [t('patient.meter_very_high', { v: u.code === 'mgdl' && tg.very_high_mgdl !== undefined ? fixed(tg.very_high_mgdl, 0) : fixed(tg.very_high, 1), unit: u.name }),
      t('patient.n_readings', { n: meter.very_high?.readings || 0 })],
    meter.excluded && meter.excluded.readings ? [t('patient.excluded'), excludedText(meter.excluded)] : null,
  ].filter(Boolean);
  const contexts = (meter.by_context || []).filter((c) => c.readings);
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
    ${contexts.length ? html`<table class="data-table context-table"><caption>${t('patient.by_context')}</caption>
      <thead><tr><th scope="col">${t('patient.context')}</th><th scope="col">${t('patient.readings_count')}</th>
        <th scope="col">${t('patient.mean_in', { unit: u.name })}</th></tr></thead>
      <tbody>${contexts.map((c) => html`<tr><td>${contextText(c.context)}</td><td>${c.readings}</td>
        <td>${fixed(u.pick(c, 'mean'), u.code === 'mgdl' ? 0 : 1)}</td></tr>`)}</tbody></table>` : nothing}`;
}

/** Draws the meter readings ([{time, value, context}]) by local time of day, a series per context. */
export function drawMeter(el, readings, meter, u, minuteOf) {
  const groups = [];
  const by = new Map();
  for (const r of readings) {
    if (r.value === undefined) continue;
    const c = r.context || 'unspecified';
    if (!by.has(c)) {
      by.set(c, { label: contextText(c), points: [] });
      groups.push(by.get(c));
    }
    by.get(c).points.push([minuteOf(r.time), u.conv(r.value)]);
  }
  const tg = meter.targets || { low: 3.9, high: 10 };
  return charts.byTimeOfDay(el, {
    groups, yMax: u.code === 'mgdl' ? 250 : 14,
    lines: [{ label: t('patient.target_low', { v: u.fmt(tg.low), unit: u.name }), value: u.conv(tg.low) },
      { label: t('patient.target_high', { v: u.fmt(tg.high), unit: u.name }), value: u.conv(tg.high) }],
  });
}
