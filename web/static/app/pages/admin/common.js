// What the admin's pages share: form fields with their errors and the sending of a form, paged
// lists over the API's cursors, the search by the start of an id, secrets shown once, drafts of
// forms kept through a sign-in, an item page's loading and error, and times in a site's time zone.
import { html, render, nothing } from '../../lit.js';
import { t } from '../../i18n.js';
import { fieldError, invalid, errorText } from '../../forms.js';

/** The admin's pages, by section, in the order of their tabs. */
export const SECTIONS = ['sites', 'teams', 'patients', 'devices', 'import', 'users', 'webhooks', 'audit'];

/** The path of a section, or of one of its items. */
export function pathOf(section, id) {
  return id === undefined ? `/app/admin/${section}` : `/app/admin/${section}/${encodeURIComponent(id)}`;
}

// ---- fields ----

/**
 * One input of a form with its label, hint and the API's error when it names the input.
 * f: {name, label, type ('text', 'number', 'select', 'textarea', 'checkbox', 'password', 'date'),
 * value (the initial value), options ([value, words] pairs for a select), hint, required,
 * readonly, list (a datalist's id), autocomplete, min, max, step, placeholder, hidden}.
 * The value is an attribute, not a property: once typed in, an input keeps what was typed
 * through every later render (lit-html sets an attribute only when its value changes).
 */
export function field(form, f, err) {
  const id = `${form}-${f.name}`;
  const describedBy = [f.hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ');
  const common = { id, describedBy, invalid: invalid(f.name, err) };
  let input;
  switch (f.type) {
    case 'select':
      input = html`<select id=${id} name=${f.name} aria-invalid=${common.invalid} aria-describedby=${describedBy}
          ?required=${f.required} ?disabled=${f.readonly} @change=${f.onChange || null}>
        ${f.blank !== undefined ? html`<option value="" ?selected=${!f.value}>${f.blank}</option>` : nothing}
        ${(f.options || []).map(([v, words]) => html`<option value=${v} ?selected=${String(f.value ?? '') === String(v)}>${words}</option>`)}
      </select>`;
      break;
    case 'textarea':
      input = html`<textarea id=${id} name=${f.name} rows=${f.rows || 3} aria-invalid=${common.invalid}
          aria-describedby=${describedBy} ?readonly=${f.readonly} placeholder=${f.placeholder || ''}>${f.value ?? ''}</textarea>`;
      break;
    case 'checkbox':
      return html`<div class="field field-check" ?hidden=${f.hidden}>
        <label for=${id}><input type="checkbox" id=${id} name=${f.name} value="true" ?checked=${!!f.value}
          aria-invalid=${common.invalid} aria-describedby=${describedBy} ?disabled=${f.readonly}> ${f.label}</label>
        ${f.hint ? html`<span class="hint" id="${id}-hint">${f.hint}</span>` : nothing}
        ${fieldError(form, f.name, err)}
      </div>`;
    default:
      input = html`<input id=${id} name=${f.name} type=${f.type || 'text'} value=${f.value ?? ''}
          aria-invalid=${common.invalid} aria-describedby=${describedBy} ?required=${f.required} ?readonly=${f.readonly}
          autocomplete=${f.autocomplete || 'off'} autocapitalize="none" spellcheck="false" list=${f.list || nothing}
          min=${f.min ?? nothing} max=${f.max ?? nothing} step=${f.step ?? nothing} placeholder=${f.placeholder || nothing}
          inputmode=${f.inputmode || nothing} maxlength=${f.maxlength || nothing}>`;
  }
  return html`<div class="field" ?hidden=${f.hidden}>
    <label for=${id}>${f.label}${f.required ? html` <span class="required" aria-hidden="true">*</span>` : nothing}</label>
    ${input}
    ${f.hint ? html`<span class="hint" id="${id}-hint">${f.hint}</span>` : nothing}
    ${fieldError(form, f.name, err)}
  </div>`;
}

/**
 * A group of checkboxes of one name (teams, sites, the on-call roster), as a fieldset whose
 * legend is the label; the API's error naming the group is shown under it.
 */
export function checkGroup(form, f, err) {
  const id = `${form}-${f.name}`;
  const chosen = new Set(f.value || []);
  return html`<fieldset class="field check-group" id=${id} ?hidden=${f.hidden} aria-describedby="${id}-error"
      aria-invalid=${invalid(f.name, err)}>
    <legend>${f.label}</legend>
    ${f.options.length ? f.options.map(([v, words]) => html`<label class="check"><input type="checkbox" name=${f.name}
        value=${v} ?checked=${chosen.has(v)}> ${words}</label>`) : html`<p class="muted small">${f.empty || ''}</p>`}
    ${f.hint ? html`<span class="hint">${f.hint}</span>` : nothing}
    ${fieldError(form, f.name, err)}
  </fieldset>`;
}

/** The checked values of a form's checkboxes named name. */
export function checked(form, name) {
  return [...form.querySelectorAll(`input[type=checkbox][name="${name}"]`)].filter((i) => i.checked).map((i) => i.value);
}

/** Focuses the input the API's error names, if the form has it; else the form's error. */
export function focusError(root, form, err) {
  const el = err && err.field ? root.querySelector(`#${form}-${CSS.escape(err.field)}`) : null;
  const target = el || root.querySelector(`#${form} .form-error, form[data-form="${form}"] .form-error`);
  if (target) {
    if (target.matches('fieldset')) {
      const first = target.querySelector('input');
      if (first) first.focus();
    } else {
      if (!target.matches('input, select, textarea')) target.setAttribute('tabindex', '-1');
      target.focus();
    }
  }
}

/**
 * A page's sender of forms and of a button's action: send(key, form, blank, work) sends one
 * whose state is s[key]. While work() runs, s[key] is {err: null, busy: true, ...blank}, drawn.
 * Once it went through, s[key] is {err: null, busy: false, ...blank, ...what work answered}, and
 * send answers true: the caller draws, after whatever else a success does. Else s[key] holds the
 * API's error and is drawn, the input the error names in the form of id form (or the form's
 * error) is focused (nothing for a button's action, form ''), and send answers false.
 */
export function formSender(s, root, draw) {
  return async (key, form, blank, work) => {
    s[key] = { err: null, busy: true, ...blank };
    draw();
    try {
      const done = await work();
      s[key] = { err: null, busy: false, ...blank, ...done };
      return true;
    } catch (e) {
      s[key] = { err: e, busy: false, ...blank };
      draw();
      if (form) focusError(root, form, e);
      return false;
    }
  };
}

/** Focuses the first element of root that selector matches, if there is one, and says whether. */
export function focusOn(root, selector) {
  const el = root.querySelector(selector);
  if (el) el.focus();
  return !!el;
}

/** A notice that something went through: a tick and text, said to screen readers as a status. */
export function okNotice(text) {
  return html`<p class="notice notice-ok" role="status"><span aria-hidden="true">✓</span> ${text}</p>`;
}

/** Says text to screen readers, through the page's live region. */
export function announce(text) {
  const el = document.getElementById('vw-announce');
  if (el) el.textContent = text;
}

// ---- item pages ----

/**
 * Draws an item page before its item is there: the error it was loaded with, and the way back
 * to its section's list (named listTitle), or the loading line. Says whether it drew, that is
 * whether the item is missing.
 */
export function drawPending(root, error, item, section, listTitle) {
  if (error) {
    render(html`<p class="notice notice-error" role="alert">${errorText(error)}</p>
        <p><a href=${pathOf(section)}>${t('admin.back_to', { what: listTitle })}</a></p>`, root);
    return true;
  }
  if (!item) {
    render(html`<p class="loading">${t('app.loading')}</p>`, root);
    return true;
  }
  return false;
}

// ---- drafts ----

const DRAFT_PREFIX = 'vw-admin-draft:';

/**
 * Keeps what is typed into a form in this tab's session storage until it is saved, so that a
 * sign-in in between (a session that ended) or a reload loses nothing. Passwords are never
 * kept. Call restore() after the form is first drawn, and clear() once the API has taken it.
 */
export function draft(key) {
  const k = DRAFT_PREFIX + key;
  return {
    save(form) {
      const out = {};
      for (const el of form.elements) {
        if (!el.name || el.type === 'password' || el.type === 'file' || el.type === 'submit' || el.type === 'button') continue;
        if (el.type === 'checkbox') {
          (out[el.name] = out[el.name] || []);
          if (el.checked) out[el.name].push(el.value);
          continue;
        }
        out[el.name] = el.value;
      }
      try { sessionStorage.setItem(k, JSON.stringify(out)); } catch { /* storage full or off: nothing kept */ }
    },
    restore(form) {
      let d = null;
      try { d = JSON.parse(sessionStorage.getItem(k) || 'null'); } catch { d = null; }
      if (!d || !form) return false;
      for (const el of form.elements) {
        if (!el.name || !(el.name in d) || el.type === 'password' || el.type === 'file') continue;
        if (el.type === 'checkbox') el.checked = d[el.name].includes(el.value);
        else el.value = d[el.name];
      }
      return true;
    },
    clear() {
      try { sessionStorage.removeItem(k); } catch { /* nothing kept */ }
    },
  };
}

// ---- secrets ----

/**
 * A secret shown this once (a device's MQTT secret, an API token, a webhook's signing key): the
 * value to select, a copy button and a warning that it will not be shown again.
 */
export function secretPanel(o) {
  return html`<section class="panel secret-panel" role="region" aria-labelledby="secret-title" tabindex="-1">
    <h2 id="secret-title">${o.title}</h2>
    <p class="notice notice-warning"><strong><span aria-hidden="true">⚠</span> ${t('admin.secret.once')}</strong>
      ${o.warning || ''}</p>
    ${o.value ? html`<div class="secret-row">
      <label class="visually-hidden" for="secret-value">${o.title}</label>
      <input id="secret-value" class="mono secret-value" readonly value=${o.value} @focus=${(e) => e.target.select()}>
      ${copyButton(o.value)}
    </div>` : nothing}
    ${o.more || nothing}
    <div class="form-actions"><button type="button" class="btn" @click=${o.onDone}>${t('admin.secret.done')}</button></div>
  </section>`;
}

/** A button that copies text to the clipboard and says so. */
export function copyButton(text, label) {
  return html`<button type="button" class="btn copy-button" @click=${(e) => copy(e.currentTarget, text)}>
<span class="copy-label">${label || t('admin.copy')}</span></button>`;
}

async function copy(button, text) {
  const says = button.querySelector('.copy-label');
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard (not a secure context, or refused): select the text for Ctrl+C instead.
    const input = button.parentElement && button.parentElement.querySelector('input');
    if (input) { input.focus(); input.select(); }
  }
  if (says) {
    says.textContent = ok ? t('admin.copied') : t('admin.copy_manually');
    setTimeout(() => { says.textContent = t('admin.copy'); }, 3000);
  }
  announce(ok ? t('admin.copied') : t('admin.copy_manually'));
}

// ---- lists ----

/**
 * A list over the API's cursor: the page shown, its next cursor and the cursors of the pages
 * before, so that previous goes back without the API having one.
 */
export function cursorList() {
  return { items: [], next: '', cursor: '', back: [], loading: true, error: null };
}

/** The list moved on to its next page. */
export function nextPage(l) {
  if (!l.next) return;
  l.back.push(l.cursor);
  l.cursor = l.next;
}

/** The list moved back a page. */
export function previousPage(l) {
  l.cursor = l.back.length ? l.back.pop() : '';
}

/**
 * The loading and paging of the cursor list kept in holder[key] (a cursorList()).
 * load() marks it loading and draws, asks fetch(cursor) for the page ({items, next}), and keeps
 * its items and next cursor, or the error, and draws; an answer overtaken by a later load, or
 * come after the page was left (alive() false), is dropped. fresh(page), when given, takes what
 * else fetch answered, once the answer is known to be the latest. page(where) turns to the
 * 'next', the 'previous' or else the first page and loads it; first() starts the list again.
 */
export function pagedList(holder, key, { fetch, draw, alive, fresh }) {
  let seq = 0;
  async function load() {
    const my = ++seq;
    holder[key].loading = true;
    holder[key].error = null;
    draw();
    try {
      const page = await fetch(holder[key].cursor);
      if (my !== seq || !alive()) return;
      if (fresh) fresh(page);
      holder[key].items = page.items || [];
      holder[key].next = page.next || '';
    } catch (e) {
      if (my !== seq || !alive()) return;
      holder[key].error = e;
    }
    holder[key].loading = false;
    draw();
  }
  function page(where) {
    if (where === 'next') nextPage(holder[key]);
    else if (where === 'previous') previousPage(holder[key]);
    else holder[key] = cursorList();
    return load();
  }
  return { load, page, first: () => page('first') };
}

/** The buttons under a list: first, previous, next, with where we are. */
export function pager(l, go) {
  if (!l.cursor && !l.next) return nothing;
  return html`<nav class="pager" aria-label=${t('admin.pager')}>
    <button type="button" class="btn btn-small" ?disabled=${!l.cursor} @click=${() => go('first')}>${t('admin.first_page')}</button>
    <button type="button" class="btn btn-small" ?disabled=${!l.cursor} @click=${() => go('previous')}>
      <span aria-hidden="true">←</span> ${t('admin.previous_page')}</button>
    <span class="muted small">${t('admin.page_n', { n: l.back.length + 1 })}</span>
    <button type="button" class="btn btn-small" ?disabled=${!l.next} @click=${() => go('next')}>
      ${t('admin.next_page')} <span aria-hidden="true">→</span></button>
  </nav>`;
}

/** A list's error with a retry button, or its loading line. */
export function listState(l, retry) {
  if (l.error) {
    return html`<p class="notice notice-error" role="alert">${errorText(l.error)}
      <button class="btn btn-small" type="button" @click=${retry}>${t('action.retry')}</button></p>`;
  }
  return nothing;
}

// The characters of an id (reading.ValidID), in byte order.
const ID_CHARS = '-.0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const ID_MAX = 64;

/**
 * The cursor (after=) from which a list by id starts at the ids that begin with prefix: the
 * greatest id before prefix, or '' (the start). Ids are compared byte by byte and are made of
 * ID_CHARS, at most 64 of them.
 */
export function afterFor(prefix) {
  if (!prefix) return '';
  const last = prefix[prefix.length - 1];
  const head = prefix.slice(0, -1);
  const i = ID_CHARS.indexOf(last);
  if (i < 0) return head; // not an id: the API says so
  if (i === 0) return head; // nothing sorts between head and head + '-'
  return (head + ID_CHARS[i - 1] + 'z'.repeat(ID_MAX)).slice(0, ID_MAX);
}

/** Whether s can be an id (1-64 of A-Z a-z 0-9 . _ : -). */
export function isID(s) {
  return /^[A-Za-z0-9._:-]{1,64}$/.test(s);
}

// ---- times ----

/** The UTC offset of time zone tz at the instant ms, in minutes east of UTC. */
function offsetMinutes(ms, tz) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms));
  const n = (type) => Number(parts.find((p) => p.type === type).value);
  const asUTC = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  return Math.round((asUTC - Math.floor(ms / 1000) * 1000) / 60000);
}

/**
 * The RFC 3339 time of a local date ("2026-11-22") or date and time ("2026-11-22T08:30") in
 * time zone tz (UTC when tz is empty or unknown), or '' for ''.
 */
export function localToISO(local, tz) {
  if (!local) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(local);
  if (!m) return local; // let the API name what is wrong
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0));
  let zone = tz || 'UTC';
  try { new Intl.DateTimeFormat('en-US', { timeZone: zone }); } catch { zone = 'UTC'; }
  let off = offsetMinutes(wall, zone);
  off = offsetMinutes(wall - off * 60000, zone); // again, in case the offset changes in between
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const pad = (v) => String(v).padStart(2, '0');
  return `${m[1]}-${m[2]}-${m[3]}T${pad(m[4] || 0)}:${pad(m[5] || 0)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The local date ("2026-11-22") of an RFC 3339 time in time zone tz, or '' for none. */
export function isoToLocalDate(iso, tz) {
  if (!iso) return '';
  let zone = tz || 'UTC';
  try { new Intl.DateTimeFormat('en-US', { timeZone: zone }); } catch { zone = 'UTC'; }
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(iso));
  const n = (type) => parts.find((p) => p.type === type).value;
  return `${n('year')}-${n('month')}-${n('day')}`;
}

/** The IANA time zones the browser knows, for a datalist. */
export function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['Asia/Shanghai', 'Asia/Urumqi', 'Asia/Hong_Kong', 'UTC'];
  }
}
