// The registry's teams and sites, read once per page load from the API (every role may read
// them): names, each team's site and response target (ack_within), each site's time zone.
import * as api from './api.js';
import { boot } from './boot.js';
import { goDuration } from './format.js';

const teams = new Map();
const sites = new Map();
let loading = null;

/** Loads the teams and sites, once; later calls wait for the same load. */
export function load() {
  if (!loading) {
    loading = Promise.all([
      api.all('/teams', { limit: 1000 }, { cursor: 'after' }),
      api.all('/sites', { limit: 1000 }, { cursor: 'after' }),
    ]).then(([ts, ss]) => {
      for (const x of ts) teams.set(x.id, x);
      for (const x of ss) sites.set(x.id, x);
    }).catch((e) => {
      loading = null;
      throw e;
    });
  }
  return loading;
}

/** The team of id, or undefined. */
export const team = (id) => teams.get(id);
/** The site of id, or undefined. */
export const site = (id) => sites.get(id);
/** Every team, by id. */
export const allTeams = () => [...teams.values()].sort((a, b) => a.id.localeCompare(b.id));
/** Every site, by id. */
export const allSites = () => [...sites.values()].sort((a, b) => a.id.localeCompare(b.id));

/** The time zone of an alert: its team's site's, or its site's; '' when unknown. */
export function zoneOf(alert) {
  const t = alert.team ? teams.get(alert.team) : undefined;
  const s = sites.get(t ? t.site : alert.site);
  return s && s.time_zone ? s.time_zone : '';
}

/** The response target of an alert's team, in seconds: its ack_within or the server's default. */
export function targetSeconds(alert) {
  const t = alert.team ? teams.get(alert.team) : undefined;
  return (t && goDuration(t.ack_within)) || boot.escalate_after_seconds || 0;
}

/** The name of a team or a site for an alert: "Team 1 · Hongpailou centre". */
export function placeOf(alert) {
  const t = alert.team ? teams.get(alert.team) : undefined;
  const s = sites.get(t ? t.site : alert.site);
  return [t ? t.name || t.id : '', s ? s.name || s.id : alert.site || ''].filter(Boolean).join(' · ');
}
