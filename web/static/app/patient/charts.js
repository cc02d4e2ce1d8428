// The patient page's charts, drawn with uPlot (vendored, through chart.js): the ambulatory
// glucose profile with its percentile bands and the target band, one small chart of glucose
// per day, readings by time of day as points, and series over time with the bands of their
// thresholds. Each function answers {drawn, destroy}; drawn is false when uPlot is missing, and
// the page then shows the figures as tables.
import { uPlot } from '../chart.js';
import { tickLabel } from './time.js';

const DAY_MINUTES = 1440;
const BLUE = { p95: 'rgba(11, 92, 173, 0.16)', p75: 'rgba(11, 92, 173, 0.38)', line: '#0b3d91' };
const TARGET = { fill: 'rgba(26, 127, 55, 0.10)', line: '#1a7f37' };
const POINT_COLOURS = ['#0b5cad', '#bc4c00', '#8250df', '#1a7f37', '#a40e26', '#57606a'];
const LINE_COLOURS = ['#a40e26', '#b35900', '#7a6000', '#3d5a80'];
const none = { drawn: false, destroy() {} };

/** "06:00" for minutes after midnight. */
export function clock(minutes) {
  const m = Math.round(minutes) % DAY_MINUTES;
  return String(Math.floor(m / 60)).padStart(2, '0') + ':' + String(m % 60).padStart(2, '0');
}

// size follows the element's width, at least min px, unless the plot is held at a size (for
// print: plot.vwHeld).
function follow(el, plot, height, min = 260) {
  const ro = new ResizeObserver(() => {
    if (plot.vwHeld) return;
    const w = Math.max(min, el.clientWidth);
    if (w !== plot.width) plot.setSize({ width: w, height });
  });
  ro.observe(el);
  return ro;
}

// shown is what a chart function answers for a drawn plot: it follows el's width until
// destroyed.
function shown(el, plot, height, min) {
  const ro = follow(el, plot, height, min);
  return { drawn: true, plot, destroy() { ro.disconnect(); plot.destroy(); } };
}

function widthOf(el, min = 260) {
  return Math.max(min, el.clientWidth || 600);
}

// The hours of the day on the x axis: every 3 hours, or every 6 on a narrow chart.
const hourAxis = (size) => ({
  splits: (u) => (u.width < 520 ? [0, 360, 720, 1080, 1440] : [0, 180, 360, 540, 720, 900, 1080, 1260, 1440]),
  values: (u, vals) => vals.map((v) => clock(v === DAY_MINUTES ? 0 : v)),
  size,
});

/**
 * The AGP: bins [{start_minute, p5..p95}] (in the unit shown), the 5-95 and 25-75 percentile
 * bands and the median, over the target band lo-hi. labels names the series.
 */
export async function agp(el, { bins, lo, hi, yMax, labels, height = 300 }) {
  const U = await uPlot();
  if (!U || !bins.length) return none;
  try {
    const x = [...bins.map((b) => b.start_minute), DAY_MINUTES];
    // The last bin's values are drawn to the end of the day.
    const col = (k) => {
      const v = bins.map((b) => (b.readings ? b[k] : null));
      return [...v, v[v.length - 1]];
    };
    const data = [x, col('p5'), col('p25'), col('p50'), col('p75'), col('p95'), x.map(() => lo), x.map(() => hi)];
    const max = Math.max(yMax, ...data[5].filter((v) => v !== null));
    const plot = new U({
      width: widthOf(el), height,
      scales: { x: { time: false, range: [0, DAY_MINUTES] }, y: { range: [0, Math.ceil(max)] } },
      axes: [hourAxis(40), { size: 44 }],
      cursor: { points: { show: false } },
      legend: { show: true, live: false },
      series: [
        { label: labels.time, value: (u, v) => (v === null ? '' : clock(v)) },
        { label: labels.p5, stroke: BLUE.line, width: 1, dash: [4, 4], points: { show: false } },
        { label: labels.p25, stroke: BLUE.line, width: 1, points: { show: false } },
        { label: labels.p50, stroke: BLUE.line, width: 2.5, points: { show: false } },
        { label: labels.p75, stroke: BLUE.line, width: 1, points: { show: false } },
        { label: labels.p95, stroke: BLUE.line, width: 1, dash: [4, 4], points: { show: false } },
        { label: labels.lo, stroke: TARGET.line, width: 1.5, points: { show: false } },
        { label: labels.hi, stroke: TARGET.line, width: 1.5, points: { show: false } },
      ],
      bands: [
        { series: [5, 1], fill: BLUE.p95 },
        { series: [4, 2], fill: BLUE.p75 },
        { series: [7, 6], fill: TARGET.fill },
      ],
    }, data, el);
    return shown(el, plot, height);
  } catch (e) {
    console.error(e);
    return none;
  }
}

/**
 * One day of glucose: x seconds, y values, the target band lo-hi, a fixed y range so that the
 * days compare; small, without legend or cursor. day is [from, to) in seconds.
 */
export async function day(el, { x, y, lo, hi, yMax, day: span, tz, height = 90 }) {
  const U = await uPlot();
  if (!U) return none;
  try {
    const xs = [span[0], ...x, span[1]];
    const ys = [null, ...y, null];
    const data = [xs, ys, xs.map(() => lo), xs.map(() => hi)];
    const plot = new U({
      width: widthOf(el, 150), height,
      tzDate: tz ? (ts) => U.tzDate(new Date(ts * 1e3), tz) : undefined,
      scales: { x: { time: true, range: [span[0], span[1]] }, y: { range: [0, yMax] } },
      axes: [
        { size: 18, font: '10px system-ui', ticks: { size: 3 }, space: 40,
          splits: () => [0, 6, 12, 18].map((h) => span[0] + h * 3600),
          values: (u, vals) => vals.map((v, i) => [0, 6, 12, 18][i] + 'h') },
        { size: 26, font: '10px system-ui', ticks: { size: 3 }, splits: () => [lo, hi], values: (u, vals) => vals.map(String) },
      ],
      legend: { show: false },
      cursor: { show: false },
      series: [
        {},
        { stroke: BLUE.line, width: 1.25, spanGaps: false, points: { show: false } },
        { stroke: TARGET.line, width: 1, points: { show: false } },
        { stroke: TARGET.line, width: 1, points: { show: false } },
      ],
      bands: [{ series: [3, 2], fill: TARGET.fill }],
    }, data, el);
    return shown(el, plot, height, 150);
  } catch (e) {
    console.error(e);
    return none;
  }
}

/**
 * Readings as points by time of day: groups [{label, points: [[minute, value]]}], with the
 * lines [{label, value}] across (a target range).
 */
export async function byTimeOfDay(el, { groups, lines = [], yMin = 0, yMax, height = 260 }) {
  const U = await uPlot();
  const all = groups.flatMap((g, i) => g.points.map(([m, v]) => ({ m, v, i })));
  if (!U || !all.length) return none;
  try {
    all.sort((a, b) => a.m - b.m);
    // The day's two ends, so that the lines go across it.
    const pts = [{ m: 0, i: -1 }, ...all, { m: DAY_MINUTES, i: -1 }];
    const x = pts.map((p) => p.m);
    const data = [x, ...groups.map((g, i) => pts.map((p) => (p.i === i ? p.v : null))), ...lines.map((l) => x.map(() => l.value))];
    const top = Math.max(yMax, ...all.map((p) => p.v));
    const plot = new U({
      width: widthOf(el), height,
      scales: { x: { time: false, range: [0, DAY_MINUTES] }, y: { range: [yMin, Math.ceil(top)] } },
      axes: [hourAxis(40), { size: 44 }],
      legend: { show: true, live: false },
      series: [
        { label: '', value: (u, v) => (v === null ? '' : clock(v)) },
        ...groups.map((g, i) => ({ label: g.label, stroke: POINT_COLOURS[i % POINT_COLOURS.length], fill: POINT_COLOURS[i % POINT_COLOURS.length],
          paths: () => null, points: { show: true, size: 7, fill: POINT_COLOURS[i % POINT_COLOURS.length] } })),
        ...lines.map((l, i) => ({ label: l.label, stroke: LINE_COLOURS[i % LINE_COLOURS.length], width: 1.5, dash: [6, 4], points: { show: false } })),
      ],
    }, data, el);
    return shown(el, plot, height);
  } catch (e) {
    console.error(e);
    return none;
  }
}

/**
 * Series over time: x seconds; series [{label, values, points?: boolean}]; lines [{label,
 * value}] dashed across; band {lo, hi} shaded (the range where no rule fires); in time zone tz.
 */
export async function overTime(el, { x, series, lines = [], band, tz, yRange, height = 200 }) {
  const U = await uPlot();
  if (!U || !x.length) return none;
  try {
    const data = [x, ...series.map((s) => s.values), ...lines.map((l) => x.map(() => l.value))];
    const extra = band ? [x.map(() => band.lo), x.map(() => band.hi)] : [];
    data.push(...extra);
    const n = series.length + lines.length;
    const opts = {
      width: widthOf(el), height,
      tzDate: tz ? (ts) => U.tzDate(new Date(ts * 1e3), tz) : undefined,
      scales: { x: { time: true }, y: yRange ? { range: yRange } : {} },
      axes: [{ size: 30, space: 56, values: (u, splits) => {
        const days = splits.length > 1 && splits[1] - splits[0] >= 86400;
        return splits.map((v) => tickLabel(v, tz, days));
      } }, { size: 44 }],
      legend: { show: true, live: false },
      series: [
        {},
        ...series.map((s, i) => ({ label: s.label, stroke: s.colour || POINT_COLOURS[i % POINT_COLOURS.length], width: 1.5,
          paths: s.points ? () => null : undefined, spanGaps: true,
          points: { show: true, size: s.points ? 7 : 4, fill: s.colour || POINT_COLOURS[i % POINT_COLOURS.length] } })),
        ...lines.map((l, i) => ({ label: l.label, stroke: LINE_COLOURS[i % LINE_COLOURS.length], width: 1.25, dash: [6, 4], points: { show: false } })),
        ...(band ? [{ label: band.label, stroke: 'transparent', points: { show: false } }, { label: '', show: true, stroke: 'transparent', points: { show: false } }] : []),
      ],
      bands: band ? [{ series: [n + 2, n + 1], fill: TARGET.fill }] : [],
    };
    const plot = new U(opts, data, el);
    return shown(el, plot, height);
  } catch (e) {
    console.error(e);
    return none;
  }
}
