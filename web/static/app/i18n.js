// Messages in the page's language. Every word on screen comes from web/i18n/<lang>.json through
// t(key, params): write t('nav.inbox') with the key as a literal where you can, so that the
// catalogue test finds it; a key built at run time (t('rule.' + id)) needs a test of its own that
// every value has an entry (see web/i18n_test.go).
import { boot } from './boot.js';

/** The page's language, such as "en" or "zh-CN". */
export const lang = boot.lang || 'en';

const messages = boot.messages || {};

/**
 * The message of key in the page's language, with {name} replaced by params.name. A missing
 * key shows as the key itself, so that it is seen and fixed.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 */
export function t(key, params) {
  const m = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
  if (!params) return m;
  return m.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

/** Whether the catalogue has key. */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(messages, key);
}

/** The languages the app speaks: [{code, name}]. */
export const languages = boot.languages || [];

/** Switches the language: the vw_lang cookie, which the server reads, then a reload. */
export function setLanguage(code) {
  document.cookie = `vw_lang=${encodeURIComponent(code)}; Path=/; Max-Age=31536000; SameSite=Strict`;
  location.reload();
}
