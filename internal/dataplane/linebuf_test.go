package dataplane

import "testing"

func TestLineBuffer(t *testing.T) {
	var b lineBuffer
	b.Line("-A", "wanlb_decide", "", "-g", "wanlb_default")
	b.Indent(2, "goto", "set_wan")
	b.Line()
	if got, want := string(b.Bytes()), "-A wanlb_decide -g wanlb_default\n\t\tgoto set_wan\n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
