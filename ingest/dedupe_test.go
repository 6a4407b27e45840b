package ingest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"votestream/schemas"
)

func TestDedupe(t *testing.T) {
	d := newDedupe(10*time.Minute, 3)
	t0 := testNow
	e, st := d.begin("a", "h1", "v1", t0)
	if st != dedupeNew {
		t.Fatalf("first begin: %v", st)
	}
	if _, st := d.begin("a", "h1", "v1", t0); st != dedupePending {
		t.Fatalf("while in flight: %v, want pending", st)
	}
	if _, st := d.begin("a", "h2", "v1", t0); st != dedupeConflict {
		t.Fatalf("other hash: %v, want conflict", st)
	}
	if _, st := d.begin("a", "h1", "v2", t0); st != dedupeConflict {
		t.Fatalf("other volunteer: %v, want conflict", st)
	}
	d.settle("a", e, schemas.Receipt{SubmissionID: "a"}, nil)
	if e2, st := d.begin("a", "h1", "v1", t0); st != dedupePending || !e2.ok || e2.receipt.SubmissionID != "a" {
		t.Fatalf("after success: %v %+v", st, e2)
	}

	// A failed produce forgets the id, so the retry is new.
	eb, _ := d.begin("b", "h", "v", t0)
	d.settle("b", eb, schemas.Receipt{}, errors.New("down"))
	if _, st := d.begin("b", "h", "v", t0); st != dedupeNew {
		t.Fatalf("after failure: %v, want new", st)
	}

	// TTL: "a" was added at t0 and is forgotten 10 minutes later.
	if _, st := d.begin("a", "h1", "v1", t0.Add(10*time.Minute)); st != dedupeNew {
		t.Fatalf("after the TTL: %v, want new", st)
	}
}

func TestDedupeBound(t *testing.T) {
	d := newDedupe(time.Hour, 3)
	for i := range 5 {
		e, _ := d.begin(fmt.Sprint(i), "h", "v", testNow)
		d.settle(fmt.Sprint(i), e, schemas.Receipt{}, nil)
	}
	// Adding the 4th forgot "0", adding the 5th forgot "1". The bound is checked before an
	// insert, so the store holds at most max entries.
	if n := d.len(); n != 3 {
		t.Fatalf("len %d, want 3", n)
	}
	if _, st := d.begin("4", "h", "v", testNow); st != dedupePending {
		t.Fatalf("newest forgotten: %v", st)
	}
	if _, st := d.begin("1", "h", "v", testNow); st != dedupeNew {
		t.Fatalf("oldest kept: %v", st)
	}
}

func TestDedupeDeadSlotsBounded(t *testing.T) {
	d := newDedupe(time.Hour, 10)
	// An outage: every produce fails and is retried, many times.
	for i := range 100000 {
		k := fmt.Sprint(i % 50)
		e, st := d.begin(k, "h", "v", testNow)
		if st == dedupeNew {
			d.settle(k, e, schemas.Receipt{}, errors.New("down"))
		}
	}
	if n := len(d.queue) - d.head; n > 2*10+1024+1 {
		t.Fatalf("queue holds %d slots for %d live entries", n, d.len())
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 3) // 2 per second, bursts of 3
	at := testNow
	for i := range 3 {
		if ok, _ := l.allow("v", at); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("v", at)
	if ok || wait != time.Second {
		t.Fatalf("4th at once: ok=%v wait=%v, want refused, 1s (0.5 s rounded up)", ok, wait)
	}
	if ok, _ := l.allow("w", at); !ok {
		t.Fatal("another volunteer refused")
	}
	if ok, _ := l.allow("v", at.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after a token came back")
	}
	if ok, _ := l.allow("v", at.Add(500*time.Millisecond)); ok {
		t.Fatal("allowed twice on one token")
	}
	// Idle for an hour: the bucket is full (3), not 7,200.
	later := at.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow("v", later); !ok {
			t.Fatalf("after idling, request %d refused", i)
		}
	}
	if ok, _ := l.allow("v", later); ok {
		t.Fatal("burst exceeded after idling")
	}
	var nilLimiter *limiter
	if ok, _ := nilLimiter.allow("v", at); !ok {
		t.Fatal("nil limiter refused")
	}
}
