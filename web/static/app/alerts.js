// The alert vocabulary shared by the inbox and the alert page: severities with their icon and
// word, the words of an alert's rule, subject and state, and the three actions (acknowledge,
// resolve, snooze) with their forms.
import { html, nothing } from './lit.js';
import { t } from './i18n.js';
import * as api from './api.js';
import { fieldError, invalid, formError } from './forms.js';
import { duration } from './format.js';
import { site } from './directory.js';
import { noticeGrowthText } from './fleet.js';

export const SEVERITIES = ['info', 'warning', 'urgent', 'critical'];
export const STATES = ['open', 'acknowledged', 'resolved'];
const ICONS = { critical: '!!!', urgent: '!!', warning: '!', info: 'i' };

/** The rank of a severity: higher is worse. */
export const rank = (sev) => SEVERITIES.indexOf(sev);

/** A severity badge: icon, word and colour. */
export function severityBadge(sev) {
  return html`<span class="sev sev-${sev}"><span aria-hidden="true">${ICONS[sev] || '?'}</span> ${t('severity.' + sev)}</span>`;
}

/** The name of a rule. */
export const ruleName = (rule) => t('rule.' + rule);

/** The subject of an alert in words: "Patient P-1", "Device ox-1", or "Centre <name>" for a site's notice. */
export function subjectText(alert) {
  if (alert.patient) return t('subject.patient', { id: alert.patient });
  if (alert.subject && alert.subject.startsWith('site/')) {
    const s = site(alert.site);
    return t('subject.site', { id: (s && s.name) || alert.site });
  }
  return t('subject.device', { id: alert.device || alert.subject });
}

/** An alert's value: a centre's growth notice in words from its figures; else the last value as recorded. */
export function valueText(alert) {
  if (alert.rule === 'centre_growth') return noticeGrowthText(alert) || alert.last_value || '';
  return alert.last_value || '';
}

/** Whether an alert's subject can be snoozed: a patient or a device; a site (a notice about a centre) cannot. */
export const canSnooze = (alert) => !(alert.subject || '').startsWith('site/');

/** Why an alert notified nobody, in words, or '' for one that is actionable. */
export function quietReason(alert) {
  if (alert.silenced) return t('quiet.silenced', { reason: alert.silenced });
  if (alert.doubt) return t('quiet.doubt', { reason: alert.doubt });
  if (alert.late) return t('quiet.late');
  return '';
}

/** The escalation level in words: the lead, then the on-call roster. */
export function escalationText(level) {
  if (!level) return '';
  if (level === 1) return t('escalation.lead');
  return t('escalation.on_call', { n: level - 1 });
}

/** How a response target stands: {text, passed} for an open alert, null otherwise. */
export function targetText(alert, targetSecs, now) {
  if (alert.state !== 'open' || !targetSecs || quietReason(alert)) return null; // a quiet alert pages nobody
  const left = new Date(alert.created_at).getTime() / 1000 + targetSecs - now.getTime() / 1000;
  if (left >= 0) return { text: t('target.left', { left: duration(left), target: duration(targetSecs) }), passed: false };
  return { text: t('target.passed', { ago: duration(-left), target: duration(targetSecs) }), passed: true };
}

/** The actions, by name: the route and the body of the form's values. */
const ACTIONS = {
  acknowledge: { path: 'acknowledge', body: (v) => ({ note: v.note || '' }) },
  resolve: { path: 'resolve', body: (v) => ({ note: v.note || '' }) },
  snooze: { path: 'snooze', body: (v) => ({ for: v.for || undefined, reason: v.reason || '' }) },
};

/** Carries out an action on an alert with a form's values; answers the API's answer. */
export function act(kind, alert, values) {
  const a = ACTIONS[kind];
  return api.post(`/alerts/${alert.id}/${a.path}`, a.body(values));
}

/** What an action's error is about, among its form's fields (a snooze's until is its for). */
export function fieldOf(kind, err) {
  if (err && kind === 'snooze' && err.field === 'until') return Object.assign(err, { field: 'for' });
  return err;
}

/**
 * The form of an action on one alert. Its inputs keep what was typed through errors: the
 * caller re-renders the same template with the error, never a new form.
 * @param {'acknowledge'|'resolve'|'snooze'} kind
 * @param {object} alert
 * @param {{err?: any, busy?: boolean, onSubmit: (ev: Event) => void, onCancel: () => void}} o
 */
export function actionForm(kind, alert, o) {
  const id = `f${alert.id}-${kind}`;
  const err = o.err;
  const noteHint = kind === 'resolve' && alert.category === 'clinical' ? t('action.note_required') : t('action.note_optional');
  const fields = kind === 'snooze' ? ['for', 'reason'] : ['note'];
  return html`<form class="form action-form" data-kind=${kind} @submit=${o.onSubmit} novalidate
      aria-label=${t('action.' + kind) + ': ' + ruleName(alert.rule)}
      @keydown=${(e) => { if (e.key === 'Escape') { e.stopPropagation(); o.onCancel(); } }}>
    ${kind === 'snooze' ? html`
      <div class="field">
        <label for="${id}-for">${t('snooze.for')}</label>
        <input id="${id}-for" name="for" list="snooze-durations" placeholder="24h" autocomplete="off"
          aria-invalid=${invalid('for', err)} aria-describedby="${id}-for-hint ${id}-for-error">
        <span class="hint" id="${id}-for-hint">${t('snooze.for_hint')}</span>
        <datalist id="snooze-durations"><option value="1h"></option><option value="4h"></option>
          <option value="24h"></option><option value="72h"></option><option value="168h"></option></datalist>
        ${fieldError(id, 'for', err)}
      </div>
      <div class="field">
        <label for="${id}-reason">${t('snooze.reason')}</label>
        <input id="${id}-reason" name="reason" autocomplete="off" maxlength="1000"
          aria-invalid=${invalid('reason', err)} aria-describedby="${id}-reason-error">
        ${fieldError(id, 'reason', err)}
      </div>` : html`
      <div class="field">
        <label for="${id}-note">${t('action.note')}</label>
        <input id="${id}-note" name="note" autocomplete="off" maxlength="1000"
          aria-invalid=${invalid('note', err)} aria-describedby="${id}-note-hint ${id}-note-error">
        <span class="hint" id="${id}-note-hint">${noteHint}</span>
        ${fieldError(id, 'note', err)}
      </div>`}
    ${formError(err, fields)}
    <div class="form-actions">
      <button class="btn btn-primary" type="submit" ?disabled=${o.busy}>${t('action.confirm_' + kind)}</button>
      <button class="btn" type="button" @click=${o.onCancel}>${t('action.cancel')}</button>
    </div>
  </form>`;
}

export { nothing };
