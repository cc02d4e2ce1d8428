// The care parts of the patient's page: adherence to the care plans, the devices lent, the
// threshold overrides (seen by all who may see the patient, edited by the team's doctors and
// admins through PUT /patients/{id}/overrides, with the guideline default beside each and the
// API's error next to the threshold it names), the transfer to another team with its device
// policy, and the patient's alert history.
import { html, nothing } from '../lit.js';
import { t } from '../i18n.js';
import { number, dateTime, measurementName, unitOf, ago } from '../format.js';
import { fieldError, formError, invalid, errorId } from '../forms.js';
import { severityBadge, ruleName } from '../alerts.js';
import { goDuration } from './time.js';

// ---- adherence ----

/** Adherence to the plans' reading types over the summary's 30 days, with the last reading of each. */
export function adherence(ad, tz) {
  const types = ad?.types || [];
  if (!types.length) return html`<p class="muted">${t('patient.no_plan_types')}</p>`;
  return html`<div class="table-scroll"><table class="data-table adherence-table">
    <thead><tr><th scope="col">${t('patient.reading_type')}</th><th scope="col">${t('patient.days_of', { n: ad.period?.days || 30 })}</th>
      <th scope="col">${t('patient.yardstick', { n: ad.yardstick })}</th><th scope="col">${t('patient.last_reading')}</th></tr></thead>
    <tbody>${types.map((x) => html`<tr data-type=${x.type}>
      <td>${measurementName(x.type)}</td>
      <td>${x.days}</td>
      <td>${x.meets_yardstick ? html`<span class="met"><span aria-hidden="true">✓</span> ${t('patient.target_met')}</span>`
        : html`<span class="not-met"><span aria-hidden="true">✗</span> ${t('patient.target_not_met')}</span>`}</td>
      <td>${x.last ? html`${readingText(x.last)} · ${dateTime(x.last.time, tz)} (${ago(x.last.time)})` : '—'}</td></tr>`)}</tbody>
  </table></div>`;
}

/** A reading of the summary in words: "6.4 mmol/L", "142/91 mmHg". */
export function readingText(r) {
  if (!r) return '—';
  if (r.type === 'bp') return `${number(r.systolic, 0)}/${number(r.diastolic, 0)} ${unitOf('bp')}`;
  return `${number(r.value, 1)} ${unitOf(r.type)}`.trim();
}

// ---- devices ----

const STATE_WORDS = {
  online: 'patient.device_online', offline: 'patient.device_offline', battery_low: 'patient.device_battery_low',
  calibration_due: 'patient.device_calibration_due', faulty: 'patient.device_faulty',
};

/** The devices lent to the patient now. */
export function devicesTable(devs, tz) {
  if (!devs) return html`<p class="loading">${t('app.loading')}</p>`;
  if (!devs.length) return html`<p class="muted">${t('patient.no_devices')}</p>`;
  return html`<div class="table-scroll"><table class="data-table devices-table">
    <thead><tr><th scope="col">${t('patient.device')}</th><th scope="col">${t('patient.device_kind')}</th>
      <th scope="col">${t('patient.lent_from')}</th><th scope="col">${t('patient.device_state')}</th>
      <th scope="col">${t('patient.last_heard')}</th><th scope="col">${t('patient.battery')}</th>
      <th scope="col">${t('patient.next_calibration')}</th></tr></thead>
    <tbody>${devs.map((d) => html`<tr>
      <td><code>${d.id}</code>${d.model ? html`<br><span class="small muted">${d.model}</span>` : nothing}</td>
      <td>${t('patient.kind_' + d.kind)}</td>
      <td>${dateTime(d.lent_from, tz)}</td>
      <td>${(d.states || []).map((s) => html`<span class="tag state-${s}">${STATE_WORDS[s] ? t(STATE_WORDS[s]) : s}</span> `)}</td>
      <td>${d.last_message_at ? ago(d.last_message_at) : '—'}</td>
      <td>${d.battery !== undefined ? `${number(d.battery, 0)} %` : '—'}</td>
      <td>${d.next_calibration ? dateTime(d.next_calibration, tz) : '—'}</td></tr>`)}</tbody>
  </table></div>`;
}

// ---- thresholds and overrides ----

/** A threshold's value in words, by its kind: "3.9 mmol/L", "15m", "7". */
export function thresholdValue(th, v, withUnit = false) {
  if (v === undefined || v === null) return '—';
  if (th.kind === 'duration') return goDuration(v);
  if (th.kind === 'number' && withUnit) return `${number(v, 2)}${th.unit ? ' ' + th.unit : ''}`;
  return number(v, 2);
}

/** The text of an override in its input: a Go duration for durations, else the number. */
function inputText(th, v) {
  if (v === undefined || v === null) return '';
  return th.kind === 'duration' ? goDuration(v) : String(v);
}

/** The field of a threshold in the API's errors: overrides.<rule>.<key>. */
export const fieldOf = (th) => `overrides.${th.rule}.${th.key}`;

/**
 * The overrides of the form's values: each non-empty input, a number where it reads as one (a
 * duration as typed, "20m"); a text that is neither goes as typed, for the API to say what is
 * wrong with it next to its field.
 */
export function overridesOf(form, ths) {
  const out = {};
  for (const th of ths.thresholds) {
    const input = form.elements.namedItem(fieldOf(th));
    const text = input ? input.value.trim() : '';
    if (!text) continue;
    let v = text;
    if (th.kind !== 'duration' && /^[-+]?(\d+\.?\d*|\.\d+)$/.test(text)) v = Number(text);
    (out[th.rule] ||= {})[th.key] = v;
  }
  return out;
}

/**
 * The thresholds in force for the patient, by rule: the guideline default, the rules file's
 * value, the team's override and the patient's (an input while editing), and the value in
 * force. o: {editing, canEdit, err, busy, saved, onEdit, onCancel, onSubmit}.
 */
export function thresholdsTable(ths, o) {
  if (!ths) return html`<p class="loading">${t('app.loading')}</p>`;
  const rules = [];
  for (const th of ths.thresholds) {
    if (!rules.length || rules[rules.length - 1].rule !== th.rule) rules.push({ rule: th.rule, items: [] });
    rules[rules.length - 1].items.push(th);
  }
  const fields = ths.thresholds.map(fieldOf);
  const table = html`<table class="data-table thresholds-table">
    <thead><tr><th scope="col">${t('patient.threshold')}</th><th scope="col">${t('patient.guideline')}</th>
      <th scope="col">${t('patient.rules_file')}</th><th scope="col">${t('patient.team_override')}</th>
      <th scope="col">${t('patient.patient_override')}</th><th scope="col">${t('patient.in_force')}</th></tr></thead>
    ${rules.map((r) => html`<tbody>
      <tr class="rule-row"><th scope="rowgroup" colspan="6">${ruleName(r.rule)}</th></tr>
      ${r.items.map((th) => {
        const f = fieldOf(th);
        const id = `ovr-${th.rule}-${th.key}`;
        const overridden = th.patient !== undefined || th.team !== undefined;
        return html`<tr class=${overridden ? 'overridden' : ''} data-threshold=${f}>
          <td><code>${th.key}</code>${th.unit ? html` <span class="muted small">(${th.unit})</span>` : nothing}</td>
          <td>${thresholdValue(th, th.guideline)}</td>
          <td>${th.default !== th.guideline ? html`<strong>${thresholdValue(th, th.default)}</strong>` : thresholdValue(th, th.default)}</td>
          <td>${thresholdValue(th, th.team)}</td>
          <td>${o.editing ? html`<label class="visually-hidden" for=${id}>${t('patient.override_label', { rule: ruleName(th.rule), key: th.key })}</label>
              <input id=${id} name=${f} class="override-input" inputmode=${th.kind === 'duration' ? 'text' : 'decimal'} autocomplete="off"
                value=${inputText(th, th.patient)} placeholder=${inputText(th, th.in_force)}
                aria-invalid=${invalid(f, o.err)} aria-describedby=${errorId('ovr', f)}>
              ${fieldError('ovr', f, o.err)}`
            : thresholdValue(th, th.patient)}</td>
          <td>${thresholdValue(th, th.in_force)}</td></tr>`;
      })}
    </tbody>`)}
  </table>`;
  if (!o.editing) {
    return html`<p class="small muted">${t('patient.thresholds_hint', { version: ths.rules_version })}</p>
      ${o.saved ? html`<p class="notice" role="status">${t('patient.overrides_saved')}</p>` : nothing}
      ${o.canEdit ? html`<p><button type="button" class="btn edit-overrides" @click=${o.onEdit}>${t('patient.edit_overrides')}</button></p>` : nothing}
      <div class="table-scroll">${table}</div>`;
  }
  return html`<form class="overrides-form" id="ovr" novalidate @submit=${o.onSubmit}
      @keydown=${(e) => { if (e.key === 'Escape') o.onCancel(); }}>
    <p class="small">${t('patient.overrides_edit_hint')}</p>
    <div class="table-scroll">${table}</div>
    ${formError(o.err, fields)}
    <div class="form-actions">
      <button class="btn btn-primary" type="submit" ?disabled=${o.busy}>${t('patient.save_overrides')}</button>
      <button class="btn" type="button" @click=${o.onCancel}>${t('action.cancel')}</button>
    </div>
  </form>`;
}

// ---- transfer ----

/**
 * The transfer form: the new team (any but the patient's) and what happens to the home devices
 * lent (travel or return). o: {open, err, busy, done, teams, current, onOpen, onCancel, onSubmit}.
 */
export function transferForm(o) {
  if (o.done) {
    return html`<p class="notice" role="status" data-transferred=${o.done.to_team}>${t('patient.transferred', { team: o.done.team_name })}</p>`;
  }
  if (!o.open) return html`<button type="button" class="btn open-transfer" @click=${o.onOpen}>${t('patient.transfer_button')}</button>`;
  const teams = o.teams.filter((x) => x.id !== o.current);
  return html`<form class="form transfer-form" id="tr" novalidate @submit=${o.onSubmit}>
    <div class="field">
      <label for="tr-team">${t('patient.transfer_team')}</label>
      <select id="tr-team" name="team" aria-invalid=${invalid('team', o.err)} aria-describedby=${errorId('tr', 'team')}>
        ${teams.map((x) => html`<option value=${x.id}>${x.name || x.id} (${x.id})</option>`)}
      </select>
      ${fieldError('tr', 'team', o.err)}
    </div>
    <fieldset class="field">
      <legend>${t('patient.device_policy')}</legend>
      <label><input type="radio" name="device_policy" value="travel" checked> ${t('patient.policy_travel')}</label>
      <label><input type="radio" name="device_policy" value="return"> ${t('patient.policy_return')}</label>
      ${fieldError('tr', 'device_policy', o.err)}
    </fieldset>
    <p class="small muted">${t('patient.transfer_hint')}</p>
    ${formError(o.err, ['team', 'device_policy'])}
    <div class="form-actions">
      <button class="btn btn-primary" type="submit" ?disabled=${o.busy}>${t('patient.transfer_confirm')}</button>
      <button class="btn" type="button" @click=${o.onCancel}>${t('action.cancel')}</button>
    </div>
  </form>`;
}

// ---- alerts ----

/** The patient's alerts, newest first, each linking to its page. */
export function alertHistory(list, tz) {
  if (!list) return html`<p class="loading">${t('app.loading')}</p>`;
  if (!list.length) return html`<p class="muted">${t('patient.no_alerts')}</p>`;
  return html`<ul class="patient-alerts">${list.map((a) => html`<li data-alert=${a.id}>
    ${severityBadge(a.severity)}
    <a href="/app/alerts/${a.id}">${ruleName(a.rule)}</a>
    <span class="tag">${t('state.' + a.state)}</span>
    <span class="small muted">${a.last_value || ''} · ${dateTime(a.first_seen, tz)}${a.count > 1 ? ` · ×${a.count}` : ''}</span>
  </li>`)}</ul>`;
}
