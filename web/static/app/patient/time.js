// Local days and times of day in the site's time zone (never the browser's) for the patient's
// page: dates, the minute and hour of a reading's local day, and the local midnights of a period.
import { dtf } from '../format.js';

/** A date such as "22 Nov 2026" in time zone tz. */
export function dateOnly(iso, tz) {
  if (!iso) return '';
  return dtf(tz, { dateStyle: 'medium' }).format(new Date(iso));
}

/** A short date with its weekday, such as "Sun 22 Nov", in tz. */
export function dayLabel(iso, tz) {
  return dtf(tz, { weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(iso));
}

/** The local clock of a time in tz: {h, m}. */
function clockOf(iso, tz) {
  const parts = dtf(tz, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value || 0);
  return { h: get('hour') % 24, m: get('minute') };
}

/** The minute of the local day (0-1439) of a time in tz. */
export function minuteOf(iso, tz) {
  const c = clockOf(iso, tz);
  return c.h * 60 + c.m;
}

/** The hour of the local day, with its fraction, of a time in tz. */
export function hourOf(iso, tz) {
  const c = clockOf(iso, tz);
  return c.h + c.m / 60;
}

/**
 * The local midnights that begin each of days days from the local midnight from (an RFC 3339
 * time), and the one after the last: days + 1 times in seconds. A day of a daylight-saving
 * change is 23 or 25 hours long.
 */
export function midnights(from, days, tz) {
  const out = [new Date(from).getTime() / 1000];
  for (let i = 1; i <= days; i++) {
    let s = out[i - 1] + 86400;
    const c = clockOf(s * 1000, tz);
    if (c.h === 23) s += 3600 - c.m * 60;
    else if (c.h !== 0 || c.m !== 0) s -= c.h * 3600 + c.m * 60;
    out.push(s);
  }
  return out;
}

/** A duration in seconds written as a Go duration, as overrides take it: "15m", "1h30m", "72h". */
export function goDuration(seconds) {
  let s = Math.round(seconds);
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return (h ? h + 'h' : '') + (m ? m + 'm' : '') + (s ? s + 's' : '');
}

/** The label of a chart's time tick in tz: the date ("22 Nov") at a midnight or when days is
 * set, else the time of day ("14:00"). */
export function tickLabel(secs, tz, days) {
  const iso = secs * 1000;
  const c = clockOf(iso, tz);
  if (days || (c.h === 0 && c.m === 0)) return dtf(tz, { day: 'numeric', month: 'short' }).format(new Date(iso));
  return String(c.h).padStart(2, '0') + ':' + String(c.m).padStart(2, '0');
}
