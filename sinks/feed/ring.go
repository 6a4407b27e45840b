package feed

import (
	"sync"
	"time"
)

// Event is one event of the stream, encoded once and shared by every client.
type Event struct {
	ID             uint64
	Type           string
	ConstituencyID string // result events: for the stream filter
	ProvinceID     string
	Data           []byte // one line of JSON
	// Frame is the whole SSE block ("id: ...\nevent: ...\ndata: ...\n\n") for streams of
	// Epoch: the same bytes for every client, built once rather than once per client.
	Frame []byte
	Epoch string
	// Published is when the event entered the ring (for the delivery delay metric).
	Published time.Time
}

// setFrame builds ev's SSE block for streams of epoch.
func (ev *Event) setFrame(epoch string) {
	id := formatEventID(epoch, ev.ID)
	b := make([]byte, 0, len("id: \nevent: \ndata: \n\n")+len(id)+len(ev.Type)+len(ev.Data))
	b = append(b, "id: "...)
	b = append(b, id...)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, ev.Data...)
	ev.Frame, ev.Epoch = append(b, "\n\n"...), epoch
}

// Ring holds the newest events of the stream. Every client reads it at its own cursor
// (the id of the last event it has), so publishing costs the same however many clients
// there are and never waits for one: a client too far behind finds its events gone and is
// dropped. Event ids are dense: each publish is the previous id plus one.
//
// Safe for concurrent use.
type Ring struct {
	mu      sync.RWMutex
	buf     []*Event
	head    int    // index of the oldest event in buf
	n       int    // events held
	last    uint64 // id of the newest event, or the base after Reset
	changed chan struct{}
	closed  bool
}

// NewRing returns an empty ring that holds up to capacity events (at least 1).
func NewRing(capacity int) *Ring {
	return &Ring{buf: make([]*Event, max(capacity, 1)), changed: make(chan struct{})}
}

// Reset empties the ring and makes base the id of the last event, so the next publish is
// base+1 and a client resuming from base needs nothing the ring lacks.
func (r *Ring) Reset(base uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.buf)
	r.head, r.n, r.last = 0, 0, base
}

// Last returns the id of the newest event (or the base).
func (r *Ring) Last() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.last
}

// Publish appends events, overwriting the oldest when full, and wakes every waiting
// reader. An event whose id does not follow the newest empties the ring first, so no
// reader is ever handed a sequence with a hole in it. It never blocks on a reader.
func (r *Ring) Publish(evs ...*Event) {
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, ev := range evs {
		if ev.ID != r.last+1 {
			clear(r.buf)
			r.head, r.n = 0, 0
		}
		if r.n == len(r.buf) {
			r.buf[r.head] = ev
			r.head = (r.head + 1) % len(r.buf)
		} else {
			r.buf[(r.head+r.n)%len(r.buf)] = ev
			r.n++
		}
		r.last = ev.ID
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// Close wakes every reader for good; Read then reports readClosed.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.changed)
	}
}

// readStatus says how a Read went.
type readStatus int

const (
	readOK      readStatus = iota
	readOverrun            // events after the cursor are gone: the reader fell too far behind
	readAhead              // the cursor is beyond the newest event
	readClosed             // the ring was closed
)

// Read appends to dst up to limit events with ids after cursor and returns them with the
// newest id. When there is none it also returns a channel that is closed at the next
// publish (or Close), to wait on.
func (r *Ring) Read(cursor uint64, limit int, dst []*Event) ([]*Event, uint64, <-chan struct{}, readStatus) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case r.closed:
		return dst, r.last, nil, readClosed
	case cursor > r.last:
		return dst, r.last, nil, readAhead
	case cursor == r.last:
		return dst, r.last, r.changed, readOK
	}
	oldest := r.last - uint64(r.n) + 1 // the ring is empty when n == 0: oldest = last+1
	if cursor+1 < oldest {
		return dst, r.last, nil, readOverrun
	}
	skip := int(cursor + 1 - oldest)
	for i := skip; i < r.n && limit > 0; i++ {
		dst = append(dst, r.buf[(r.head+i)%len(r.buf)])
		limit--
	}
	return dst, r.last, nil, readOK
}
