// The devices of the person's centres with their live state: online or offline, when last heard
// from, the battery, the firmware reported against the registry's, the next calibration, the
// open faults and last month's utilisation; filters by state, kind and centre, kept in the
// address. Below, the dead letters of their devices with the reason each was refused. The list
// comes in one request (with each device's states); the details of the rows shown come from each
// device's status, a page of rows at a time.
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { useStyles } from '../styles.js';
import { dateTime, ago, number } from '../format.js';
import { errorText } from '../forms.js';
import {
  KINDS, STATES, kindName, modeName, statusName, stateBadge, siteName, siteZone, percent, band, bandMark, mySites, reasonName,
} from '../fleet.js';
import { ruleName } from '../alerts.js';

const PAGE = 25;
const DEAD_PAGE = 20;

export function mount(root, ctx) {
  useStyles('fleet');
  const user = ctx.user;
  const q = ctx.query;
  const s = {
    state: STATES.includes(q.get('state')) ? q.get('state') : '',
    kind: KINDS.includes(q.get('kind')) ? q.get('kind') : '',
    site: q.get('site') || '',
    page: Math.max(0, Number(q.get('page')) || 0),
    devices: [], loading: true, error: null,
    status: new Map(), // device id -> status, or {error}
    util: new Map(), utilMonth: '', th: { low: 0.6, high: 0.9 },
    dead: [], deadNext: '', deadLoading: true, deadError: null,
  };
  let alive = true;
  let seq = 0;

  function syncQuery() {
    ctx.setQuery({ state: s.state, kind: s.kind, site: s.site, page: s.page ? String(s.page) : '' });
  }

  async function load() {
    const my = ++seq;
    s.loading = true;
    s.error = null;
    draw();
    try {
      const items = await api.all('/devices', { state: s.state || undefined, kind: s.kind || undefined, site: s.site || undefined, limit: 1000 },
        { cursor: 'after', max: 10000 });
      if (my !== seq || !alive) return;
      s.devices = items;
      s.page = Math.min(s.page, Math.max(0, Math.ceil(items.length / PAGE) - 1));
    } catch (e) {
      if (my !== seq || !alive) return;
      s.error = e;
      s.devices = [];
    }
    s.loading = false;
    draw();
    loadStatuses();
  }

  // loadStatuses reads the status of each device of the page shown, four at a time.
  async function loadStatuses() {
    const ids = pageRows().map((d) => d.id).filter((id) => !s.status.has(id));
    let i = 0;
    async function worker() {
      while (i < ids.length && alive) {
        const id = ids[i++];
        try {
          s.status.set(id, await api.get(`/devices/${encodeURIComponent(id)}/status`));
        } catch (e) {
          s.status.set(id, { error: e });
        }
        draw();
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  async function loadUtilisation() {
    try {
      const u = await api.get('/utilisation', { by: 'device' });
      s.utilMonth = u.to;
      for (const f of u.figures || []) if (f.capacity) s.util.set(f.device, f.utilisation);
      const a = await api.get('/reallocation/assessment', { verdict: 'short' }).catch(() => null);
      if (a && a.thresholds) s.th = a.thresholds;
    } catch {
      // the column stays empty
    }
    draw();
  }

  async function loadDead(more = false) {
    s.deadLoading = true;
    draw();
    try {
      const p = await api.get('/deadletters', { limit: DEAD_PAGE, before: more ? s.deadNext : undefined });
      s.dead = more ? [...s.dead, ...(p.items || [])] : p.items || [];
      s.deadNext = p.next || '';
      s.deadError = null;
    } catch (e) {
      s.deadError = e;
    }
    s.deadLoading = false;
    draw();
  }

  function setFilter(name, value) {
    s[name] = value;
    s.page = 0;
    syncQuery();
    load();
  }

  function setPage(p) {
    s.page = p;
    syncQuery();
    draw();
    loadStatuses();
    const el = root.querySelector('#devices-title');
    if (el) el.scrollIntoView({ block: 'start' });
  }

  const pageRows = () => s.devices.slice(s.page * PAGE, (s.page + 1) * PAGE);

  // ---- cells ----
  function heard(d, st) {
    if (!st) return html`<span class="muted">…</span>`;
    if (st.error) return html`<span class="muted">—</span>`;
    if (!st.last_message_at) return html`<span class="muted">${t('fleet.devices.never')}</span>`;
    return html`<span title=${dateTime(st.last_message_at, siteZone(d.site))}>${ago(st.last_message_at)}</span>`;
  }

  function battery(st) {
    if (!st || st.error || !st.battery) return html`<span class="muted">—</span>`;
    const low = st.battery.percent <= st.battery.low_at_or_below;
    return html`<span class=${low ? 'warn-text' : ''}>${low ? html`<span aria-hidden="true">▁ </span>` : nothing}${t('fleet.percent', { v: number(st.battery.percent, 0) })}</span>`;
  }

  function firmware(d, st) {
    const reg = d.firmware || '—';
    if (!st || st.error || !st.firmware || !st.firmware.reported) return html`${reg}`;
    if (!st.firmware.differs) return html`${reg}`;
    return html`<span class="warn-text"><span aria-hidden="true">≠ </span>${t('fleet.devices.firmware_differs', { reported: st.firmware.reported, registry: reg })}</span>`;
  }

  function calibration(d) {
    if (!d.next_calibration) return html`<span class="muted">—</span>`;
    const due = new Date(d.next_calibration) < new Date();
    return html`<span class=${due ? 'warn-text' : ''}>${due ? html`<span aria-hidden="true">◷ </span>` : nothing}${dateTime(d.next_calibration, siteZone(d.site))}</span>`;
  }

  function faults(st) {
    if (!st || st.error || !st.faults) return html`<span class="muted">—</span>`;
    if (!st.faults.open) return html`0`;
    return html`<strong>${st.faults.open}</strong> <span class="small">${st.faults.rules.map(ruleName).join(', ')}</span>`;
  }

  function utilisation(d) {
    if (!s.util.has(d.id)) return html`<span class="muted">—</span>`;
    const v = s.util.get(d.id);
    const b = band(v, s.th);
    return html`${percent(v)}${bandMark(b) ? html` <span aria-label=${t('fleet.util.band_' + b)}>${bandMark(b)}</span>` : nothing}`;
  }

  function row(d) {
    const st = s.status.get(d.id);
    const states = d.states || [];
    return html`<tr>
      <th scope="row" data-label=${t('fleet.devices.col_device')}><a href="/app/devices/${encodeURIComponent(d.id)}">${d.id}</a>
        <div class="muted small">${kindName(d.kind)} · ${modeName(d.mode)}${mySites(user).length > 1 ? html` · ${siteName(d.site)}` : nothing}</div>
        ${d.status !== 'active' ? html`<div class="small">${statusName(d.status)}</div>` : nothing}</th>
      <td data-label=${t('fleet.devices.col_state')}><span class="chips">${states.length ? states.map(stateBadge) : html`<span class="muted">—</span>`}</span></td>
      <td data-label=${t('fleet.devices.col_heard')}>${heard(d, st)}</td>
      <td data-label=${t('fleet.devices.col_battery')}>${battery(st)}</td>
      <td data-label=${t('fleet.devices.col_firmware')}>${firmware(d, st)}</td>
      <td data-label=${t('fleet.devices.col_calibration')}>${calibration(d)}</td>
      <td data-label=${t('fleet.devices.col_faults')}>${faults(st)}</td>
      <td data-label=${t('fleet.devices.col_util', { month: s.utilMonth })}>${utilisation(d)}</td>
    </tr>`;
  }

  function filters() {
    const sites = mySites(user);
    return html`<div class="filters" role="group" aria-label=${t('filter.label')}>
      <div class="field"><label for="dev-state">${t('fleet.devices.state')}</label>
        <select id="dev-state" @change=${(e) => setFilter('state', e.target.value)}>
          <option value="" ?selected=${!s.state}>${t('filter.all')}</option>
          ${STATES.map((x) => html`<option value=${x} ?selected=${s.state === x}>${t('fleet.state.' + x)}</option>`)}</select></div>
      <div class="field"><label for="dev-kind">${t('fleet.devices.kind')}</label>
        <select id="dev-kind" @change=${(e) => setFilter('kind', e.target.value)}>
          <option value="" ?selected=${!s.kind}>${t('filter.all')}</option>
          ${KINDS.map((k) => html`<option value=${k} ?selected=${s.kind === k}>${kindName(k)}</option>`)}</select></div>
      ${sites.length > 1 ? html`<div class="field"><label for="dev-site">${t('filter.site')}</label>
        <select id="dev-site" @change=${(e) => setFilter('site', e.target.value)}>
          <option value="" ?selected=${!s.site}>${t('filter.all')}</option>
          ${sites.map((id) => html`<option value=${id} ?selected=${s.site === id}>${siteName(id)}</option>`)}</select></div>` : nothing}
    </div>`;
  }

  function pager() {
    const pages = Math.ceil(s.devices.length / PAGE);
    if (pages <= 1) return nothing;
    return html`<nav class="pager" aria-label=${t('fleet.devices.pages')}>
      <button type="button" class="btn btn-small" ?disabled=${s.page === 0} @click=${() => setPage(s.page - 1)}>${t('fleet.devices.previous')}</button>
      <span>${t('fleet.devices.page_of', { n: s.page + 1, of: pages })}</span>
      <button type="button" class="btn btn-small" ?disabled=${s.page >= pages - 1} @click=${() => setPage(s.page + 1)}>${t('fleet.devices.next')}</button>
    </nav>`;
  }

  function table() {
    if (s.loading && !s.devices.length) return html`<p class="loading">${t('app.loading')}</p>`;
    if (s.error) {
      return html`<p class="notice notice-error" role="alert">${s.error.status === 503 && s.state ? t('fleet.devices.no_states') : errorText(s.error)}</p>`;
    }
    if (!s.devices.length) return html`<p class="empty">${s.state || s.kind || s.site ? t('fleet.devices.none_match') : t('fleet.devices.none')}</p>`;
    return html`<p class="muted small" role="status">${t('fleet.devices.count', { n: s.devices.length })}</p>
      <div class="panel stack-panel"><table class="data-table device-table stack-table">
        <caption class="visually-hidden">${t('fleet.devices.caption')}</caption>
        <thead><tr><th scope="col">${t('fleet.devices.col_device')}</th><th scope="col">${t('fleet.devices.col_state')}</th>
          <th scope="col">${t('fleet.devices.col_heard')}</th><th scope="col">${t('fleet.devices.col_battery')}</th>
          <th scope="col">${t('fleet.devices.col_firmware')}</th><th scope="col">${t('fleet.devices.col_calibration')}</th>
          <th scope="col">${t('fleet.devices.col_faults')}</th><th scope="col">${t('fleet.devices.col_util', { month: s.utilMonth })}</th></tr></thead>
        <tbody>${pageRows().map(row)}</tbody>
      </table></div>
      ${pager()}`;
  }

  function deadLetters() {
    if (s.deadError) return html`<p class="notice notice-error" role="alert">${errorText(s.deadError)}</p>`;
    if (!s.dead.length) return s.deadLoading ? html`<p class="loading">${t('app.loading')}</p>` : html`<p class="empty">${t('fleet.devices.no_dead')}</p>`;
    return html`<div class="panel stack-panel"><table class="data-table stack-table dead-table">
      <caption class="visually-hidden">${t('fleet.devices.dead_caption')}</caption>
      <thead><tr><th scope="col">${t('fleet.devices.dead_received')}</th><th scope="col">${t('fleet.devices.col_device')}</th>
        <th scope="col">${t('fleet.devices.dead_reason')}</th><th scope="col">${t('fleet.devices.dead_detail')}</th></tr></thead>
      <tbody>${s.dead.map((x) => {
        const d = s.devices.find((y) => y.id === x.device);
        return html`<tr>
          <td data-label=${t('fleet.devices.dead_received')}>${dateTime(x.received, d ? siteZone(d.site) : '')}</td>
          <th scope="row" data-label=${t('fleet.devices.col_device')}><a href="/app/devices/${encodeURIComponent(x.device)}">${x.device}</a></th>
          <td data-label=${t('fleet.devices.dead_reason')}><strong>${reasonName(x.reason)}</strong>${x.reading !== undefined ? html` <span class="muted small">${t('fleet.devices.dead_reading', { n: x.reading + 1 })}</span>` : nothing}</td>
          <td data-label=${t('fleet.devices.dead_detail')}><code class="small">${x.detail}</code></td>
        </tr>`;
      })}</tbody></table></div>
      ${s.deadNext ? html`<button type="button" class="btn" ?disabled=${s.deadLoading} @click=${() => loadDead(true)}>${t('fleet.devices.more')}</button>` : nothing}`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="page fleet-page devices-page">
      <h1 id="devices-title">${t('fleet.devices.title')}</h1>
      ${filters()}
      <section aria-labelledby="devices-title" aria-busy=${s.loading ? 'true' : 'false'}>${table()}</section>
      <section aria-labelledby="dead-title" aria-busy=${s.deadLoading ? 'true' : 'false'}>
        <h2 id="dead-title">${t('fleet.devices.dead_title')}</h2>
        <p class="muted small">${t('fleet.devices.dead_intro')}</p>
        ${deadLetters()}
      </section>
    </section>`, root);
  }

  draw();
  dir.load().catch(() => {}).then(draw);
  load();
  loadUtilisation();
  loadDead();
  return () => { alive = false; };
}
