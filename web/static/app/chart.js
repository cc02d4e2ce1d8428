// Time-series charts with uPlot (vendored). A chart is an enhancement: the page always has the
// data as a table too, and when uPlot is missing from the build, or fails, draw answers false and
// the page says the table stands in for it.
import { library } from './libraries.js';

/**
 * The uPlot constructor, loaded once with its style sheet, or null when uPlot is missing from
 * the build: for pages that draw charts of their own kinds (bands, scatter, small multiples).
 */
export function uPlot() {
  return library('uplot', '/static/vendor/uplot/uPlot.esm.js', '/static/vendor/uplot/uPlot.min.css', (m) => m.default);
}

const COLOURS = ['#0b5cad', '#8250df', '#1a7f37', '#bc4c00'];
const LINE_COLOURS = ['#a40e26', '#b35900', '#7a6000', '#3d5a80'];

/**
 * Draws a chart into el: x in seconds since the epoch; series [{label, values}]; lines (the
 * thresholds) [{label, value}] drawn dashed across the chart; times in time zone tz. Answers
 * whether it drew, and a function that removes it.
 * @returns {Promise<{drawn: boolean, destroy: () => void}>}
 */
export async function draw(el, { x, series, lines = [], tz, yLabel = '' }) {
  const U = await uPlot();
  if (!U || !x.length) return { drawn: false, destroy() {} };
  try {
    const data = [x, ...series.map((s) => s.values), ...lines.map((l) => x.map(() => l.value))];
    const opts = {
      width: Math.max(280, el.clientWidth || 600),
      height: 260,
      tzDate: tz ? (ts) => U.tzDate(new Date(ts * 1e3), tz) : undefined,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel }],
      series: [
        {},
        ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true, size: 6 }, spanGaps: true })),
        ...lines.map((l, i) => ({ label: l.label, stroke: LINE_COLOURS[i % LINE_COLOURS.length], width: 1.5, dash: [6, 4], points: { show: false } })),
      ],
    };
    const plot = new U(opts, data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 260 }));
    ro.observe(el);
    return { drawn: true, destroy() { ro.disconnect(); plot.destroy(); } };
  } catch (e) {
    console.error(e);
    return { drawn: false, destroy() {} };
  }
}
