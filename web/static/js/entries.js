// Deleting a list entry (a link backup or a policy rule) after the user
// confirms, then showing the page again. Apart from modal.js, so that the
// dialogs do not depend on the router, which closes them.

import { api } from './api.js';
import { notify } from './dom.js';
import { confirmDialog } from './modal.js';
import { route } from './router.js';

export async function del(list, id, question) {
  if (!(await confirmDialog('Delete', question))) return;
  try {
    await api('DELETE', `config/${list}/${id}`);
    notify('Deleted; configuration has been applied.');
  } catch (e) {
    if (e.status === 401) return;
    const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors.map(x => (x.field ? x.field + ': ' : '') + x.message).join('; ') : '';
    notify('Not deleted: ' + (errs || e.message), 'error');
  }
  route();
}
