package feed

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func cpOf(size int64, cosigners ...string) schemas.Checkpoint {
	return schemas.Checkpoint{Origin: "votestream.example.org/log", Size: size, RootHash: "root", Note: "note",
		Cosigners: cosigners, PublishedAt: time.Date(2023, 5, 14, 12, 0, int(size), 0, time.UTC)}
}

// The summary carries the newest checkpoint: a smaller tree or a repeat changes nothing, the
// same tree with more witnesses does.
func TestApplyCheckpoint(t *testing.T) {
	v := NewView(smallCountry(t), "t")
	if s := v.Summary(); s.LogCheckpoint != nil {
		t.Fatalf("a checkpoint before any: %+v", s.LogCheckpoint)
	}
	steps := []struct {
		cp   schemas.Checkpoint
		want bool
		size int64
		cos  int
	}{
		{cpOf(10), true, 10, 0},
		{cpOf(10), false, 10, 0},
		{cpOf(5), false, 10, 0},
		{cpOf(10, "witness-a"), true, 10, 1},
		{cpOf(12), true, 12, 0},
	}
	for i, st := range steps {
		before := v.Version()
		ch, ok := v.ApplyCheckpoint(st.cp)
		if ok != st.want {
			t.Fatalf("step %d: applied %v, want %v", i, ok, st.want)
		}
		if ok && (ch.Type != EventCheckpoint || ch.Seq != before+1 || v.Version() != before+1) {
			t.Errorf("step %d: change %+v, version %d -> %d", i, ch, before, v.Version())
		}
		if !ok && v.Version() != before {
			t.Errorf("step %d: a checkpoint not taken moved the version", i)
		}
		got := v.Summary().LogCheckpoint
		if got == nil || got.Size != st.size || len(got.Cosigners) != st.cos {
			t.Fatalf("step %d: summary checkpoint %+v, want size %d with %d cosigners", i, got, st.size, st.cos)
		}
	}
}

// The gate lets one checkpoint through per interval and keeps the newest of the rest for
// when the interval is up, with or without further records.
func TestCheckpointGate(t *testing.T) {
	t0 := time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC)
	g := &checkpointGate{every: 30 * time.Second}
	a, b, c := cpOf(1), cpOf(2), cpOf(3)
	if got := g.offer(&a, t0); got != &a {
		t.Fatalf("first checkpoint held back: %v", got)
	}
	if !g.due().IsZero() {
		t.Errorf("nothing held, due %v", g.due())
	}
	if got := g.offer(&c, t0.Add(time.Second)); got != nil {
		t.Fatalf("a checkpoint within the interval passed: %+v", got)
	}
	if got := g.offer(&b, t0.Add(2*time.Second)); got != nil {
		t.Fatalf("a checkpoint within the interval passed: %+v", got)
	}
	if due := g.due(); !due.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("due %v, want %v", due, t0.Add(30*time.Second))
	}
	if got := g.release(t0.Add(29 * time.Second)); got != nil {
		t.Fatalf("released before its time: %+v", got)
	}
	if got := g.release(t0.Add(30 * time.Second)); got != &c {
		t.Fatalf("released %+v, want the newest held (size 3)", got)
	}
	if got := g.release(t0.Add(time.Hour)); got != nil {
		t.Fatalf("released twice: %+v", got)
	}
}

// TestCheckpointsOnBroker: the log's checkpoints on the real broker reach the summary and
// the changes cursor, at most one per interval; the newest held back arrives when the
// interval is up although nothing else is written after it (the night's last checkpoint).
func TestCheckpointsOnBroker(t *testing.T) {
	env := testenv.Kafka(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produce := func(cps ...schemas.Checkpoint) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, time.Minute)
		defer pcancel()
		for _, cp := range cps {
			r, err := kgorecord.New(env.Topic(schemas.TopicCheckpoints), cp)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Client(t).ProduceSync(pctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(cpOf(10), cpOf(11)) // before the start: the newest is taken
	rf := startFeed(t, ctx, env, time.Minute, func(c *Config) { c.CheckpointEvery = 2 * time.Second })
	testenv.WaitFor(t, "the feed ready", time.Minute, func() bool { return rf.running(t) && rf.readyz(t) == http.StatusOK })
	size := func() int64 {
		if cp := rf.summary(t).LogCheckpoint; cp != nil {
			return cp.Size
		}
		return 0
	}
	testenv.WaitFor(t, "the checkpoint read at start in the summary", time.Minute, func() bool { return rf.running(t) && size() >= 10 })
	changes := func(query string) ChangesAnswer {
		t.Helper()
		resp, body := get(t, rf.base+"/v1/feed/changes"+query, keyNation)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("changes: %d %s", resp.StatusCode, body)
		}
		var a ChangesAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	start := changes("")
	produce(cpOf(20), cpOf(30), cpOf(25))
	testenv.WaitFor(t, "the newest checkpoint, held back, in the summary", time.Minute, func() bool { return rf.running(t) && size() == 30 })

	var sizes []int64
	for _, it := range changes("?since=" + start.NextCursor).Items {
		if it.Type != EventCheckpoint {
			continue
		}
		var ev CheckpointEvent
		if err := json.Unmarshal(it.Data, &ev); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, ev.Checkpoint.Size)
	}
	// 20 at once or held back, and 30 last; never 25 (older than 30).
	if len(sizes) == 0 || sizes[len(sizes)-1] != 30 || slices.Contains(sizes, 25) || !slices.IsSorted(sizes) {
		t.Errorf("checkpoint changes %v: want increasing sizes ending with 30, without 25", sizes)
	}
}
