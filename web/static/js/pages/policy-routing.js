// Policy Routing: rules, tried in order.

import { api, getConfig } from '../api.js';
import { button, checkbox, h, input, labelled, notify, pageHead, row, section, table, textarea, trow, txt } from '../dom.js';
import { Form, checked, entryResolver, submit, wanChecks } from '../form.js';
import { lines, wanName } from '../format.js';
import { del } from '../entries.js';
import { editDialog } from '../modal.js';
import { gen, route } from '../router.js';
import { V, defaults } from '../validate.js';

export const PROTOS = [['all', 'All'], ['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP'], ['tcpudp', 'TCP+UDP']];
export const PORT_PROTOS = ['tcp', 'udp', 'tcpudp'];

export function protoText(p) {
  return (PROTOS.find(x => x[0] === p) || [0, p])[1];
}

export function matchText(ips, ports) {
  const parts = [];
  parts.push((ips || []).length ? ips.join(', ') : 'Any');
  if (ports) parts.push('port ' + ports);
  return parts.join(' : ');
}

export async function pagePolicyRouting(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const cols = [
    { title: 'ID', cls: 'id' }, { title: 'Name' }, { title: 'Status' }, { title: 'Protocols' }, { title: 'Source' },
    { title: 'Destination' }, { title: 'Interface' }, { title: 'Sort', cls: 'sort' }, { title: 'Operation', cls: 'ops' },
  ];
  const n = cfg.rules.length;
  const rows = cfg.rules.map(r => trow(cols, [
    String(r.id + 1),
    r.name || '—',
    txt('span', 'label ' + (r.enabled ? 'success' : ''), r.enabled ? 'Enabled' : 'Disabled', { 'data-testid': 'pr-status-' + r.id }),
    protoText(r.proto),
    matchText(r.src_ip, r.src_port),
    matchText(r.dest_ip, r.dest_port),
    [txt('span', '', (r.wan || []).map(x => wanName(cfg, x)).join(', ') || '—'),
      txt('small', 'muted d-block', r.fallback ? 'other WANs if down' : 'dropped if down')],
    h('div', { class: 'btns' },
      button('▲', 'cbi-button-up', { id: 'pr-up-' + r.id, title: 'Move up', 'aria-label': 'Move up', disabled: r.id === 0, onclick: () => move(r.id, r.id - 1) }),
      button('▼', 'cbi-button-down', { id: 'pr-down-' + r.id, title: 'Move down', 'aria-label': 'Move down', disabled: r.id === n - 1, onclick: () => move(r.id, r.id + 1) })),
    h('div', { class: 'btns' },
      button('Edit', 'cbi-button-edit', { id: 'pr-edit-' + r.id, onclick: () => editRule(cfg, r.id) }),
      button('Delete', 'cbi-button-remove', { id: 'pr-delete-' + r.id, onclick: () => del('rules', r.id, `Delete policy routing rule ${r.id + 1}${r.name ? ' “' + r.name + '”' : ''}?`) })),
  ], { 'data-testid': 'pr-row-' + r.id, class: 'tr' + (r.enabled ? '' : ' disabled') }));
  main.replaceChildren(
    ...pageHead('Policy Routing', 'Send chosen traffic through chosen WAN ports. Rules are tried from the top; the first rule that matches a new connection decides which WAN ports it may use (balanced by weight). Traffic no rule matches is load balanced over all WAN ports.'),
    section('Policy Routing Rule List',
      table(cols, rows, 'This section contains no values yet', { id: 'pr-table' }),
      h('div', { class: 'cbi-section-create' }, button('Add', 'cbi-button-add', { id: 'pr-add', onclick: () => editRule(cfg, null) }))));
}

export async function move(id, to) {
  try {
    await api('POST', `config/rules/${id}/move`, { to });
    notify('Configuration has been applied.');
  } catch (e) {
    if (e.status === 401) return;
    notify('Not moved: ' + e.message, 'error');
  }
  route();
}

export function editRule(cfg, id) {
  const r = id == null
    ? defaults(cfg.schema, 'rule')
    : cfg.rules[id];
  const form = new Form();
  const name = form.add('name', input('pre-name', r.name, { maxlength: 64 }));
  const enabled = form.add('enabled', checkbox('pre-enabled', r.enabled));
  const proto = form.add('proto', h('select', { id: 'pre-proto', name: 'pre-proto', class: 'cbi-input-select' },
    PROTOS.map(([v, l]) => h('option', { value: v, text: l, selected: r.proto === v }))));
  const srcIP = form.add('src_ip', textarea('pre-src-ip', r.src_ip, { placeholder: 'Any' }));
  const srcPort = form.add('src_port', input('pre-src-port', r.src_port, { placeholder: 'Any' }));
  const destIP = form.add('dest_ip', textarea('pre-dest-ip', r.dest_ip, { placeholder: 'Any' }));
  const destPort = form.add('dest_port', input('pre-dest-port', r.dest_port, { placeholder: 'Any' }));
  const wans = form.add('wan', wanChecks(cfg, 'pre-wan', r.wan, 'Interface'));
  const fallback = form.add('fallback', checkbox('pre-fallback', r.fallback));
  const ipHelp = 'One per line: an IPv4 address (192.168.1.10), a network (192.168.1.0/24) or a range (192.168.1.10-192.168.1.20). Empty: any.';
  const portHelp = "Ports 1-65535: '80', '80 443' or '10000-20000'. Empty: any. Only with TCP, UDP or TCP+UDP.";
  const body = h('div', { class: 'cbi-section-node', id: 'pre-form' },
    row('Name', name),
    row('Status', labelled(enabled, 'Enable')),
    row('Protocols', proto),
    row('Source IP', srcIP, ipHelp),
    row('Source Port', srcPort, portHelp),
    row('Destination IP', destIP, ipHelp),
    row('Destination Port', destPort, portHelp),
    row('Interface', wans, 'The WAN ports this traffic may use; with several, new connections are balanced among them by weight.'),
    row('Use the other WAN port if the current one is down', fallback, 'Off: the traffic is dropped while none of its WAN ports is online.'));
  const validate = () => {
    const errs = [];
    for (const [key, el] of [['src_ip', srcIP], ['dest_ip', destIP]]) {
      for (const a of lines(el.value)) {
        const m = V.addr(a);
        if (m) errs.push({ key, message: `${a}: ${m}` });
      }
    }
    for (const [key, el] of [['src_port', srcPort], ['dest_port', destPort]]) {
      const m = V.ports(el.value);
      if (m) errs.push({ key, message: m });
    }
    if ((srcPort.value.trim() || destPort.value.trim()) && !PORT_PROTOS.includes(proto.value)) {
      errs.push({ key: 'proto', message: 'ports need protocol TCP, UDP or TCP+UDP' });
    }
    if (!checked(wans).length) errs.push({ key: 'wan', message: 'needs at least one WAN' });
    return errs;
  };
  const save = async btn => {
    const errs = validate();
    if (errs.length) { form.show(errs); return false; }
    const rule = {
      enabled: enabled.checked, name: name.value.trim(), proto: proto.value,
      src_ip: lines(srcIP.value), dest_ip: lines(destIP.value),
      src_port: lines(srcPort.value).join(' '), dest_port: lines(destPort.value).join(' '),
      wan: checked(wans), fallback: fallback.checked,
    };
    const ok = await submit(form, btn,
      () => (id == null ? api('POST', 'config/rules', rule) : api('PUT', 'config/rules/' + id, rule)),
      entryResolver('rules', id, cfg.rules.length));
    if (ok) { notify('Configuration has been applied.'); route(); }
    return ok;
  };
  editDialog(id == null ? 'Add Policy Routing Rule' : `Edit Policy Routing Rule ${id + 1}`, form, body, save);
}
