// Importing the registry from CSV files (the files of `vitalwatch registry import`): choose what
// the file holds, pick the file (or paste it), see its first rows, then import it with
// POST /api/v1/<kind>/import?atomic=true. The API stores every row or none: with any bad row it
// stores nothing and answers each bad row's line, column and reason, shown here as a table and
// marked in the preview. The MQTT secrets made for new devices are shown this once.
import { html, render, nothing } from '../../lit.js';
import { t } from '../../i18n.js';
import { ApiError } from '../../api.js';
import { formError } from '../../forms.js';
import { copyButton, secretPanel, pathOf } from './common.js';

// The columns of each file, the required ones first (devices/csvimport).
const FILES = {
  sites: { required: ['id', 'name'], optional: ['district', 'address', 'lat', 'lon', 'time_zone', 'opening_hours'],
    example: 'id,name,district,lat,lon,time_zone\ncentre-9,Xinhua centre,Hongkou,31.27,121.48,Asia/Shanghai\n' },
  teams: { required: ['id', 'site', 'name'], optional: [], example: 'id,site,name\nteam-9,centre-9,Team 9\n' },
  patients: { required: ['id', 'team'], optional: ['plans', 'birth_year'],
    example: 'id,team,plans,birth_year\nP-009001,team-9,hypertension: BP daily;diabetes: glucose fasting daily,1948\n' },
  devices: { required: ['id', 'kind', 'site', 'mode'],
    optional: ['model', 'serial', 'firmware', 'status', 'rated_uses_per_day', 'next_calibration', 'secret', 'in_service'],
    example: 'id,kind,site,mode,model,next_calibration\ncuff-9001,bp_cuff,centre-9,home,Omron HEM-7361T,2027-06-01\n' },
};
const KIND_WORDS = { sites: 'admin.tab.sites', teams: 'admin.tab.teams', patients: 'admin.tab.patients', devices: 'admin.tab.devices' };
const PREVIEW_ROWS = 20;
const MAX_BYTES = 32 << 20; // the API's limit

/**
 * Reads CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into records, each with
 * the line it starts on (the header is line 1), as the API counts lines.
 */
export function parseCSV(text) {
  const out = [];
  let rec = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const endRecord = () => {
    rec.push(cell);
    if (!(rec.length === 1 && rec[0].trim() === '')) out.push({ line: start, cells: rec });
    rec = [];
    cell = '';
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false;
      else { if (c === '\n') line++; cell += c; }
      continue;
    }
    if (c === '"' && cell.trim() === '') { quoted = true; cell = ''; } else if (c === ',') { rec.push(cell); cell = ''; } else if (c === '\r' && text[i + 1] === '\n') { /* the \n ends it */ } else if (c === '\n') { endRecord(); line++; start = line; } else cell += c;
  }
  if (cell !== '' || rec.length) endRecord();
  return out;
}

// postCSV sends a file to an import route as text/csv and answers the report, or throws an
// ApiError as api.js does for JSON (api.js sends JSON only).
async function postCSV(path, text) {
  let resp;
  try {
    resp = await fetch('/api/v1' + path, { method: 'POST', credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'text/csv; charset=utf-8' }, body: text });
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(resp.status, e.code || 'http_' + resp.status, e.message || resp.statusText, e.field);
  }
  return data;
}

export function mount(root, ctx) {
  const s = {
    kind: FILES[ctx.query.get('kind')] ? ctx.query.get('kind') : 'sites',
    name: '', // the file's name
    text: '',
    rows: null, // parsed records
    err: null, // a refusal of the whole file
    busy: false,
    report: null, // the API's answer
    secretsShown: false,
  };
  let alive = true;

  function setKind(k) {
    s.kind = k;
    s.report = null;
    s.err = null;
    ctx.setQuery({ kind: k === 'sites' ? '' : k });
    draw();
  }

  async function pick(ev) {
    const file = ev.target.files && ev.target.files[0];
    s.report = null;
    s.err = null;
    if (!file) { s.name = ''; s.text = ''; s.rows = null; draw(); return; }
    if (file.size > MAX_BYTES) {
      s.err = new ApiError(400, 'invalid', t('admin.import.too_big'), 'file');
      s.text = '';
      s.rows = null;
      draw();
      return;
    }
    s.name = file.name;
    s.text = await file.text();
    s.rows = parseCSV(s.text);
    const paste = root.querySelector('#import-paste');
    if (paste) paste.value = '';
    draw();
  }

  function pasted(ev) {
    s.report = null;
    s.err = null;
    s.name = '';
    s.text = ev.target.value;
    s.rows = s.text.trim() ? parseCSV(s.text) : null;
    const file = root.querySelector('#import-file');
    if (file) file.value = '';
    draw();
  }

  async function submit(ev) {
    ev.preventDefault();
    if (s.busy) return;
    if (!s.text.trim()) {
      s.err = new ApiError(400, 'invalid', t('admin.import.no_file'), 'file');
      draw();
      root.querySelector('#import-file').focus();
      return;
    }
    s.busy = true;
    s.err = null;
    s.report = null;
    draw();
    try {
      s.report = await postCSV(`/${s.kind}/import?atomic=true`, s.text);
      s.secretsShown = !!(s.report.secrets && s.report.secrets.length);
    } catch (e) {
      s.err = e;
    }
    s.busy = false;
    draw();
    const out = root.querySelector('#import-result');
    if (out) out.focus();
  }

  function header() {
    return s.rows && s.rows.length ? s.rows[0].cells.map((h) => h.trim().toLowerCase()) : [];
  }

  // What the preview can tell before the API: columns the file lacks or that the API does not know.
  function columnProblems() {
    const h = header();
    if (!h.length) return [];
    const f = FILES[s.kind];
    const known = [...f.required, ...f.optional];
    const out = [];
    for (const c of f.required) if (!h.includes(c)) out.push(t('admin.import.missing_column', { column: c }));
    for (const c of h) if (!known.includes(c)) out.push(t('admin.import.unknown_column', { column: c }));
    return out;
  }

  function badLines() {
    return new Map(((s.report && s.report.errors) || []).map((e) => [e.line, e]));
  }

  function preview() {
    if (!s.rows) return nothing;
    const h = s.rows[0] ? s.rows[0].cells : [];
    const body = s.rows.slice(1);
    const bad = badLines();
    const shown = body.slice(0, PREVIEW_ROWS);
    // Bad lines beyond the first rows are shown too, so that each can be seen in place.
    for (const r of body.slice(PREVIEW_ROWS)) if (bad.has(r.line)) shown.push(r);
    const problems = columnProblems();
    return html`<section class="panel" aria-labelledby="import-preview-title">
      <h3 id="import-preview-title">${t('admin.import.preview')}</h3>
      <p class="small">${s.name ? html`<strong>${s.name}</strong>: ` : nothing}${t('admin.import.rows', { n: body.length })}
        ${body.length > shown.length ? t('admin.import.first_rows', { n: shown.length }) : nothing}</p>
      ${problems.length ? html`<ul class="notice notice-warning">${problems.map((p) => html`<li>${p}</li>`)}</ul>` : nothing}
      <div class="table-scroll"><table class="data-table import-preview">
        <thead><tr><th scope="col">${t('admin.import.line')}</th>${h.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
        <tbody>${shown.map((r) => html`<tr class=${bad.has(r.line) ? 'is-bad' : ''} data-line=${r.line}>
          <th scope="row">${bad.has(r.line) ? html`<span aria-hidden="true">⚠</span> ` : nothing}${r.line}</th>
          ${r.cells.map((c, i) => html`<td class=${bad.has(r.line) && bad.get(r.line).column === (h[i] || '').trim().toLowerCase() ? 'is-bad-cell' : ''}>${c}</td>`)}
        </tr>`)}</tbody>
      </table></div>
    </section>`;
  }

  function result() {
    const r = s.report;
    if (s.err) {
      return html`<div id="import-result" tabindex="-1">${formError(s.err)}</div>`;
    }
    if (!r) return nothing;
    if (r.errors && r.errors.length) {
      return html`<section id="import-result" class="panel import-errors" tabindex="-1" aria-labelledby="import-errors-title">
        <h3 id="import-errors-title"><span aria-hidden="true">⚠</span> ${t('admin.import.refused', { n: r.errors.length })}</h3>
        <p class="notice notice-error">${t('admin.import.nothing_imported')}</p>
        <table class="data-table">
          <thead><tr><th scope="col">${t('admin.import.line')}</th><th scope="col">${t('admin.import.column')}</th>
            <th scope="col">${t('admin.import.reason')}</th></tr></thead>
          <tbody>${r.errors.map((e) => html`<tr><th scope="row">${e.line}</th><td class="mono">${e.column || '—'}</td>
            <td>${e.reason}</td></tr>`)}</tbody>
        </table>
        <p class="small muted">${t('admin.import.fix_and_retry')}</p>
      </section>`;
    }
    const secrets = r.secrets || [];
    const csv = 'device,secret\n' + secrets.map((x) => `${x.device},${x.secret}`).join('\n') + '\n';
    return html`<section id="import-result" class="panel" tabindex="-1" aria-labelledby="import-ok-title">
      <h3 id="import-ok-title"><span aria-hidden="true">✓</span> ${t('admin.import.imported', { n: r.imported.length })}</h3>
      <p class="import-ids">${r.imported.map((id, i) => html`${i ? ', ' : ''}<a href=${pathOf(s.kind, id)}>${id}</a>`)}</p>
      ${secrets.length && s.secretsShown ? secretPanel({
    title: t('admin.import.secrets_title', { n: secrets.length }),
    warning: t('admin.devices.secret_warning'),
    more: html`<div class="table-scroll"><table class="data-table"><thead><tr><th scope="col">${t('admin.field.id')}</th>
        <th scope="col">${t('admin.import.secret')}</th></tr></thead>
        <tbody>${secrets.map((x) => html`<tr><th scope="row">${x.device}</th><td class="mono">${x.secret}</td></tr>`)}</tbody></table></div>
      <p>${copyButton(csv, t('admin.import.copy_csv'))}</p>`,
    onDone: () => { s.secretsShown = false; draw(); },
  }) : nothing}
    </section>`;
  }

  function draw() {
    if (!alive) return;
    const f = FILES[s.kind];
    render(html`<section class="admin-section" aria-labelledby="import-title">
      <h2 id="import-title">${t('admin.import.title')}</h2>
      <p class="muted">${t('admin.import.text')}</p>
      <form id="import" data-form="import" class="form admin-form" @submit=${submit} novalidate>
        <fieldset class="field kind-choice"><legend>${t('admin.import.kind')}</legend>
          ${Object.keys(FILES).map((k) => html`<label class="check"><input type="radio" name="kind" value=${k}
            .checked=${s.kind === k} @change=${() => setKind(k)}> ${t(KIND_WORDS[k])}</label>`)}
        </fieldset>
        <div class="columns-help small">
          <p>${t('admin.import.columns')} ${f.required.map((c) => html`<code class="required-col">${c}</code> `)}
            ${f.optional.map((c) => html`<code>${c}</code> `)}</p>
          <p class="muted">${t('admin.import.required_bold')}</p>
          <details><summary>${t('admin.import.example')}</summary><pre class="mono">${f.example}</pre></details>
        </div>
        <div class="field">
          <label for="import-file">${t('admin.import.file')}</label>
          <input id="import-file" name="file" type="file" accept=".csv,text/csv" @change=${pick}
            aria-invalid=${s.err && s.err.field === 'file' ? 'true' : 'false'} aria-describedby="import-file-hint">
          <span class="hint" id="import-file-hint">${t('admin.import.file_hint')}</span>
        </div>
        <details class="paste" ?open=${!!(s.text && !s.name)}>
          <summary>${t('admin.import.paste')}</summary>
          <div class="field">
            <label for="import-paste">${t('admin.import.paste_label')}</label>
            <textarea id="import-paste" name="paste" rows="6" class="mono" spellcheck="false" @input=${pasted}></textarea>
          </div>
        </details>
        ${preview()}
        <p class="small">${t('admin.import.atomic')}</p>
        <div class="form-actions">
          <button class="btn btn-primary" type="submit" ?disabled=${s.busy}>${s.busy ? t('admin.import.busy') : t('admin.import.button', { what: t(KIND_WORDS[s.kind]) })}</button>
        </div>
      </form>
      <div aria-live="polite">${result()}</div>
    </section>`, root);
  }

  draw();
  return () => { alive = false; };
}
