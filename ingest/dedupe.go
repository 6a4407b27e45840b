package ingest

import (
	"sync"
	"time"

	"votestream/schemas"
)

// dedupe remembers recently accepted ids so that a retry gets the first receipt and makes no
// second record. It is bounded in entries and age and lives in memory. Serve warms it from
// the submissions topic before it accepts submissions (see warmDedupe), so a submission
// accepted before a restart, within DedupeTTL, is still answered with its first receipt;
// reviews and official figures are not warmed. What still gets through: a retry that
// reaches another ingest process behind the same load balancer, a retry after a warm-up
// that timed out or failed, and a record still unacknowledged when the process stopped.
// Each is produced again with the same submission_id and hash, and consolidate drops it
// downstream. The store narrows duplicates to those cases; it does not promise
// exactly-once on its own.
//
// An entry is pending while its record is in flight. A second request for the same id waits
// for the first (at most its own produce timeout) rather than producing a second record.
// Safe for concurrent use.
type dedupe struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	m     map[string]*dedupeEntry
	queue []dedupeSlot // insertion order; entries expire in this order since the TTL is uniform
	head  int
}

type dedupeSlot struct {
	key   string
	entry *dedupeEntry
}

type dedupeEntry struct {
	hash      string
	volunteer string
	added     time.Time
	done      chan struct{} // closed once settled

	// Written once by settle before done is closed; read only after done is closed.
	ok      bool
	receipt schemas.Receipt
}

// dedupeState is what begin found.
type dedupeState int

const (
	dedupeNew      dedupeState = iota // not seen: the caller produces and settles the entry
	dedupePending                     // same body in flight: wait on entry.done
	dedupeConflict                    // same id, different body or sender: 409
)

func newDedupe(ttl time.Duration, max int) *dedupe {
	return &dedupe{ttl: ttl, max: max, m: make(map[string]*dedupeEntry)}
}

// begin looks key up. A settled-successful entry is returned as dedupePending with its done
// channel already closed, so callers treat "in flight" and "done" alike.
func (d *dedupe) begin(key, hash, volunteer string, now time.Time) (*dedupeEntry, dedupeState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if e, ok := d.m[key]; ok {
		if e.hash != hash || e.volunteer != volunteer {
			return e, dedupeConflict
		}
		return e, dedupePending
	}
	e := &dedupeEntry{hash: hash, volunteer: volunteer, added: now, done: make(chan struct{})}
	d.m[key] = e
	d.queue = append(d.queue, dedupeSlot{key, e})
	return e, dedupeNew
}

// remember stores a submission accepted before this process started (read back from Kafka)
// as a settled, successful entry, so that a retry gets receipt again, marked duplicate. It
// obeys the bounds as begin does: an entry already older than the TTL at now is not
// stored, and beyond max entries the oldest are forgotten. An id already present keeps
// its entry (the first acceptance wins). It reports whether the entry was stored.
//
// Expiry assumes entries are added in time order. Callers must therefore insert in
// received_at order (warmDedupe sorts the records of all partitions first) and before any
// begin at a later time; an entry inserted out of order would outlive the TTL, or be
// forgotten by the size bound, by at most the disorder.
func (d *dedupe) remember(key, hash, volunteer string, receipt schemas.Receipt, added, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if now.Sub(added) >= d.ttl {
		return false
	}
	if _, ok := d.m[key]; ok {
		return false
	}
	e := &dedupeEntry{hash: hash, volunteer: volunteer, added: added, done: closedDone, ok: true, receipt: receipt}
	d.m[key] = e
	d.queue = append(d.queue, dedupeSlot{key, e})
	return true
}

// closedDone is the done channel of every remembered entry: settled before it was stored.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// settle records the outcome of the entry's produce. A failed entry is forgotten, so the
// client's retry produces again. Called exactly once per entry begun as dedupeNew.
func (d *dedupe) settle(key string, e *dedupeEntry, receipt schemas.Receipt, err error) {
	if err == nil {
		e.ok, e.receipt = true, receipt
	} else {
		d.mu.Lock()
		if d.m[key] == e {
			delete(d.m, key)
		}
		d.mu.Unlock()
	}
	close(e.done)
}

// expire drops entries older than the TTL and, beyond the bound, the oldest ones. Called
// with mu held.
func (d *dedupe) expire(now time.Time) {
	for d.head < len(d.queue) {
		s := d.queue[d.head]
		if len(d.m) < d.max && now.Sub(s.entry.added) < d.ttl {
			break
		}
		if d.m[s.key] == s.entry {
			delete(d.m, s.key)
		}
		d.queue[d.head] = dedupeSlot{}
		d.head++
	}
	// Compact once the dead prefix is half the slice, so the queue stays O(entries).
	if d.head > 1024 && d.head*2 > len(d.queue) {
		d.queue = append(d.queue[:0], d.queue[d.head:]...)
		d.head = 0
	}
	// Failed entries leave dead slots behind (a Kafka outage makes many): drop them once
	// they outnumber the live ones, so memory stays bounded by max, not by traffic.
	if live := len(d.m); len(d.queue)-d.head > 2*live+1024 {
		kept := d.queue[:0]
		for _, s := range d.queue[d.head:] {
			if d.m[s.key] == s.entry {
				kept = append(kept, s)
			}
		}
		clear(d.queue[len(kept):])
		d.queue, d.head = kept, 0
	}
}

// len returns the number of remembered ids.
func (d *dedupe) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}
