// Load Balancing: weights and bandwidths.

import { api, getConfig } from '../api.js';
import { button, checkbox, h, input, notify, pageHead, row, section, setDirty, table, trow, txt } from '../dom.js';
import { Form, parseField, submit } from '../form.js';
import { fmtPct, wanLabel } from '../format.js';
import { gen, route } from '../router.js';
import { V, span } from '../validate.js';

export async function pageLoadBalancing(main, g) {
  const cfg = await getConfig();
  if (g !== gen) return;
  const gl = cfg.globals;
  const form = new Form();
  form.box.id = 'form-errors';
  const en = form.add('load_balancing', checkbox('lb-enabled', gl.load_balancing));
  const app = form.add('app_optimized', checkbox('lb-app-optimized', gl.app_optimized));
  const bw = form.add('bandwidth_based', checkbox('lb-bandwidth-based', gl.bandwidth_based));
  const bwPorts = h('span', { id: 'lb-bandwidth-ports', class: 'bw-ports' });

  const cols = [
    { title: 'Port' }, { title: 'Load Balancing Weight' }, { title: 'Upstream Bandwidth' },
    { title: 'Downstream Bandwidth' }, { title: 'Expected Share', cls: 'share' },
  ];
  const unit = (inp, u) => h('div', { class: 'input-group' }, inp, txt('span', 'input-unit', u));
  const rows = cfg.wans.map(w => {
    const r = {
      w,
      weight: form.add(w.name + '.weight', input('lb-weight-' + w.name, w.weight, { inputmode: 'numeric', size: 5, 'aria-label': `Load Balancing Weight of ${wanLabel(w)}` })),
      up: form.add(w.name + '.upstream', input('lb-upstream-' + w.name, w.upstream, { inputmode: 'numeric', size: 9, 'aria-label': `Upstream Bandwidth of ${wanLabel(w)}` })),
      down: form.add(w.name + '.downstream', input('lb-downstream-' + w.name, w.downstream, { inputmode: 'numeric', size: 9, 'aria-label': `Downstream Bandwidth of ${wanLabel(w)}` })),
      share: txt('span', '', '', { 'data-testid': 'lb-share-' + w.name }),
    };
    r.tr = trow(cols, [
      [txt('strong', '', wanLabel(w)), w.label && w.label !== w.name ? txt('small', 'muted', ' (' + w.name + ')') : null,
        w.enabled ? null : txt('span', 'label', 'disabled')],
      r.weight, unit(r.up, 'Kbps'), unit(r.down, 'Kbps'), r.share,
    ], { 'data-testid': 'lb-wan-' + w.name, class: 'tr' + (w.enabled ? '' : ' disabled') });
    return r;
  });

  const update = () => {
    const num = s => (Number(s) > 0 ? Number(s) : 0);
    const active = rows.filter(r => r.w.enabled);
    const vals = new Map(active.map(r => [r, bw.checked ? num(r.down.value) : num(r.weight.value)]));
    if (!en.checked && active.length) active.forEach((r, i) => vals.set(r, i === 0 ? 1 : 0));
    const sum = [...vals.values()].reduce((a, b) => a + b, 0);
    for (const r of rows) r.share.textContent = !r.w.enabled ? '—' : sum > 0 ? fmtPct((vals.get(r) / sum) * 100) : '—';
    const ports = rows.filter(r => num(r.down.value) > 0).map(r => wanLabel(r.w));
    bwPorts.textContent = ports.length ? ports.join(', ') : 'none: set the Downstream Bandwidth of the WAN ports below';
    bwPorts.classList.toggle('muted', !bw.checked);
  };
  update();

  const validate = () => {
    const errs = [];
    for (const r of rows) {
      const n = r.w.name;
      for (const [key, el] of [['weight', r.weight], ['upstream', r.up], ['downstream', r.down]]) {
        if (key !== 'weight' && el.value.trim() === '') el.value = '0';
        const m = V.option(cfg.schema, 'wan', key, el.value);
        if (m) errs.push({ key: `${n}.${key}`, message: m });
      }
      if (bw.checked && r.w.enabled && !V.option(cfg.schema, 'wan', 'downstream', r.down.value) && Number(r.down.value) === 0) {
        errs.push({ key: n + '.downstream', message: 'must be set when Bandwidth Based Balance Routing is on (shares follow each WAN\'s downstream)' });
      }
    }
    return errs;
  };
  const resolve = field => {
    const p = parseField(field);
    if (!p) return null;
    if (p.list === 'globals' || !p.option) return p.option || p.list;
    const w = p.list === 'wans' && p.index != null ? cfg.wans[p.index] : cfg.wans.find(x => x.name === p.list);
    return w ? `${w.name}.${p.option}` : null;
  };

  const saveBtn = button('Save & Apply', 'cbi-button-apply', { id: 'save-apply' });
  const resetBtn = button('Reset', 'cbi-button-reset', { id: 'reset', onclick: () => route() });
  saveBtn.addEventListener('click', async () => {
    const errs = validate();
    if (errs.length) { form.show(errs); return; }
    form.clear();
    const body = {
      load_balancing: en.checked, app_optimized: app.checked, bandwidth_based: bw.checked,
      wans: rows.map(r => ({ name: r.w.name, weight: Number(r.weight.value), upstream: Number(r.up.value), downstream: Number(r.down.value) })),
    };
    if (await submit(form, saveBtn, () => api('PUT', 'config/load_balancing', body), resolve)) {
      notify('Configuration has been applied.');
      route();
    }
  });

  const wrap = h('div', { class: 'cbi-map', id: 'load-balancing-form' },
    ...pageHead('Load Balancing', 'Spread new connections over the WAN ports. Each connection keeps the WAN port it started on.'),
    form.box,
    section('General',
      row('Enable Load Balancing', en, 'On: new connections are shared among all online WAN ports. Off: the first usable WAN port carries all traffic; the others serve Link Backup and Policy Routing.')),
    section('Basic Settings',
      row('Enable Application Optimized Routing', app, 'Makes multi-connected applications work properly: connections between the same source and destination addresses always use the same WAN port (online banking, games, video calls that check your address).'),
      row('Enable Bandwidth Based Balance Routing on port(s)', h('div', { class: 'field-group-wrap' }, bw, ' ', bwPorts), [
        'The WAN port traffic ratio will be equal to the preset bandwidth ratio of each WAN port: with a downstream bandwidth ratio of 2:1 the WAN ports carry about 2:1 of the traffic.',
        'Configure the bandwidth of each WAN port first: every enabled WAN port needs its Downstream Bandwidth. When off, the Load Balancing Weight sets the ratio.',
      ])),
    section('WAN Ports',
      txt('p', 'cbi-section-descr', `Load Balancing Weight: ${span(cfg.schema, 'wan', 'weight')}, the share of new connections among the online WAN ports. Upstream and Downstream Bandwidth: ${span(cfg.schema, 'wan', 'downstream')} Kbps (0: not set).`),
      table(cols, rows.map(r => r.tr), 'No WAN ports are configured.', { id: 'lb-wans' }),
      h('div', { class: 'cbi-section-note', 'data-testid': 'lb-note' },
        txt('strong', '', 'Note: '),
        txt('span', '', 'Load balancing works per connection, not per packet. A single download or speed test uses one WAN port and is never faster than that port; many connections together (several downloads, several devices) use all WAN ports, so the total bandwidth is their sum.'))),
    h('div', { class: 'cbi-page-actions' }, saveBtn, resetBtn));
  wrap.addEventListener('input', () => { update(); setDirty(true); form.clear(); });
  wrap.addEventListener('change', () => { update(); setDirty(true); });
  main.replaceChildren(wrap);
}
