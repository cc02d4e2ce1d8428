// The registry's kinds as the admin's pages show them: sites, teams, patients and devices, each
// with its list's columns and filters, its form's fields and the body the API takes from them.
// A form field has the name the API gives the input, so that an error naming it is shown next
// to it.
import { html, nothing } from '../../lit.js';
import { t } from '../../i18n.js';
import { localToISO, isoToLocalDate, timeZones } from './common.js';

export const DEVICE_KINDS = ['glucose_meter', 'cgm', 'bp_cuff', 'oximeter', 'wearable', 'thermometer', 'scale', 'station'];
export const DEVICE_STATUSES = ['active', 'maintenance', 'in_transit', 'retired'];

const KIND_WORDS = {
  glucose_meter: 'admin.kind.glucose_meter', cgm: 'admin.kind.cgm', bp_cuff: 'admin.kind.bp_cuff', oximeter: 'admin.kind.oximeter',
  wearable: 'admin.kind.wearable', thermometer: 'admin.kind.thermometer', scale: 'admin.kind.scale', station: 'admin.kind.station',
};
const STATUS_WORDS = {
  active: 'admin.status.active', maintenance: 'admin.status.maintenance', in_transit: 'admin.status.in_transit', retired: 'admin.status.retired',
};
const MODE_WORDS = { home: 'admin.mode.home', station: 'admin.mode.station' };

/** A device kind in words. */
export const kindName = (k) => (KIND_WORDS[k] ? t(KIND_WORDS[k]) : k);
/** A device status in words. */
export const statusName = (s) => (STATUS_WORDS[s] ? t(STATUS_WORDS[s]) : s);
/** A device mode in words. */
export const modeName = (m) => (MODE_WORDS[m] ? t(MODE_WORDS[m]) : m);

// A number typed in a text input: the number, 0 for nothing, or what was typed when it is not
// one, so that the API names the field.
function num(v) {
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

// A Go duration as the API gives it ("10m0s", "1h0m0s") in its short form ("10m", "1h").
const shortDuration = (d) => (d || '').replace(/(\d[hm])0s$/, '$1').replace(/(\d)h0m$/, '$1h');

// Care plans, one a line.
const lines = (v) => (v || '').split('\n').map((s) => s.trim()).filter(Boolean);

/**
 * The kinds. Each has: path (of the API), the words of its titles, columns (of the list: [words,
 * cell(item, names)]), filters (the list's query parameters, each a select), fields(item, ctx)
 * (the form's; item is undefined for a new one; ctx has sites, teams and the site's zone), and
 * body(values, item, ctx) (the JSON the API takes: all fields for a new one, the changeable
 * fields for a change).
 */
export const KINDS = {
  sites: {
    path: '/sites',
    title: 'admin.sites.title', one: 'admin.sites.one', create: 'admin.sites.create', created: 'admin.sites.created',
    columns: [
      [() => t('admin.field.id'), (s) => s.id, true],
      [() => t('admin.field.name'), (s) => s.name],
      [() => t('admin.field.district'), (s) => s.district],
      [() => t('admin.field.time_zone'), (s) => s.time_zone],
    ],
    filters: () => [],
    fields: (s) => [
      { name: 'id', label: t('admin.field.id'), value: s && s.id, required: true, readonly: !!s, hint: s ? t('admin.hint.id_fixed') : t('admin.hint.id'), maxlength: 64 },
      { name: 'name', label: t('admin.field.name'), value: s && s.name, required: true },
      { name: 'district', label: t('admin.field.district'), value: s && s.district },
      { name: 'address', label: t('admin.field.address'), value: s && s.address },
      { name: 'lat', label: t('admin.field.lat'), value: s ? String(s.lat) : '', inputmode: 'decimal', hint: t('admin.hint.lat') },
      { name: 'lon', label: t('admin.field.lon'), value: s ? String(s.lon) : '', inputmode: 'decimal', hint: t('admin.hint.lon') },
      { name: 'time_zone', label: t('admin.field.time_zone'), value: s ? s.time_zone : 'Asia/Shanghai', list: 'admin-zones', hint: t('admin.hint.time_zone') },
      { name: 'opening_hours', label: t('admin.field.opening_hours'), value: s && s.opening_hours, hint: t('admin.hint.opening_hours') },
    ],
    extra: () => html`<datalist id="admin-zones">${timeZones().map((z) => html`<option value=${z}></option>`)}</datalist>`,
    body: (v, s) => {
      const b = { name: v.name, district: v.district, address: v.address, lat: num(v.lat), lon: num(v.lon), time_zone: v.time_zone,
        opening_hours: v.opening_hours };
      return s ? b : { id: v.id, ...b };
    },
  },

  teams: {
    path: '/teams',
    title: 'admin.teams.title', one: 'admin.teams.one', create: 'admin.teams.create', created: 'admin.teams.created',
    columns: [
      [() => t('admin.field.id'), (x) => x.id, true],
      [() => t('admin.field.name'), (x) => x.name],
      [() => t('admin.field.site'), (x, n) => n.site(x.site)],
      [() => t('admin.field.ack_within'), (x) => shortDuration(x.ack_within) || t('admin.default')],
    ],
    filters: (c) => [{ name: 'site', label: t('admin.field.site'), options: c.sites.map((s) => [s.id, s.name || s.id]) }],
    fields: (x, c) => [
      { name: 'id', label: t('admin.field.id'), value: x && x.id, required: true, readonly: !!x, hint: x ? t('admin.hint.id_fixed') : t('admin.hint.id'), maxlength: 64 },
      { name: 'name', label: t('admin.field.name'), value: x && x.name, required: true },
      { name: 'site', label: t('admin.field.site'), type: 'select', value: x ? x.site : c.query.get('site') || '', required: true,
        blank: t('admin.choose'), options: c.sites.map((s) => [s.id, `${s.name || s.id} (${s.id})`]) },
      { name: 'ack_within', label: t('admin.field.ack_within'), value: x && shortDuration(x.ack_within), placeholder: '15m', hint: t('admin.hint.ack_within') },
    ],
    body: (v, x) => {
      const b = { name: v.name, site: v.site, ack_within: v.ack_within };
      return x ? b : { id: v.id, ...b };
    },
  },

  patients: {
    path: '/patients',
    title: 'admin.patients.title', one: 'admin.patients.one', create: 'admin.patients.create', created: 'admin.patients.created',
    columns: [
      [() => t('admin.field.id'), (p) => p.id, true],
      [() => t('admin.field.team'), (p, n) => n.team(p.team)],
      [() => t('admin.field.plans'), (p) => (p.plans && p.plans.length ? p.plans.join('; ') : '—')],
      [() => t('admin.field.birth_year'), (p) => p.birth_year || '—'],
    ],
    filters: (c) => [{ name: 'team', label: t('admin.field.team'), options: c.teams.map((x) => [x.id, x.name || x.id]) },
      { name: 'site', label: t('admin.field.site'), options: c.sites.map((s) => [s.id, s.name || s.id]) }],
    fields: (p, c) => [
      { name: 'id', label: t('admin.field.id'), value: p && p.id, required: true, readonly: !!p, hint: p ? t('admin.hint.id_fixed') : t('admin.hint.patient_id'), maxlength: 64 },
      p ? { name: 'team', label: t('admin.field.team'), value: p.team, readonly: true, hint: t('admin.hint.team_by_transfer') }
        : { name: 'team', label: t('admin.field.team'), type: 'select', value: c.query.get('team') || '', required: true, blank: t('admin.choose'),
          options: c.teams.map((x) => [x.id, `${x.name || x.id} (${x.id})`]) },
      { name: 'plans', label: t('admin.field.plans'), type: 'textarea', value: p && p.plans ? p.plans.join('\n') : '', hint: t('admin.hint.plans') },
      { name: 'birth_year', label: t('admin.field.birth_year'), value: p && p.birth_year ? String(p.birth_year) : '', inputmode: 'numeric', hint: t('admin.hint.birth_year') },
    ],
    body: (v, p) => {
      const by = v.birth_year === '' ? (p ? null : undefined) : num(v.birth_year);
      const b = { plans: lines(v.plans), birth_year: by };
      return p ? b : { id: v.id, team: v.team, ...b };
    },
  },

  devices: {
    path: '/devices',
    title: 'admin.devices.title', one: 'admin.devices.one', create: 'admin.devices.create', created: 'admin.devices.created',
    columns: [
      [() => t('admin.field.id'), (d) => d.id, true],
      [() => t('admin.field.kind'), (d) => kindName(d.kind)],
      [() => t('admin.field.site'), (d, n) => n.site(d.site)],
      [() => t('admin.field.mode'), (d) => modeName(d.mode)],
      [() => t('admin.field.status'), (d) => statusName(d.status)],
    ],
    filters: (c) => [
      { name: 'site', label: t('admin.field.site'), options: c.sites.map((s) => [s.id, s.name || s.id]) },
      { name: 'kind', label: t('admin.field.kind'), options: DEVICE_KINDS.map((k) => [k, kindName(k)]) },
      { name: 'status', label: t('admin.field.status'), options: DEVICE_STATUSES.map((s) => [s, statusName(s)]) },
    ],
    fields: (d, c) => {
      const tz = c.zoneOf(d ? d.site : '');
      return [
        { name: 'id', label: t('admin.field.id'), value: d && d.id, required: true, readonly: !!d, hint: d ? t('admin.hint.id_fixed') : t('admin.hint.device_id'), maxlength: 64 },
        { name: 'kind', label: t('admin.field.kind'), type: 'select', value: d ? d.kind : '', required: true, blank: t('admin.choose'),
          options: DEVICE_KINDS.map((k) => [k, kindName(k)]) },
        { name: 'site', label: t('admin.field.site'), type: 'select', value: d ? d.site : c.query.get('site') || '', required: true, blank: t('admin.choose'),
          options: c.sites.map((s) => [s.id, `${s.name || s.id} (${s.id})`]), readonly: d && d.status === 'in_transit' },
        { name: 'mode', label: t('admin.field.mode'), type: 'select', value: d ? d.mode : 'home', required: true,
          options: [['home', modeName('home')], ['station', modeName('station')]] },
        { name: 'status', label: t('admin.field.status'), type: 'select', value: d ? d.status : 'active',
          options: DEVICE_STATUSES.filter((s) => s !== 'in_transit' || (d && d.status === s)).map((s) => [s, statusName(s)]),
          readonly: d && d.status === 'in_transit', hint: d && d.status === 'in_transit' ? t('admin.hint.in_transit') : '' },
        { name: 'rated_uses_per_day', label: t('admin.field.rated_uses_per_day'), value: d ? String(d.rated_uses_per_day || '') : '',
          inputmode: 'numeric', hint: t('admin.hint.rated_uses_per_day') },
        { name: 'model', label: t('admin.field.model'), value: d && d.model },
        { name: 'serial', label: t('admin.field.serial'), value: d && d.serial },
        { name: 'firmware', label: t('admin.field.firmware'), value: d && d.firmware },
        { name: 'next_calibration', label: t('admin.field.next_calibration'), type: 'date', value: d ? isoToLocalDate(d.next_calibration, tz) : '',
          hint: t('admin.hint.date_in_zone') },
        { name: 'in_service', label: t('admin.field.in_service'), type: 'date', value: d ? isoToLocalDate(d.in_service, tz) : '',
          hint: t('admin.hint.in_service') },
      ];
    },
    body: (v, d, c) => {
      const tz = c.zoneOf(v.site || (d && d.site));
      const b = { kind: v.kind, mode: v.mode, status: v.status || undefined, model: v.model, serial: v.serial,
        firmware: v.firmware, rated_uses_per_day: num(v.rated_uses_per_day) };
      if (!(d && d.status === 'in_transit')) b.site = v.site;
      else delete b.status;
      if (v.next_calibration) b.next_calibration = localToISO(v.next_calibration, tz);
      if (v.in_service) b.in_service = localToISO(v.in_service, tz);
      return d ? b : { id: v.id, ...b };
    },
  },
};

export { nothing };
