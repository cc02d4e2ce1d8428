// The fleet manager's vocabulary, shared by the devices, map, utilisation and plan pages: device
// kinds, live states, registry statuses, spare/short verdicts and move states in words (each
// state with an icon as well as a colour), centres by name, people as the API names them, and
// utilisation as a percentage against the 60% and 90% lines.
import { html, nothing } from './lit.js';
import { t } from './i18n.js';
import * as dir from './directory.js';
import { number } from './format.js';

export const KINDS = ['glucose_meter', 'cgm', 'bp_cuff', 'oximeter', 'wearable', 'thermometer', 'scale', 'station'];
export const STATES = ['online', 'offline', 'battery_low', 'calibration_due', 'faulty'];
export const STATUSES = ['active', 'maintenance', 'in_transit', 'retired'];
export const VERDICTS = ['spare', 'short', 'balanced'];
export const MOVE_STATES = ['proposed', 'approved', 'rejected', 'in_transit', 'received', 'cancelled'];

const STATE_ICONS = { online: '●', offline: '○', battery_low: '▁', calibration_due: '◷', faulty: '✕' };
const VERDICT_ICONS = { spare: '+', short: '−', balanced: '=' };
const MOVE_ICONS = { proposed: '…', approved: '✓', rejected: '✕', in_transit: '→', received: '■', cancelled: '⊘' };

/** The name of a device kind. */
export const kindName = (k) => t('fleet.kind.' + k);
/** The name of a registry status. */
export const statusName = (s) => t('fleet.status.' + s);
/** The name of a live state. */
export const stateName = (s) => t('fleet.state.' + s);
/** The name of a device's mode (home or station). */
export const modeName = (m) => t('fleet.mode.' + m);

/** Why a message was refused (a dead letter's reason), in words. */
export function reasonName(r) {
  const key = 'fleet.reason.' + r;
  const w = t(key);
  return w === key ? r : w;
}

/** The reading types each kind of device sends, the first the one shown first. */
export const READING_TYPES = {
  glucose_meter: ['glucose'], cgm: ['glucose'], bp_cuff: ['bp'], oximeter: ['spo2', 'heart_rate'],
  wearable: ['heart_rate', 'steps', 'spo2'], thermometer: ['temperature'], scale: ['weight'],
  station: ['bp', 'spo2', 'heart_rate', 'temperature', 'weight', 'glucose'],
};

/** A live state as a badge: icon, word and colour. */
export function stateBadge(s) {
  return html`<span class="fstate fstate-${s}"><span aria-hidden="true">${STATE_ICONS[s] || '?'}</span> ${stateName(s)}</span>`;
}

/** A spare/short verdict as a badge: sign, word and colour. */
export function verdictBadge(v) {
  return html`<span class="verdict verdict-${v}"><span aria-hidden="true">${VERDICT_ICONS[v] || '?'}</span> ${t('fleet.verdict.' + v)}</span>`;
}

/** A move's state as a badge. */
export function moveStateBadge(s) {
  return html`<span class="mstate mstate-${s}"><span aria-hidden="true">${MOVE_ICONS[s] || '?'}</span> ${t('fleet.move_state.' + s)}</span>`;
}

/** A centre's name, or its id when the directory does not know it. */
export function siteName(id) {
  const s = dir.site(id);
  return (s && s.name) || id || '';
}

/** The time zone of a centre ('' when unknown). */
export function siteZone(id) {
  const s = dir.site(id);
  return (s && s.time_zone) || '';
}

/** A utilisation (a fraction) as a percentage: "73%". */
export function percent(v) {
  if (v === null || v === undefined || v < 0) return '—';
  return t('fleet.percent', { v: number(v * 100, 0) });
}

/**
 * The band of a utilisation against the thresholds: 'low' below low (spare if it lasts), 'high'
 * above high (short), 'mid' between; exactly low or high is mid, as the assessment judges.
 */
export function band(v, th) {
  if (v === null || v === undefined || v < 0) return 'none';
  if (v < th.low) return 'low';
  if (v > th.high) return 'high';
  return 'mid';
}

/** The mark of a band, so that it is not told by colour alone. */
export function bandMark(b) {
  return { low: '▽', high: '▲', mid: '', none: '' }[b] || '';
}

/** Who did something, as the API names people (user:<id>): "you" for the signed-in user. */
export function actorText(actor, user) {
  if (!actor) return '';
  if (actor === 'system') return t('actor.system');
  if (user && actor === 'user:' + user.id) return t('actor.you');
  return actor;
}

/** The sites the user looks after: a fleet manager's own, or every site for an admin. */
export function mySites(user) {
  if (user.role === 'fleet_manager') return [...(user.sites || [])].sort();
  return dir.allSites().map((s) => s.id);
}

/**
 * The growth flags of assessments (the API's `growth` on a type at a centre): one per centre and
 * plan, with the plan's numbers and its types' assessments, by centre then plan.
 */
export function growthFlags(assessments) {
  const out = new Map();
  for (const a of assessments || []) {
    if (!a.growth) continue;
    const key = a.site + '\u0000' + a.growth.plan;
    if (!out.has(key)) out.set(key, { site: a.site, growth: a.growth, types: [] });
    out.get(key).types.push(a);
  }
  return [...out.values()].sort((x, y) => x.site.localeCompare(y.site) || x.growth.plan.localeCompare(y.growth.plan));
}

/** The name of a care plan (a condition of the growth flag). */
export const planName = (p) => t('fleet.growth.plan.' + p);

/** A growth flag in words: "Growing: hypertension, 100 → 121 patients (+21%)". */
export function growthText(g) {
  return t('fleet.growth.flag', { plan: planName(g.plan), before: g.patients_before, now: g.patients, rate: percent(g.rate) });
}

/** What a type's growth asks for: "needs 3 more BP cuff", or enough at the target. */
export function growthMoreText(a) {
  const n = a.growth ? a.growth.more : 0;
  return n > 0 ? t('fleet.growth.more', { n, type: kindName(a.type) }) : t('fleet.growth.enough', { type: kindName(a.type) });
}

/** A growth flag as a badge line: an arrow and the words, then what each type needs. */
export function growthBadge(flag) {
  return html`<span class="growth-flag" data-site=${flag.site} data-plan=${flag.growth.plan}><span aria-hidden="true">↗</span>
    ${growthText(flag.growth)}: ${flag.types.map(growthMoreText).join(', ')}</span>`;
}

/**
 * The growth flags a centre_growth notice carries in its thresholds (`<plan>.before`,
 * `<plan>.patients`, `<plan>.rate`, `<plan>.more.<type>`), shaped as growthFlags' are.
 */
export function noticeGrowthFlags(alert) {
  const th = alert.thresholds || {};
  const flags = [];
  for (const key of Object.keys(th).filter((k) => k.endsWith('.patients')).sort()) {
    const plan = key.slice(0, -'.patients'.length);
    const growth = { plan, patients: th[key], patients_before: th[plan + '.before'], rate: th[plan + '.rate'] };
    const types = Object.keys(th).filter((k) => k.startsWith(plan + '.more.')).sort()
      .map((k) => ({ site: alert.site, type: k.slice((plan + '.more.').length), growth: { ...growth, more: th[k] } }));
    flags.push({ site: alert.site, growth, types });
  }
  return flags;
}

/** A centre_growth notice's figures in words, plans joined by "; "; '' when it carries none. */
export function noticeGrowthText(alert) {
  return noticeGrowthFlags(alert).map((f) => `${growthText(f.growth)}: ${f.types.map(growthMoreText).join(', ')}`).join('; ');
}

/** A select of device kinds (with "all"), for filters. */
export function kindOptions(selected) {
  return html`<option value="" ?selected=${!selected}>${t('filter.all')}</option>
    ${KINDS.map((k) => html`<option value=${k} ?selected=${selected === k}>${kindName(k)}</option>`)}`;
}

export { nothing };
