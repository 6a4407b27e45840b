package feed

import (
	"bytes"
	"testing"
)

// TestFrameSameAsPerClient: the SSE block built once per event is byte for byte what a
// stream writes for it without one, and a stream of another epoch does not use it.
func TestFrameSameAsPerClient(t *testing.T) {
	ev := &Event{ID: 42, Type: EventEstimate, Data: []byte(`{"estimate_id":"e-1","name":"ก้าวไกล"}`)}
	perClient := &stream{epoch: "ep1"}
	perClient.appendEvent(ev)

	ev.setFrame("ep1")
	shared := &stream{epoch: "ep1"}
	shared.appendEvent(ev)
	if !bytes.Equal(shared.buf, perClient.buf) || shared.idSent != 42 || shared.counted(EventEstimate) != 1 {
		t.Errorf("shared frame %q (id %d), per client %q", shared.buf, shared.idSent, perClient.buf)
	}
	other := &stream{epoch: "ep2"}
	other.appendEvent(ev)
	if want := "id: ep2-42\n"; !bytes.HasPrefix(other.buf, []byte(want)) {
		t.Errorf("a stream of another epoch wrote %q, want it to start %q", other.buf, want)
	}
}
