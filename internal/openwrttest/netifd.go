package openwrttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Netifd makes the kit's ubusd for network namespace ns (started if it
// is not running) publish network.interface and network.interface.<name>
// through the kit's netifd stand-in, answering from dump: a
// `network.interface dump` reply ({"interface": [...]}, each entry a
// status with its "interface" name). Calling it again replaces the
// answers at once; the stand-in re-reads them on every call, and restarts
// only when the set of names changes.
//
// It returns the directory that processes talking to this ubusd see as
// /run (fw4 in ns does too): ubusd's socket is ubus/ubus.sock in it. The
// kit starts ubusd and the stand-in through fw4's setup, so fw4 runs
// once (`fw4 print`, which changes nothing); in a namespace whose fw4 is
// up, a later ow_fw4 call serves the dump its network config gives again.
func (o *Tools) Netifd(t testing.TB, ns string, dump []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(file, dump, 0o644); err != nil {
		t.Fatal(err)
	}
	// fw4 gets an empty config directory: only its setup matters here.
	out := o.Run(t, `OW_NETIFD_JSON="$3" ow_fw4 "$1" "$2" print >/dev/null && printf '%s' "$OW_STATE_BASE/ns/$1/run"`,
		ns, t.TempDir(), file)
	return strings.TrimSpace(out)
}

// RunDir is the directory processes talking to ns's ubusd (the one fw4 in
// ns uses) see as /run, as Netifd returns it; its ubus/ubus.sock exists
// once ow_fw4_up or Netifd ran for ns.
func (o *Tools) RunDir(t testing.TB, ns string) string {
	t.Helper()
	return strings.TrimSpace(o.Run(t, `printf '%s' "$OW_STATE_BASE/ns/$1/run"`, ns))
}
