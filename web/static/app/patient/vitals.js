// Blood pressure and the other vital signs on the patient's page: the home readings of the
// morning and the evening over time with the 7-day home average against its target (the days
// and readings the summary used, and its day 1 left out), and small charts of SpO2, heart rate,
// temperature and weight with the bands of the thresholds in force for the patient.
import { html, nothing } from '../lit.js';
import { t } from '../i18n.js';
import { number, dateTime, measurementName, unitOf } from '../format.js';
import * as charts from './charts.js';
import { dateOnly } from './time.js';

/** The value of a threshold in force for the patient ({rule, key} of GET /patients/{id}/thresholds). */
export function threshold(ths, rule, key, def) {
  const x = (ths?.thresholds || []).find((y) => y.rule === rule && y.key === key);
  return x ? x.in_force : def;
}

/** The home BP average as the summary reports it. */
export function homeAverage(bp, tz) {
  const mean = bp.mean || {};
  const tg = bp.target || {};
  const flags = bp.flags || [];
  const state = !bp.readings ? 'none' : !bp.enough ? 'too_few' : bp.at_or_above_target ? 'above' : 'below';
  return html`<div class="home-bp" data-state=${state}>
    <p class="home-bp-average">
      <span class="big" data-figure="home-bp">${bp.readings ? `${number(mean.systolic, 0)}/${number(mean.diastolic, 0)}` : '—'}</span>
      ${unitOf('bp')}
      ${state === 'above' ? html`<span class="sev sev-warning"><span aria-hidden="true">!</span> ${t('patient.bp_above_target', { s: tg.systolic, d: tg.diastolic })}</span>`
        : state === 'below' ? html`<span class="ok-badge"><span aria-hidden="true">✓</span> ${t('patient.bp_below_target', { s: tg.systolic, d: tg.diastolic })}</span>`
          : state === 'too_few' ? html`<span class="tag">${t('patient.bp_not_judged')}</span>` : nothing}
    </p>
    <dl class="facts">
      <dt>${t('patient.bp_window')}</dt><dd>${bp.period ? `${dateOnly(bp.period.from, tz)} – ${dateOnly(new Date(new Date(bp.period.to).getTime() - 1).toISOString(), tz)}` : '—'} (${t('patient.n_days', { n: bp.period?.days || 0 })})</dd>
      <dt>${t('patient.bp_used')}</dt><dd data-figure="home-bp-used">${t('patient.bp_used_text', { days: bp.days, n: bp.readings })}</dd>
      <dt>${t('patient.bp_morning')}</dt><dd>${bp.morning?.readings ? `${number(bp.morning.systolic, 0)}/${number(bp.morning.diastolic, 0)} (${t('patient.n_readings', { n: bp.morning.readings })})` : '—'}</dd>
      <dt>${t('patient.bp_evening')}</dt><dd>${bp.evening?.readings ? `${number(bp.evening.systolic, 0)}/${number(bp.evening.diastolic, 0)} (${t('patient.n_readings', { n: bp.evening.readings })})` : '—'}</dd>
      <dt>${t('patient.bp_day1')}</dt><dd>${bp.day1 ? t('patient.bp_day1_text', { day: dateOnly(bp.day1, tz) }) : t('patient.bp_day1_before')}</dd>
      ${flags.length ? html`<dt>${t('patient.flags')}</dt><dd>${flags.map((f) => t('patient.flag_' + f)).join('; ')}</dd>` : nothing}
    </dl>
  </div>`;
}

/**
 * Draws the BP readings ([{time, systolic, diastolic, device_type}]) over time: morning and
 * evening (by the protocol's local hours; hourOf gives a reading's), others apart, with the
 * target lines.
 */
export function drawBP(el, readings, bp, ths, tz, hourOf) {
  const ms = threshold(ths, 'bp_home_average', 'morning_start', 4);
  const me = threshold(ths, 'bp_home_average', 'morning_end', 12);
  const es = threshold(ths, 'bp_home_average', 'evening_start', 18);
  const ee = threshold(ths, 'bp_home_average', 'evening_end', 24);
  const x = [];
  const cols = [[], [], [], [], [], []];
  for (const r of readings) {
    if (r.systolic === undefined) continue;
    const h = hourOf(r.time);
    const k = h >= ms && h < me ? 0 : h >= es && h < ee ? 1 : 2;
    x.push(new Date(r.time).getTime() / 1000);
    cols.forEach((c, i) => c.push(null));
    cols[k * 2][x.length - 1] = r.systolic;
    cols[k * 2 + 1][x.length - 1] = r.diastolic;
  }
  const tg = bp.target || { systolic: 135, diastolic: 85 };
  const has = (i) => cols[i].some((y) => y !== null);
  return charts.overTime(el, {
    x, tz, height: 240,
    series: [
      { label: t('patient.bp_morning_sys'), values: cols[0], points: true, colour: '#0b5cad' },
      { label: t('patient.bp_morning_dia'), values: cols[1], points: true, colour: '#6ba4e0' },
      { label: t('patient.bp_evening_sys'), values: cols[2], points: true, colour: '#8250df' },
      { label: t('patient.bp_evening_dia'), values: cols[3], points: true, colour: '#c0a3f0' },
      { label: t('patient.bp_other_sys'), values: cols[4], points: true, colour: '#57606a' },
      { label: t('patient.bp_other_dia'), values: cols[5], points: true, colour: '#9aa3ad' },
    ].filter((x, i) => has(i)),
    lines: [{ label: t('patient.bp_target_sys', { v: tg.systolic }), value: tg.systolic },
      { label: t('patient.bp_target_dia', { v: tg.diastolic }), value: tg.diastolic }],
  });
}

/** The vital signs with charts, their thresholds' lines (in force for the patient) and band. */
export const VITALS = [
  { type: 'spo2', lines: (ths) => [
    { label: t('patient.line_spo2_low', { v: threshold(ths, 'spo2_low', 'low_at_or_below', 94) }), value: threshold(ths, 'spo2_low', 'low_at_or_below', 94) },
    { label: t('patient.line_spo2_very_low', { v: threshold(ths, 'spo2_low', 'very_low_at_or_below', 92) }), value: threshold(ths, 'spo2_low', 'very_low_at_or_below', 92) }],
  band: (ths) => ({ lo: threshold(ths, 'spo2_low', 'low_at_or_below', 94), hi: 100 }), yRange: [80, 100] },
  { type: 'heart_rate', lines: (ths) => [
    { label: t('patient.line_hr_high', { v: threshold(ths, 'heart_rate', 'high_at_or_above', 111) }), value: threshold(ths, 'heart_rate', 'high_at_or_above', 111) },
    { label: t('patient.line_hr_low', { v: threshold(ths, 'heart_rate', 'low_at_or_below', 50) }), value: threshold(ths, 'heart_rate', 'low_at_or_below', 50) }],
  band: (ths) => ({ lo: threshold(ths, 'heart_rate', 'low_at_or_below', 50), hi: threshold(ths, 'heart_rate', 'high_at_or_above', 111) }) },
  { type: 'temperature', lines: (ths) => [
    { label: t('patient.line_fever', { v: threshold(ths, 'fever', 'at_or_above', 38) }), value: threshold(ths, 'fever', 'at_or_above', 38) },
    { label: t('patient.line_high_fever', { v: threshold(ths, 'fever', 'high_at_or_above', 39.1) }), value: threshold(ths, 'fever', 'high_at_or_above', 39.1) }],
  band: (ths) => ({ lo: 35, hi: threshold(ths, 'fever', 'at_or_above', 38) }) },
  { type: 'weight', lines: () => [], band: () => null },
];

/** The points of a readings answer: readings, or windows' means. */
export function points(series, field = 'value') {
  if (!series) return { x: [], y: [] };
  const rows = series.readings && series.readings.length ? series.readings.map((r) => [r.time, r[field]])
    : (series.windows || []).map((w) => [w.start, w[field]]);
  return { x: rows.map(([tm]) => new Date(tm).getTime() / 1000), y: rows.map(([, v]) => (v === undefined ? null : v)) };
}

/** Draws one vital sign's series into el. */
export function drawVital(el, v, series, ths, tz) {
  const p = points(series);
  const band = v.band(ths);
  return charts.overTime(el, {
    x: p.x, tz, height: 170, yRange: v.yRange,
    series: [{ label: `${measurementName(v.type)} (${unitOf(v.type)})`, values: p.y }],
    lines: v.lines(ths),
    band: band ? { ...band, label: t('patient.no_alert_band') } : null,
  });
}

/** A vital sign's figures of the summary: latest, median and range of the period. */
export function vitalFigures(v, vitals, tz) {
  if (v.type === 'weight') {
    const w = vitals.weight;
    const c3 = vitals.weight_change_3_days;
    const c30 = vitals.weight_change_30_days;
    return html`<p class="small">${w ? t('patient.latest', { v: number(w.value, 1), unit: unitOf('weight'), when: dateTime(w.time, tz) }) : t('patient.no_readings')}
      ${c3 ? html`<br>${t('patient.weight_change', { kg: number(c3.kg, 1), days: c3.days })}` : nothing}
      ${c30 ? html`<br>${t('patient.weight_change', { kg: number(c30.kg, 1), days: c30.days })}` : nothing}</p>`;
  }
  const s = vitals[v.type];
  if (!s || !s.readings) return html`<p class="small muted">${t('patient.no_readings_30')}</p>`;
  return html`<p class="small">${s.latest ? t('patient.latest', { v: number(s.latest.value, 1), unit: unitOf(v.type), when: dateTime(s.latest.time, tz) }) : nothing}
    <br>${t('patient.vital_range', { n: s.readings, min: number(s.min, 1), median: number(s.median, 1), max: number(s.max, 1), unit: unitOf(v.type) })}</p>`;
}
