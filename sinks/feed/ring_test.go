package feed

import (
	"slices"
	"testing"
)

func ids(evs []*Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestRingRead(t *testing.T) {
	// A ring of 4 after Reset(10) and events 11..16: it holds 13..16.
	r := NewRing(4)
	r.Reset(10)
	for id := uint64(11); id <= 16; id++ {
		r.Publish(&Event{ID: id, Type: EventResult})
	}
	tests := []struct {
		cursor uint64
		limit  int
		want   []uint64
		status readStatus
	}{
		{16, 10, nil, readOK},                      // up to date: wait
		{15, 10, []uint64{16}, readOK},             // one behind
		{12, 10, []uint64{13, 14, 15, 16}, readOK}, // everything held
		{12, 2, []uint64{13, 14}, readOK},          // limited
		{11, 10, nil, readOverrun},                 // 12 was overwritten
		{17, 10, nil, readAhead},
	}
	for _, tt := range tests {
		got, last, wait, st := r.Read(tt.cursor, tt.limit, nil)
		if st != tt.status || !slices.Equal(ids(got), tt.want) || last != 16 {
			t.Errorf("Read(%d, %d) = %v, %d, %v; want %v, 16, %v", tt.cursor, tt.limit, ids(got), last, st, tt.want, tt.status)
		}
		if (wait != nil) != (tt.status == readOK && len(tt.want) == 0) {
			t.Errorf("Read(%d): wait channel %v", tt.cursor, wait)
		}
	}
}

func TestRingWakesAndCloses(t *testing.T) {
	r := NewRing(4)
	_, _, wait, _ := r.Read(0, 1, nil)
	r.Publish(&Event{ID: 1})
	<-wait // closed by the publish
	_, _, wait, _ = r.Read(1, 1, nil)
	r.Close()
	<-wait
	if _, _, _, st := r.Read(1, 1, nil); st != readClosed {
		t.Errorf("after Close: %v", st)
	}
	r.Publish(&Event{ID: 2}) // ignored, and does not panic on the closed channel
}

func TestRingGapEmpties(t *testing.T) {
	// A publish that skips ids must not leave readers believing they have everything.
	r := NewRing(8)
	r.Publish(&Event{ID: 1}, &Event{ID: 2})
	r.Publish(&Event{ID: 5})
	if _, _, _, st := r.Read(2, 10, nil); st != readOverrun {
		t.Errorf("reader at 2 after a gap: %v, want overrun", st)
	}
	if got, _, _, st := r.Read(4, 10, nil); st != readOK || !slices.Equal(ids(got), []uint64{5}) {
		t.Errorf("reader at 4: %v %v", ids(got), st)
	}
}
