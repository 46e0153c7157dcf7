// Login and logout.

import { api, state } from '../api.js';
import { alertBox, h, input, row, section, txt } from '../dom.js';
import { go, refreshHostname } from '../router.js';

export async function pageLogin(main) {
  const user = input('login-username', 'root', { autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', required: true });
  const pass = input('login-password', '', { type: 'password', autocomplete: 'current-password' });
  const err = alertBox('error', null, { id: 'login-error', hidden: true });
  const submitBtn = h('button', { type: 'submit', id: 'login-submit', class: 'cbi-button cbi-button-apply', text: 'Log in' });
  const reset = h('button', { type: 'reset', id: 'login-reset', class: 'cbi-button', text: 'Reset' });
  const form = h('form', { id: 'login-form', class: 'login', novalidate: true },
    txt('h2', '', 'Authorization Required', { id: 'page-title' }),
    err,
    section('',
      txt('p', 'cbi-map-descr', 'Please enter your username and password.'),
      row('Username', user),
      row('Password', pass)),
    h('div', { class: 'cbi-page-actions' }, submitBtn, reset));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.hidden = true;
    submitBtn.disabled = true;
    submitBtn.classList.add('spinning');
    try {
      const r = await api('POST', 'login', { username: user.value.trim(), password: pass.value });
      state.csrf = r.csrf_token;
      state.user = r.username || user.value.trim();
      const to = state.wantRoute && state.wantRoute !== 'login' ? state.wantRoute : 'status';
      state.wantRoute = '';
      document.getElementById('notice-area').replaceChildren();
      location.hash = '#/' + to;
      refreshHostname();
    } catch (e) {
      err.textContent = e.status === 401 ? 'Invalid username and/or password'
        : e.status === 429 ? 'Too many failed logins; try again in a minute'
          : e.message;
      err.dataset.status = String(e.status);
      err.hidden = false;
      pass.value = '';
      pass.focus();
    } finally {
      submitBtn.disabled = false;
      submitBtn.classList.remove('spinning');
    }
  });
  main.replaceChildren(form);
  (user.value ? pass : user).focus();
}

export async function logout(ev) {
  ev.preventDefault();
  try { await api('POST', 'logout'); } catch (e) { /* gone anyway */ }
  state.csrf = '';
  state.user = '';
  state.wantRoute = '';
  go('login');
}
