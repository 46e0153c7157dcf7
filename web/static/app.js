// wanlb web UI: a single-page app in the look of LuCI's bootstrap theme,
// with Omada's labels. Native ES modules, no framework, no build step:
// js/ holds the shared parts (DOM helpers, API, router, forms, dialogs),
// js/pages/ one module per page. This module wires them up.

import { api, state, whenSessionLost } from './js/api.js';
import { pageLinkBackup } from './js/pages/link-backup.js';
import { pageOnlineDetection } from './js/pages/online-detection.js';
import { pageLoadBalancing } from './js/pages/load-balancing.js';
import { logout, pageLogin } from './js/pages/login.js';
import { pagePolicyRouting } from './js/pages/policy-routing.js';
import { refreshHostname, route, routes, sessionLost } from './js/router.js';
import { pageStatus } from './js/pages/status.js';

Object.assign(routes, {
  'status': { title: 'Status', render: pageStatus },
  'load-balancing': { title: 'Load Balancing', render: pageLoadBalancing },
  'link-backup': { title: 'Link Backup', render: pageLinkBackup },
  'online-detection': { title: 'Online Detection', render: pageOnlineDetection },
  'policy-routing': { title: 'Policy Routing', render: pagePolicyRouting },
  'login': { title: 'Log in', render: pageLogin },
});

async function boot() {
  whenSessionLost(sessionLost);
  const header = document.getElementById('header');
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const open = header.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  try {
    const s = await api('GET', 'session');
    state.csrf = s.csrf_token || '';
    state.user = s.username || '';
  } catch (e) { /* not logged in */ }
  if (state.csrf) refreshHostname();
  route();
}

boot();
