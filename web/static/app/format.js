// Dates, durations, numbers and units in the page's language. Times are shown in the time zone
// of the site they belong to (a site's time_zone, an IANA name), never the browser's, so that a
// doctor and the centre read the same clock; the zone's name is said where it matters.
import { lang, t } from './i18n.js';

const dateTimeFormats = new Map();

/**
 * The Intl.DateTimeFormat of options opts in the page's language and time zone tz (the
 * browser's when tz is not a zone), made once for each.
 */
export function dtf(tz, opts) {
  const key = tz + '|' + JSON.stringify(opts);
  let f = dateTimeFormats.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat(lang, { ...opts, timeZone: tz || undefined });
    } catch {
      f = new Intl.DateTimeFormat(lang, opts); // an unknown zone: the browser's
    }
    dateTimeFormats.set(key, f);
  }
  return f;
}

/** A date and time such as "22 Nov 2026, 07:30" in time zone tz. */
export function dateTime(iso, tz) {
  if (!iso) return '';
  return dtf(tz, { dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' }).format(new Date(iso));
}

/** A time of day with seconds, in time zone tz. */
export function timeOfDay(iso, tz) {
  if (!iso) return '';
  return dtf(tz, { timeStyle: 'medium', hourCycle: 'h23' }).format(new Date(iso));
}

/** A time for a chart's axis or table: short date and time with seconds, in tz. */
export function shortDateTime(iso, tz) {
  return dtf(tz, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .format(new Date(iso));
}

/** The zone's short name at a moment, such as "GMT+8". */
export function zoneName(tz, iso) {
  const parts = dtf(tz, { timeZoneName: 'short' }).formatToParts(iso ? new Date(iso) : new Date());
  const p = parts.find((x) => x.type === 'timeZoneName');
  return p ? p.value : tz || '';
}

/** A whole duration in words, from seconds: "2 d 3 h", "3 h 5 min", "45 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return h > 0 ? t('duration.days_hours', { d, h }) : t('duration.days', { d });
  if (h > 0) return m > 0 ? t('duration.hours_minutes', { h, m }) : t('duration.hours', { h });
  if (m > 0) return t('duration.minutes', { m });
  return t('duration.seconds', { s });
}

/** How long ago iso was, from now (a Date): "5 min ago". */
export function ago(iso, now = new Date()) {
  const secs = (now.getTime() - new Date(iso).getTime()) / 1000;
  if (secs < 45) return t('time.just_now');
  return t('time.ago', { d: duration(secs) });
}

/** Seconds of a Go duration such as "10m0s", "1h30m", "45s"; 0 for "". */
export function goDuration(s) {
  if (!s) return 0;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    const v = parseFloat(m[1]);
    total += { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 }[m[2]] * v;
  }
  return total;
}

const numberFormats = new Map();

/** A number with at most digits decimals, in the page's language. */
export function number(v, digits = 1) {
  let f = numberFormats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(lang, { maximumFractionDigits: digits });
    numberFormats.set(digits, f);
  }
  return f.format(v);
}

/** The unit of a measurement (the InfluxDB measurement, such as "glucose"), in words. */
export function unitOf(measurement) {
  const key = 'unit.' + measurement;
  const u = t(key);
  return u === key ? '' : u;
}

/** The name of a measurement, such as "Glucose". */
export function measurementName(measurement) {
  const key = 'measurement.' + measurement;
  const n = t(key);
  return n === key ? measurement : n;
}

/** A value with its measurement's unit: "5.2 mmol/L". */
export function withUnit(v, measurement) {
  const u = unitOf(measurement);
  return u ? t('value.with_unit', { v: number(v, 2), u }) : number(v, 2);
}
