// The placeholder of a page not built yet: its title and a sentence saying so. The engineer who
// builds the page replaces the module that uses this (see docs/web.md).
import { html, render } from '../lit.js';
import { t } from '../i18n.js';

/** Mounts a placeholder titled by the message key title. */
export function placeholder(root, title) {
  render(html`<section class="page"><h1>${t(title)}</h1>
    <p class="notice">${t('notbuilt.text')}</p></section>`, root);
}
