// The browser libraries vendored from npm (static/vendor, copied there by make web), each loaded
// on first use with its style sheet, once. A library is an enhancement: when the build lacks it
// (boot.libraries says which it has) or it fails to load, the page does without.
import { boot } from './boot.js';

const loaded = new Map();

/**
 * The library name (a key of boot.libraries): the module at url, loaded once with the style
 * sheet at css (a <link data-name>), answered as pick makes it of the module; null when the
 * build lacks it or it fails to load.
 * @returns {Promise<any>}
 */
export function library(name, url, css, pick = (m) => m) {
  if (!boot.libraries || !boot.libraries[name]) return Promise.resolve(null);
  if (!loaded.has(name)) {
    loaded.set(name, import(url).then((m) => {
      if (!document.querySelector(`link[data-${name}]`)) {
        const link = document.createElement('link');
        link.rel = 'stylesheet';
        link.href = css;
        link.dataset[name] = '';
        document.head.append(link);
      }
      return pick(m);
    }).catch((e) => { console.error(e); return null; }));
  }
  return loaded.get(name);
}
