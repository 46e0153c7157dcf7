// Link Backup: backup entries and their schedules.

import { api, getConfig } from '../api.js';
import { button, checkbox, h, input, labelled, notify, pageHead, radio, row, section, table, trow, txt } from '../dom.js';
import { Form, checked, entryResolver, submit, wanChecks } from '../form.js';
import { DAYS, effectiveTime, normDays, wanName } from '../format.js';
import { del } from '../entries.js';
import { editDialog } from '../modal.js';
import { gen, route } from '../router.js';
import { V, defaults } from '../validate.js';

export async function pageLinkBackup(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const cols = [
    { title: 'ID', cls: 'id' }, { title: 'Name' }, { title: 'Primary WAN' }, { title: 'Backup WAN' }, { title: 'Mode' },
    { title: 'Effective Time' }, { title: 'Status' }, { title: 'Operation', cls: 'ops' },
  ];
  const names = list => (list || []).map(n => wanName(cfg, n)).join(', ') || '—';
  const rows = cfg.link_backups.map(e => trow(cols, [
    String(e.id + 1),
    e.name || '—',
    names(e.primary),
    names(e.backup),
    e.mode === 'timing' ? 'Timing'
      : [txt('span', '', 'Failover'), txt('small', 'muted d-block', (e.trigger === 'all' ? 'all primary WANs fail' : 'any primary WAN fails') + (e.revert ? '; reverts' : '; stays on backup'))],
    effectiveTime(e),
    txt('span', 'label ' + (e.enabled ? 'success' : ''), e.enabled ? 'Enabled' : 'Disabled', { 'data-testid': 'lb-status-' + e.id }),
    h('div', { class: 'btns' },
      button('Edit', 'cbi-button-edit', { id: 'lb-edit-' + e.id, onclick: () => editLinkBackup(cfg, e.id) }),
      button('Delete', 'cbi-button-remove', { id: 'lb-delete-' + e.id, onclick: () => del('link_backups', e.id, `Delete link backup entry ${e.id + 1}${e.name ? ' “' + e.name + '”' : ''}?`) })),
  ], { 'data-testid': 'lb-row-' + e.id, class: 'tr' + (e.enabled ? '' : ' disabled') }));
  main.replaceChildren(
    ...pageHead('Link Backup', 'Keep backup WAN ports in reserve: they carry traffic only when the primary WAN ports fail (Failover) or during a set time (Timing). Outside its effective time an entry does nothing and its backup WANs are ordinary WAN ports.'),
    section('Link Backup Rule List',
      table(cols, rows, 'This section contains no values yet', { id: 'lb-table' }),
      h('div', { class: 'cbi-section-create' }, button('Add', 'cbi-button-add', { id: 'lb-add', onclick: () => editLinkBackup(cfg, null) }))));
}

export function editLinkBackup(cfg, id) {
  const e = id == null
    ? defaults(cfg.schema, 'link_backup')
    : cfg.link_backups[id];
  const form = new Form();
  const name = form.add('name', input('lbe-name', e.name, { maxlength: 64 }));
  const enabled = form.add('enabled', checkbox('lbe-enabled', e.enabled));
  const primary = form.add('primary', wanChecks(cfg, 'lbe-primary', e.primary, 'Primary WAN'));
  const backup = form.add('backup', wanChecks(cfg, 'lbe-backup', e.backup, 'Backup WAN'));
  const modeGroup = form.add('mode', h('div', { class: 'field-group', role: 'radiogroup', 'aria-label': 'Mode' },
    radio('lbe-mode', 'lbe-mode-timing', 'timing', e.mode === 'timing', 'Timing'),
    radio('lbe-mode', 'lbe-mode-failover', 'failover', e.mode !== 'timing', 'Failover')));
  const trigger = form.add('trigger', h('div', { class: 'field-group vertical', role: 'radiogroup', 'aria-label': 'Failover condition' },
    radio('lbe-trigger', 'lbe-trigger-any', 'any', e.trigger !== 'all', 'Enable backup link when any primary WAN fails'),
    radio('lbe-trigger', 'lbe-trigger-all', 'all', e.trigger === 'all', 'Enable backup link when all primary WANs fail')));
  const revert = form.add('revert', checkbox('lbe-revert', e.revert));
  const days = normDays(e.weekdays);
  const allDay = checkbox('lbe-allday', !days.length && !e.start_time && !e.stop_time);
  const dayGroup = form.add('weekdays', h('div', { class: 'field-group', id: 'lbe-days', role: 'group', 'aria-label': 'Days' },
    DAYS.map(d => labelled(checkbox('lbe-day-' + d, days.includes(d), { value: d }), d))));
  const start = form.add('start_time', input('lbe-start', e.start_time, { placeholder: 'HH:MM', size: 6, maxlength: 5 }));
  const stop = form.add('stop_time', input('lbe-stop', e.stop_time, { placeholder: 'HH:MM', size: 6, maxlength: 5 }));

  const failoverRows = [
    row('Failover Condition', trigger),
    row('Revert to primary when it recovers', revert, 'Off: once the backup WAN took over it keeps the traffic until it fails itself.'),
  ];
  failoverRows.forEach(r => r.classList.add('lbe-failover'));
  const timeRows = [
    row('Days', dayGroup, 'None checked: every day.'),
    row('Start Time', start, 'HH:MM, router local time. Both empty: the whole day.'),
    row('Stop Time', stop, 'A stop time before the start time runs over midnight: Fri 22:00-06:00 is Friday night until Saturday 06:00.'),
  ];
  const modeHelp = txt('div', 'cbi-value-description');
  const sync = () => {
    const timing = modeGroup.querySelector('input:checked').value === 'timing';
    failoverRows.forEach(r => { r.hidden = timing; });
    timeRows.forEach(r => { r.hidden = allDay.checked; });
    modeHelp.textContent = timing
      ? 'Timing: inside the effective time the backup WANs carry the primary WANs\' traffic, as long as a backup WAN is online.'
      : 'Failover: the backup WANs carry traffic while the primary WANs fail, together with the primary WANs that still work.';
  };
  const modeRow = row('Mode', modeGroup);
  modeRow.querySelector('.cbi-value-field').append(modeHelp);

  const body = h('div', { class: 'cbi-section-node', id: 'lbe-form' },
    row('Name', name),
    row('Status', labelled(enabled, 'Enable')),
    row('Primary WAN', primary, 'The WAN ports this entry protects.'),
    row('Backup WAN', backup, 'Held in reserve; a WAN port cannot be both primary and backup.'),
    modeRow,
    failoverRows,
    row('Effective Time', labelled(allDay, 'All day'), 'All day: the entry is always in effect. Otherwise choose days and a time range.'),
    timeRows);
  body.addEventListener('change', sync);
  sync();

  const validate = () => {
    const errs = [];
    const p = checked(primary), b = checked(backup);
    if (!p.length) errs.push({ key: 'primary', message: 'needs at least one primary WAN' });
    if (!b.length) errs.push({ key: 'backup', message: 'needs at least one backup WAN' });
    const both = b.filter(x => p.includes(x));
    if (both.length) errs.push({ key: 'backup', message: `${both.map(x => wanName(cfg, x)).join(', ')}: is also a primary WAN of this entry` });
    if (!allDay.checked) {
      const s = start.value.trim(), t = stop.value.trim();
      const sm = s ? V.clock(s) : null, tm = t ? V.clock(t) : null;
      if (typeof sm === 'string' || sm === 1440) errs.push({ key: 'start_time', message: 'must be HH:MM between 00:00 and 23:59' });
      if (typeof tm === 'string') errs.push({ key: 'stop_time', message: tm });
      if (s && t && sm === tm) errs.push({ key: 'stop_time', message: 'equals the start time; check All day instead' });
    }
    return errs;
  };
  const save = async btn => {
    const errs = validate();
    if (errs.length) { form.show(errs); return false; }
    const entry = {
      enabled: enabled.checked, name: name.value.trim(),
      primary: checked(primary), backup: checked(backup),
      mode: modeGroup.querySelector('input:checked').value,
      trigger: trigger.querySelector('input:checked').value,
      revert: revert.checked,
      weekdays: allDay.checked ? '' : checked(dayGroup).join(' '),
      start_time: allDay.checked ? '' : start.value.trim(),
      stop_time: allDay.checked ? '' : stop.value.trim(),
    };
    const ok = await submit(form, btn,
      () => (id == null ? api('POST', 'config/link_backups', entry) : api('PUT', 'config/link_backups/' + id, entry)),
      entryResolver('link_backups', id, cfg.link_backups.length));
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(id == null ? 'Add Link Backup Entry' : `Edit Link Backup Entry ${id + 1}`, form, body, save);
}
