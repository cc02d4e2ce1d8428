// The map of the centres: each placed by its coordinates on a plain projected plane (Leaflet,
// no tile layer: nothing is fetched from outside) with a scale bar and, when the deployment
// configures them, the district outlines. Each of the person's centres shows its devices by live
// state, which device types it has to spare or is short of, and the growth of its patients on a
// care plan beyond reallocation.growth with the devices it would lack; the reallocation plan's moves
// are arrows from donor to receiver; a faulty device shows where its residents can go instead.
// The same data is in a table beside the map, for screen readers and small screens; the
// centres on the map are focusable, and Enter opens their details.
import { html, render, nothing, ref, createRef } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as dir from '../directory.js';
import { boot } from '../boot.js';
import { library } from '../libraries.js';
import { useStyles } from '../styles.js';
import { number } from '../format.js';
import { errorText } from '../forms.js';
import { kindName, stateBadge, verdictBadge, siteName, percent, mySites, STATES, statusName, STATUSES, growthFlags, growthBadge } from '../fleet.js';

// leaflet loads Leaflet and its style sheet once; null when the build lacks it.
const leaflet = () => library('leaflet', '/static/vendor/leaflet/leaflet-src.esm.js', '/static/vendor/leaflet/leaflet.css');

// hasPlace tells a site with coordinates from one without (0, 0 is the registry's "not given").
const hasPlace = (s) => s && Number.isFinite(s.lat) && Number.isFinite(s.lon) && !(s.lat === 0 && s.lon === 0);

// Pixels between a centre's marker and the end of an arrow, and the arrowhead's size.
const GAP = 17;
const HEAD = 13;

export function mount(root, ctx) {
  useStyles('fleet');
  const user = ctx.user;
  const s = {
    loading: true, error: null,
    mine: [], fleets: new Map(), fleetError: null,
    assess: [], thresholds: null, plan: null, planError: null,
    faulty: [], faultyError: null,
    alt: null, // {device, site, type, loading, error, items}
    selected: ctx.query.get('site') || '',
    noMap: false, districts: null,
  };
  const mapEl = createRef();
  let alive = true;
  let L = null;
  let map = null;
  const layers = { markers: new Map(), arrows: [], alt: null };

  // ---- data ----
  async function load() {
    try {
      await dir.load();
    } catch (e) {
      s.error = e;
      s.loading = false;
      draw();
      return;
    }
    if (!alive) return;
    s.mine = mySites(user);
    const fleets = loadFleets(s.mine);
    const assess = api.get('/reallocation/assessment').then((a) => { s.assess = a.items || []; s.thresholds = a.thresholds; })
      .catch((e) => { s.planError = e; });
    const plan = api.get('/reallocation/plan').then((p) => { s.plan = p; s.thresholds = s.thresholds || p.thresholds; })
      .catch((e) => { s.planError = e; });
    const faulty = api.all('/devices', { state: 'faulty', limit: 1000 }, { cursor: 'after' }).then((items) => { s.faulty = items; })
      .catch((e) => { s.faultyError = e; });
    await Promise.all([fleets, assess, plan, faulty]);
    if (!alive) return;
    s.loading = false;
    draw();
    await drawMap();
  }

  // loadFleets reads each centre's devices by state, four at a time; without the live status
  // (503) it counts the registry's devices by status instead.
  async function loadFleets(ids) {
    let i = 0;
    async function worker() {
      while (i < ids.length) {
        const id = ids[i++];
        try {
          s.fleets.set(id, await api.get(`/sites/${encodeURIComponent(id)}/fleet`));
        } catch (e) {
          if (e.status !== 503) { s.fleetError = e; continue; }
          try {
            s.fleets.set(id, registryFleet(id, await api.all('/devices', { site: id, limit: 1000 }, { cursor: 'after' })));
          } catch (e2) {
            s.fleetError = e2;
          }
        }
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  // registryFleet counts a site's devices by kind and status, as /sites/{id}/fleet does, without
  // the live states.
  function registryFleet(site, devices) {
    const out = { site, devices: devices.length, states: null, statuses: {}, kinds: [] };
    const kinds = new Map();
    for (const d of devices) {
      out.statuses[d.status] = (out.statuses[d.status] || 0) + 1;
      if (!kinds.has(d.kind)) kinds.set(d.kind, { kind: d.kind, devices: 0, statuses: {} });
      const k = kinds.get(d.kind);
      k.devices++;
      k.statuses[d.status] = (k.statuses[d.status] || 0) + 1;
    }
    out.kinds = [...kinds.values()];
    return out;
  }

  async function showAlternatives(device) {
    s.alt = { device: device.id, site: device.site, type: device.kind, loading: true, error: null, items: [] };
    draw();
    try {
      const a = await api.get(`/devices/${encodeURIComponent(device.id)}/alternatives`);
      if (!alive || !s.alt || s.alt.device !== device.id) return;
      s.alt.items = a.alternatives || [];
    } catch (e) {
      if (s.alt) s.alt.error = e;
    }
    if (s.alt) s.alt.loading = false;
    draw();
    drawAlternatives();
    const el = root.querySelector('#alternatives');
    if (el) el.focus();
  }

  // ---- what each centre shows ----
  // verdictsOf lists the types a centre has to spare or is short of: the assessment's for the
  // person's centres; for another centre, what the plan's moves say of it (the API assesses
  // only the person's own).
  function verdictsOf(site) {
    if (s.mine.includes(site)) return s.assess.filter((a) => a.site === site && a.verdict !== 'balanced');
    const out = new Map();
    for (const m of (s.plan && s.plan.moves) || []) {
      if (m.to === site) out.set('short:' + m.type, { site, type: m.type, verdict: 'short', missing: (out.get('short:' + m.type)?.missing || 0) + m.count, planned: true });
      if (m.from === site) out.set('spare:' + m.type, { site, type: m.type, verdict: 'spare', spare: (out.get('spare:' + m.type)?.spare || 0) + m.count, planned: true });
    }
    return [...out.values()];
  }
  // The growth of a centre's patients on a plan, from the assessment (the person's centres only).
  const growthOf = (site, mine) => (mine ? growthFlags(s.assess.filter((a) => a.site === site)) : []);
  const movesOf = (site) => ((s.plan && s.plan.moves) || []).filter((m) => m.from === site || m.to === site);

  // The sites on the map: the person's, and the other ends of the planned moves.
  function shownSites() {
    const ids = new Set(s.mine);
    for (const m of (s.plan && s.plan.moves) || []) { ids.add(m.from); ids.add(m.to); }
    if (s.alt) for (const a of s.alt.items) ids.add(a.site);
    return [...ids].map((id) => dir.site(id) || { id, name: id }).sort((a, b) => a.id.localeCompare(b.id));
  }

  function stateCounts(f) {
    if (!f) return html`<span class="muted">—</span>`;
    if (!f.states) {
      return html`<span class="muted small">${t('fleet.map.no_live')}</span>
        ${STATUSES.filter((st) => f.statuses[st]).map((st) => html`<span class="count-chip">${statusName(st)} ${f.statuses[st]}</span>`)}`;
    }
    return html`${STATES.filter((st) => f.states[st]).map((st) => html`<span class="count-chip">${stateBadge(st)} ${f.states[st]}</span>`)}`;
  }

  // centreDetail is what a centre's popup and the table's row say.
  function centreDetail(site) {
    const f = s.fleets.get(site.id);
    const mine = s.mine.includes(site.id);
    const v = verdictsOf(site.id);
    const moves = movesOf(site.id);
    const growth = growthOf(site.id, mine);
    return html`<div class="centre-detail">
      <h3>${site.name || site.id}</h3>
      ${site.district ? html`<p class="muted small">${t('fleet.map.district', { name: site.district })}</p>` : nothing}
      ${mine ? html`<p>${t('fleet.map.devices', { n: f ? f.devices : '—' })}</p>
        <p class="chips">${stateCounts(f)}</p>` : html`<p class="muted small">${t('fleet.map.not_yours')}</p>`}
      ${v.length ? html`<ul class="plain">${v.map((a) => html`<li>${verdictBadge(a.verdict)} ${kindName(a.type)}
        (${verdictCount(a)})</li>`)}</ul>` : nothing}
      ${moves.length ? html`<ul class="plain">${moves.map((m) => html`<li>${moveText(m)}</li>`)}</ul>` : nothing}
      ${growth.length ? html`<ul class="plain growth-list">${growth.map((g) => html`<li>${growthBadge(g)}</li>`)}</ul>` : nothing}
    </div>`;
  }

  function verdictCount(a) {
    if (a.planned) return a.verdict === 'spare' ? t('fleet.map.planned_give', { n: a.spare }) : t('fleet.map.planned_get', { n: a.missing });
    return a.verdict === 'spare' ? t('fleet.map.can_give', { n: a.spare }) : t('fleet.map.missing', { n: a.missing });
  }

  function moveText(m) {
    return t('fleet.map.move', { n: m.count, type: kindName(m.type), from: siteName(m.from), to: siteName(m.to), km: number(m.distance_km, 1) });
  }

  // ---- the map ----
  async function drawMap() {
    L = await leaflet();
    if (!alive) return;
    if (!L || !mapEl.value) {
      s.noMap = true;
      draw();
      return;
    }
    const placed = shownSites().filter(hasPlace);
    if (!map) {
      map = L.map(mapEl.value, { crs: L.CRS.EPSG3857, attributionControl: false, zoomSnap: 0.25, keyboard: true, minZoom: 3, maxZoom: 18 });
      mapEl.value.setAttribute('aria-label', t('fleet.map.label'));
      L.control.scale({ imperial: false, maxWidth: 120 }).addTo(map);
      map.on('zoomend', placeArrows);
      if (boot.districts) await drawDistricts();
    }
    if (placed.length) {
      map.fitBounds(L.latLngBounds(placed.map((x) => [x.lat, x.lon])), { padding: [48, 48], maxZoom: 14 });
    } else {
      map.setView([0, 0], 3);
    }
    drawMarkers(placed);
    drawArrows();
    drawAlternatives();
  }

  async function drawDistricts() {
    try {
      const resp = await fetch(boot.districts, { credentials: 'same-origin' });
      if (!resp.ok) throw new Error(resp.statusText);
      const fc = await resp.json();
      if (!alive || !map) return;
      s.districts = (fc.features || []).map((f) => (f.properties && f.properties.name) || '');
      L.geoJSON(fc, {
        interactive: false,
        style: () => ({ className: 'district-outline', color: '#6e7781', weight: 1.5, fillColor: '#dde4ea', fillOpacity: 0.35, dashArray: '4 3' }),
        onEachFeature: (f, layer) => {
          const name = (f.properties && f.properties.name) || '';
          if (!name) return;
          const label = document.createElement('span');
          label.textContent = name;
          layer.bindTooltip(label, { permanent: true, direction: 'center', className: 'district-label', interactive: false });
        },
      }).addTo(map);
      draw();
    } catch (e) {
      console.error(e);
      s.districts = [];
      s.districtsError = true;
      draw();
    }
  }

  function drawMarkers(placed) {
    for (const m of layers.markers.values()) m.remove();
    layers.markers.clear();
    for (const site of placed) {
      const mine = s.mine.includes(site.id);
      const f = s.fleets.get(site.id);
      const v = verdictsOf(site.id);
      const icon = document.createElement('div');
      render(html`<span class="centre-dot ${mine ? 'is-mine' : ''}">${mine && f ? f.devices : ''}</span>
        <span class="centre-name">${site.name || site.id}${v.length ? html` ${v.map((a) => html`<span class="verdict-sign verdict-${a.verdict}" aria-hidden="true">${a.verdict === 'spare' ? '+' : '−'}</span>`)}` : nothing}</span>`, icon);
      const marker = L.marker([site.lat, site.lon], {
        icon: L.divIcon({ html: icon, className: 'centre-marker', iconSize: [28, 28], iconAnchor: [14, 14] }),
        keyboard: true, title: site.name || site.id, riseOnHover: true,
      });
      const popup = document.createElement('div');
      marker.bindPopup(popup, { maxWidth: 280, autoPanPadding: [16, 16] });
      marker.on('popupopen', () => { render(centreDetail(site), popup); select(site.id, false); });
      marker.addTo(map);
      const el = marker.getElement();
      if (el) {
        el.dataset.site = site.id;
        el.setAttribute('aria-label', centreLabel(site, f, v, mine));
      }
      layers.markers.set(site.id, marker);
    }
  }

  function centreLabel(site, f, v, mine) {
    const parts = [site.name || site.id];
    if (mine && f) parts.push(t('fleet.map.devices', { n: f.devices }));
    for (const a of v) parts.push(`${t('fleet.verdict.' + a.verdict)}: ${kindName(a.type)}`);
    return parts.join(', ');
  }

  // The planned moves, one arrow per pair of centres, from donor to receiver.
  function drawArrows() {
    for (const a of layers.arrows) { a.line.remove(); a.head.remove(); }
    layers.arrows = [];
    const pairs = new Map();
    for (const m of (s.plan && s.plan.moves) || []) {
      const k = m.from + '>' + m.to;
      if (!pairs.has(k)) pairs.set(k, []);
      pairs.get(k).push(m);
    }
    for (const moves of pairs.values()) {
      const from = dir.site(moves[0].from);
      const to = dir.site(moves[0].to);
      if (!hasPlace(from) || !hasPlace(to)) continue;
      const label = document.createElement('span');
      label.textContent = moves.map(moveText).join('; ');
      const style = { className: 'move-arrow', color: '#0b5cad', weight: 3, opacity: 0.9 };
      const line = L.polyline([[from.lat, from.lon], [to.lat, to.lon]], style).bindTooltip(label, { sticky: true });
      const head = L.polygon([[from.lat, from.lon], [to.lat, to.lon], [to.lat, to.lon]],
        { ...style, className: 'move-arrowhead', fillOpacity: 1, weight: 1 }).bindTooltip(label.cloneNode(true), { sticky: true });
      line.addTo(map);
      head.addTo(map);
      layers.arrows.push({ line, head, from: L.latLng(from.lat, from.lon), to: L.latLng(to.lat, to.lon) });
    }
    placeArrows();
  }

  // placeArrows draws each arrow from the donor's marker to the receiver's, stopping short of
  // both, with its head at the receiver's end: in screen pixels, so again after each zoom.
  function placeArrows() {
    if (!map) return;
    for (const a of layers.arrows) {
      const p = map.latLngToLayerPoint(a.from);
      const q = map.latLngToLayerPoint(a.to);
      const len = Math.hypot(q.x - p.x, q.y - p.y);
      if (len < 2 * GAP + HEAD) { a.line.setLatLngs([]); a.head.setLatLngs([]); continue; }
      const ux = (q.x - p.x) / len;
      const uy = (q.y - p.y) / len;
      const pt = (x, y) => map.layerPointToLatLng(L.point(x, y));
      const tip = [q.x - ux * GAP, q.y - uy * GAP];
      const base = [tip[0] - ux * HEAD, tip[1] - uy * HEAD];
      a.line.setLatLngs([pt(p.x + ux * GAP, p.y + uy * GAP), pt(base[0], base[1])]);
      a.head.setLatLngs([pt(tip[0], tip[1]), pt(base[0] - uy * HEAD * 0.5, base[1] + ux * HEAD * 0.5),
        pt(base[0] + uy * HEAD * 0.5, base[1] - ux * HEAD * 0.5)]);
    }
  }

  // The alternatives of the faulty device chosen: dashed lines from its centre to each.
  function drawAlternatives() {
    if (!map || !L) return;
    if (layers.alt) { layers.alt.remove(); layers.alt = null; }
    if (!s.alt || !s.alt.items.length) return;
    const from = dir.site(s.alt.site);
    if (!hasPlace(from)) return;
    const missing = s.alt.items.some((a) => !layers.markers.has(a.site));
    if (missing) drawMarkers(shownSites().filter(hasPlace));
    layers.alt = L.layerGroup(s.alt.items.map((a) => dir.site(a.site)).filter(hasPlace)
      .map((to) => L.polyline([[from.lat, from.lon], [to.lat, to.lon]], { className: 'alt-line', color: '#1a7f37', weight: 2, dashArray: '6 5' })));
    layers.alt.addTo(map);
  }

  function select(id, open) {
    s.selected = id;
    ctx.setQuery({ site: id });
    draw();
    const m = layers.markers.get(id);
    if (open && m && map) {
      map.panTo(m.getLatLng());
      m.openPopup();
      const el = m.getElement();
      if (el) el.focus();
    }
  }

  // ---- drawing ----
  function table() {
    const sites = shownSites();
    return html`<table class="data-table centre-table">
      <caption class="visually-hidden">${t('fleet.map.table_caption')}</caption>
      <thead><tr><th scope="col">${t('fleet.map.col_centre')}</th><th scope="col">${t('fleet.map.col_devices')}</th>
        <th scope="col">${t('fleet.map.col_verdicts')}</th><th scope="col">${t('fleet.map.col_moves')}</th></tr></thead>
      <tbody>${sites.map((site) => {
        const mine = s.mine.includes(site.id);
        const f = s.fleets.get(site.id);
        const v = verdictsOf(site.id);
        const moves = movesOf(site.id);
        return html`<tr class=${s.selected === site.id ? 'is-selected' : ''} data-site=${site.id}>
          <th scope="row">
            ${hasPlace(site) && map ? html`<button type="button" class="link-button" @click=${() => select(site.id, true)}
                aria-label=${t('fleet.map.show_on_map', { name: site.name || site.id })}>${site.name || site.id}</button>`
              : html`${site.name || site.id}`}
            ${site.district ? html`<div class="muted small">${site.district}</div>` : nothing}
            ${hasPlace(site) ? nothing : html`<div class="muted small">${t('fleet.map.no_coordinates')}</div>`}
          </th>
          <td>${mine ? html`<strong>${f ? f.devices : '—'}</strong> <span class="chips">${stateCounts(f)}</span>` : html`<span class="muted small">${t('fleet.map.not_yours')}</span>`}</td>
          <td>${v.length ? html`<ul class="plain">${v.map((a) => html`<li>${verdictBadge(a.verdict)} ${kindName(a.type)}
              <span class="muted small">${verdictCount(a)}</span></li>`)}</ul>`
            : html`<span class="muted small">${t('fleet.map.balanced')}</span>`}
            ${growthOf(site.id, mine).map((g) => html`<div>${growthBadge(g)}</div>`)}</td>
          <td>${moves.length ? html`<ul class="plain">${moves.map((m) => html`<li>${m.from === site.id
              ? t('fleet.map.gives', { n: m.count, type: kindName(m.type), to: siteName(m.to) })
              : t('fleet.map.gets', { n: m.count, type: kindName(m.type), from: siteName(m.from) })}</li>`)}</ul>` : '—'}</td>
        </tr>`;
      })}</tbody>
    </table>`;
  }

  function faultyList() {
    if (s.faultyError) {
      return html`<p class="muted small">${s.faultyError.status === 503 ? t('fleet.map.faulty_unavailable') : errorText(s.faultyError)}</p>`;
    }
    if (!s.faulty.length) return html`<p class="muted">${t('fleet.map.no_faulty')}</p>`;
    return html`<ul class="plain faulty-list">${s.faulty.map((d) => html`<li>
      ${stateBadge('faulty')} <a href="/app/devices/${encodeURIComponent(d.id)}">${d.id}</a> · ${kindName(d.kind)} · ${siteName(d.site)}
      <button type="button" class="btn btn-small" @click=${() => showAlternatives(d)}
        aria-pressed=${s.alt && s.alt.device === d.id ? 'true' : 'false'}>${t('fleet.map.where_instead')}</button>
    </li>`)}</ul>
    ${s.alt ? alternatives() : nothing}`;
  }

  function alternatives() {
    const a = s.alt;
    return html`<div id="alternatives" class="alternatives" tabindex="-1" aria-live="polite">
      <h3>${t('fleet.map.alternatives_title', { device: a.device, type: kindName(a.type) })}</h3>
      ${a.loading ? html`<p class="loading">${t('app.loading')}</p>`
        : a.error ? html`<p class="notice notice-error" role="alert">${errorText(a.error)}</p>`
        : !a.items.length ? html`<p>${t('fleet.map.no_alternatives')}</p>`
        : html`<table class="data-table"><thead><tr><th scope="col">${t('fleet.map.col_centre')}</th>
            <th scope="col">${t('fleet.map.col_distance')}</th><th scope="col">${t('fleet.map.col_working')}</th>
            <th scope="col">${t('fleet.map.col_spare_uses')}</th></tr></thead>
          <tbody>${a.items.map((x) => html`<tr><td>${siteName(x.site)}</td><td>${t('fleet.km', { km: number(x.distance_km, 1) })}</td>
            <td>${x.devices}</td><td>${number(x.spare_uses_per_day, 1)}</td></tr>`)}</tbody></table>`}
    </div>`;
  }

  function legend() {
    return html`<ul class="map-legend plain">
      <li><span class="legend-dot is-mine" aria-hidden="true"></span> ${t('fleet.map.legend_mine')}</li>
      <li><span class="legend-dot" aria-hidden="true"></span> ${t('fleet.map.legend_other')}</li>
      <li><span class="legend-arrow" aria-hidden="true">→</span> ${t('fleet.map.legend_move')}</li>
      <li><span class="verdict-sign verdict-spare" aria-hidden="true">+</span> ${t('fleet.map.legend_spare')}
        <span class="verdict-sign verdict-short" aria-hidden="true">−</span> ${t('fleet.map.legend_short')}</li>
      ${s.alt && s.alt.items.length ? html`<li><span class="legend-alt" aria-hidden="true">- -</span> ${t('fleet.map.legend_alt')}</li>` : nothing}
      ${boot.districts ? html`<li><span class="legend-district" aria-hidden="true"></span> ${t('fleet.map.legend_district')}</li>` : nothing}
    </ul>`;
  }

  function planSummary() {
    if (s.planError) return html`<p class="notice notice-error" role="alert">${errorText(s.planError)}</p>`;
    const p = s.plan;
    if (!p) return nothing;
    return html`<p>${p.moves.length ? t('fleet.map.plan_summary', { moves: p.moves.length, moved: p.moved }) : t('fleet.map.plan_none')}
      ${p.shortage ? t('fleet.map.plan_shortage', { shortage: p.shortage, unmet: p.unmet }) : nothing}
      <a href="/app/plan">${t('fleet.map.to_plan')}</a></p>`;
  }

  function draw() {
    if (!alive) return;
    render(html`<section class="page fleet-page map-page">
      <h1>${t('fleet.map.title')}</h1>
      ${s.error ? html`<p class="notice notice-error" role="alert">${errorText(s.error)}</p>` : nothing}
      ${s.fleetError ? html`<p class="notice notice-error" role="alert">${errorText(s.fleetError)}</p>` : nothing}
      ${s.loading ? html`<p class="loading">${t('app.loading')}</p>` : planSummary()}
      ${s.noMap ? html`<p class="notice">${t('fleet.map.no_library')}</p>` : nothing}
      ${s.districtsError ? html`<p class="notice">${t('fleet.map.no_districts')}</p>` : nothing}
      <div class="map-layout">
        <div class="map-wrap ${s.noMap ? 'is-hidden' : ''}">
          <div class="fleet-map" ${ref(mapEl)} role="region"></div>
          ${legend()}
          <p class="muted small">${t('fleet.map.keys')}</p>
        </div>
        <div class="map-side">
          <section class="panel" aria-labelledby="centres-title">
            <h2 id="centres-title">${t('fleet.map.centres')}</h2>
            ${s.loading ? nothing : table()}
          </section>
          <section class="panel" aria-labelledby="faulty-title">
            <h2 id="faulty-title">${t('fleet.map.faulty')}</h2>
            ${s.loading ? nothing : faultyList()}
          </section>
        </div>
      </div>
    </section>`, root);
  }

  draw();
  load();
  return () => {
    alive = false;
    if (map) { map.remove(); map = null; }
  };
}
