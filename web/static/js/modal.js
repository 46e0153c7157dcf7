// Modal dialogs: entry editors and confirmations.

import { button, h, txt } from './dom.js';

export let modalKeys = null;

export function closeModal() {
  document.getElementById('modal-root').replaceChildren();
  document.body.classList.remove('modal-open');
  if (modalKeys) document.removeEventListener('keydown', modalKeys);
  modalKeys = null;
}

export function openModal(box, onEscape) {
  closeModal();
  const overlay = h('div', { class: 'modal-overlay', id: 'modal' }, box);
  document.getElementById('modal-root').append(overlay);
  document.body.classList.add('modal-open');
  modalKeys = ev => { if (ev.key === 'Escape') onEscape(); };
  document.addEventListener('keydown', modalKeys);
  const first = box.querySelector('input:not([type=hidden]), select, textarea, button.cbi-button-apply, button.cbi-button-remove');
  if (first) first.focus();
}

// editDialog shows an entry editor; save() does the write and returns
// whether it worked.
export function editDialog(title, form, body, save) {
  const ok = h('button', { type: 'submit', class: 'cbi-button cbi-button-apply', id: 'dialog-save', text: 'Save & Apply' });
  const cancel = button('Dismiss', '', { id: 'dialog-cancel', onclick: closeModal });
  const box = h('form', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'dialog-title', novalidate: true, 'data-testid': 'dialog' },
    txt('h4', '', title, { id: 'dialog-title' }),
    form.box,
    h('div', { class: 'modal-body' }, body),
    h('div', { class: 'modal-actions' }, cancel, ok));
  form.box.id = 'dialog-errors';
  box.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (await save(ok)) closeModal();
  });
  openModal(box, closeModal);
}

export function confirmDialog(title, text, okText) {
  return new Promise(resolve => {
    const done = v => { closeModal(); resolve(v); };
    const box = h('div', { class: 'modal modal-small', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'dialog-title', 'data-testid': 'confirm' },
      txt('h4', '', title, { id: 'dialog-title' }),
      txt('p', '', text),
      h('div', { class: 'modal-actions' },
        button('Cancel', '', { id: 'confirm-cancel', onclick: () => done(false) }),
        button(okText || 'Delete', 'cbi-button-remove', { id: 'confirm-ok', onclick: () => done(true) })));
    openModal(box, () => done(false));
  });
}
