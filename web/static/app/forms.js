// Forms and the API's errors. A form keeps what was typed: its inputs are never re-created on
// an error (lit-html patches only the parts that change, and no input's value is bound), and
// the error of a field is shown under it, tied to it with aria-describedby and aria-invalid.
import { html, nothing } from './lit.js';
import { t, lang } from './i18n.js';

/**
 * The words for an API error in the page's language: the code's message, and the API's own
 * message (which names what was wrong, in English) where it says more.
 * @param {{code?: string, message?: string, status?: number}} err
 */
export function errorText(err) {
  if (!err) return '';
  const key = 'error.' + (err.code || 'unknown');
  const general = t(key) === key ? t('error.unknown') : t(key);
  if (!err.message || err.code === 'network') return general;
  return lang === 'en' ? err.message : `${general} (${err.message})`;
}

/** The id of the error element of a field, for aria-describedby. */
export function errorId(form, field) {
  return `${form}-${field}-error`;
}

/** The error under a field: err when it names field, else nothing. */
export function fieldError(form, field, err) {
  if (!err || err.field !== field) return nothing;
  return html`<p class="field-error" id=${errorId(form, field)} role="alert">
    <span aria-hidden="true">⚠</span> ${errorText(err)}</p>`;
}

/** Whether err is about field (for aria-invalid). */
export function invalid(field, err) {
  return err && err.field === field ? 'true' : 'false';
}

/** The error of the whole form: err when it names no field of fields. */
export function formError(err, fields = []) {
  if (!err || (err.field && fields.includes(err.field))) return nothing;
  return html`<p class="form-error" role="alert"><span aria-hidden="true">⚠</span> ${errorText(err)}</p>`;
}

/** The values of a form's named inputs, trimmed. */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) out[k] = typeof v === 'string' ? v.trim() : v;
  return out;
}
