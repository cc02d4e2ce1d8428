// Signing in: username and password to POST /api/v1/login, which sets the session cookie. A
// wrong password and an unknown user get the same answer; after too many failures the API
// answers 429 with how long to wait, which is shown.
import { html, render, nothing } from '../lit.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { homeOf } from '../routes.js';
import { fieldError, invalid, formError, values } from '../forms.js';

export function mount(root, ctx) {
  let err = null;
  let busy = false;
  const next = ctx.query.get('next') || '';
  const expired = ctx.query.get('expired') === '1';

  async function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    const v = values(ev.target);
    busy = true;
    err = null;
    draw();
    try {
      const user = await api.post('/login', { username: v.username, password: ev.target.password.value }, { quiet401: true });
      session.set(user);
      ctx.go(next.startsWith('/app/') ? next : homeOf(user.role), { replace: true });
      return;
    } catch (e) {
      err = e;
    }
    busy = false;
    draw();
    const pw = root.querySelector('#signin-password');
    if (pw) pw.select();
  }

  function message() {
    if (!err) return nothing;
    if (err.status === 429) {
      const m = Math.max(1, Math.ceil(err.retryAfter / 60));
      return html`<p class="form-error" role="alert"><span aria-hidden="true">⚠</span> ${t('signin.wait', { m })}</p>`;
    }
    if (err.status === 401) {
      return html`<p class="form-error" role="alert"><span aria-hidden="true">⚠</span> ${t('signin.wrong')}</p>`;
    }
    return formError(err, ['username', 'password']);
  }

  function draw() {
    render(html`
      <section class="page page-narrow signin">
        <h1>${t('signin.title')}</h1>
        ${expired ? html`<p class="notice">${t('signin.expired')}</p>` : nothing}
        <form class="form" @submit=${submit} novalidate>
          <div class="field">
            <label for="signin-username">${t('signin.username')}</label>
            <input id="signin-username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false"
              required aria-invalid=${invalid('username', err)} aria-describedby="signin-username-error">
            ${fieldError('signin', 'username', err)}
          </div>
          <div class="field">
            <label for="signin-password">${t('signin.password')}</label>
            <input id="signin-password" name="password" type="password" autocomplete="current-password" required
              aria-invalid=${invalid('password', err)} aria-describedby="signin-password-error">
            ${fieldError('signin', 'password', err)}
          </div>
          ${message()}
          <button class="btn btn-primary" type="submit" ?disabled=${busy}>${busy ? t('signin.busy') : t('signin.button')}</button>
        </form>
      </section>`, root);
  }

  if (session.current()) {
    ctx.go(homeOf(session.current().role), { replace: true });
    return;
  }
  draw();
  root.querySelector('#signin-username').focus();
}
