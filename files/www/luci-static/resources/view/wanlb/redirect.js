'use strict';
'require view';
'require uci';
'require fs';

// Network > Multi-WAN (wanlb): wanlb has its own web UI, served by the
// daemon on the port of `wanlb.ui.listen` (default lan:8088). This page
// only leads there. The daemon writes /var/run/wanlb/ui.json while the UI
// runs: {"scheme": "http" or "https", "addresses": ["<ip>:<port>", ...]};
// the UI serves HTTPS only when ui.cert and ui.key (default uhttpd's
// certificate) exist, so the link must say which.

var UI_INFO = '/var/run/wanlb/ui.json';

function listenPort(listen) {
	// '<netifd interface>:<port>' or '<ip>:<port>' ('[v6]:<port>' too)
	var m = String(listen || '').match(/^(.*):(\d+)$/);

	return m ? { host: m[1], port: m[2] } : null;
}

return view.extend({
	load: function() {
		return Promise.all([
			uci.load('wanlb'),
			L.resolveDefault(fs.read(UI_INFO), null)
		]);
	},

	render: function(data) {
		var info = null;

		try { info = JSON.parse(data[1]); } catch (e) { info = null; }

		var listen = L.toArray(uci.get('wanlb', 'ui', 'listen')),
		    enabled = uci.get('wanlb', 'ui', 'enabled') != '0',
		    l = listenPort(listen[0]),
		    port = l ? l.port : '8088',
		    host = window.location.hostname,
		    scheme = (info && info.scheme == 'https') ? 'https' : 'http';

		// An explicit IP address is the only place the UI listens on;
		// an interface name means: the address this page was loaded from.
		if (l && /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:.]+\])$/.test(l.host) &&
		    l.host != '0.0.0.0' && l.host != '[::]')
			host = l.host;
		else if (host.indexOf(':') >= 0)
			host = '[' + host + ']';

		var url = scheme + '://' + host + ':' + port + '/';

		if (!enabled)
			return E('div', { 'class': 'cbi-map' }, [
				E('h2', _('Multi-WAN (wanlb)')),
				E('div', { 'class': 'alert-message warning' },
					_('The wanlb web interface is disabled. Enable it with: uci set wanlb.ui.enabled=1; uci commit wanlb; reload_config'))
			]);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', _('Multi-WAN (wanlb)')),
			E('div', { 'class': 'cbi-map-descr' },
				_('Load balancing, link backup, online detection and policy routing are set up in the wanlb web interface. With the default authentication it accepts the same users and passwords as LuCI.')),
			info ? '' : E('div', { 'class': 'alert-message warning' },
				_('The wanlb web interface is not running: is the wanlb service started? Its log (logread -e wanlb) tells why.')),
			E('p', {}, [
				E('a', {
					'class': 'btn cbi-button cbi-button-action',
					'href': url
				}, _('Open the wanlb web interface')),
				' ',
				E('code', {}, url)
			])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
