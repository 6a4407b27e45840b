package feed

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"votestream/schemas"
)

// results returns n distinct station results for the small country, cycling through its
// stations on the party-list ballot with growing versions.
func results(n int) []schemas.StationResult {
	stations := []string{"BKK_1_001", "BKK_1_002", "BKK_1_003", "BKK_2_001", "BKK_2_002", "CMI_1_001", "CMI_1_002"}
	var out []schemas.StationResult
	for i := range n {
		out = append(out, res(stations[i%len(stations)], pl, int64(i+1), prov, prog, 100, 0, 0, map[string]int{"31": 100}, i))
	}
	return out
}

func TestStreamLiveAndResume(t *testing.T) {
	f := newTestFeed(t, nil)
	f.markReady()
	srv := serve(t, f)
	rs := results(6)

	a := openStream(t, srv.URL, keyNation, "", "")
	pre := a.next()
	if pre.retry != "2000" || pre.id != f.id(0) || pre.event != "" {
		t.Fatalf("preamble %+v", pre)
	}
	for _, r := range rs[:3] {
		f.applyResult(r)
	}
	for i, want := range []string{"BKK_1_001", "BKK_1_002", "BKK_1_003"} {
		fr := a.nextEvent()
		if fr.id != f.id(uint64(i+1)) || fr.event != EventResult || resultStation(t, fr) != want {
			t.Fatalf("event %d: %+v", i+1, fr)
		}
	}
	a.close()

	// Two changes while the client is away; it comes back with the id of its last event
	// and gets exactly those, then live ones.
	f.applyResult(rs[3])
	f.applyResult(rs[4])
	b := openStream(t, srv.URL, keyNation, "", f.id(3))
	if pre := b.next(); pre.id != f.id(3) {
		t.Fatalf("resumed preamble %+v", pre)
	}
	for i, want := range []string{"BKK_2_001", "BKK_2_002"} {
		fr := b.nextEvent()
		if fr.id != f.id(uint64(i+4)) || resultStation(t, fr) != want {
			t.Fatalf("resumed event %d: %+v", i+4, fr)
		}
	}
	f.applyEstimate(estimate("e1", 10, 11, proj("BKK_1", 2, 0.8, schemas.CallLikely)))
	fr := b.nextEvent()
	var ev EstimateEvent
	if err := json.Unmarshal([]byte(fr.data), &ev); err != nil {
		t.Fatal(err)
	}
	if fr.id != f.id(6) || fr.event != EventEstimate || ev.EstimateID != "e1" || len(ev.Parties) != 3 ||
		strings.Join(ev.ChangedConstituencies, ",") != "BKK_1" {
		t.Fatalf("estimate event %+v %+v", fr, ev)
	}

	// The fetch-then-stream pattern: an answer's event_id is where the stream resumes.
	_, body := get(t, srv.URL+"/v1/feed/summary", keyPBS)
	var sum SummaryAnswer
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	c := openStream(t, srv.URL, keyPBS, "", sum.EventID)
	c.next()
	f.applyResult(rs[5])
	if fr := c.nextEvent(); fr.id != f.id(7) || resultStation(t, fr) != "CMI_1_001" {
		t.Fatalf("after the summary: %+v", fr)
	}
}

func TestStreamReset(t *testing.T) {
	tests := []struct {
		name, lastID string // %s stands for the feed's epoch
		reason       string
	}{
		{"older than the ring", "%s-2", "too_old"},
		{"another process", "deadbeef-3", "unknown_id"},
		{"not an id", "hello", "unknown_id"},
		{"ahead of the feed", "%s-99", "unknown_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFeed(t, func(c *Config) { c.RingSize, c.ClientLag = 4, 2 })
			f.markReady()
			srv := serve(t, f)
			for _, r := range results(10) {
				f.applyResult(r)
			}
			// The ring holds 7..10 now.
			s := openStream(t, srv.URL, keyNation, "", strings.ReplaceAll(tt.lastID, "%s", f.view.Epoch()))
			s.next() // preamble
			fr := s.nextEvent()
			var body struct {
				Reason  string `json:"reason"`
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal([]byte(fr.data), &body); err != nil {
				t.Fatal(err)
			}
			if fr.event != EventReset || fr.id != f.id(10) || body.Reason != tt.reason || body.EventID != f.id(10) {
				t.Fatalf("got %+v (%+v), want a reset %s at %s", fr, body, tt.reason, f.id(10))
			}
			f.applyResult(results(11)[10])
			if fr := s.nextEvent(); fr.id != f.id(11) {
				t.Fatalf("after the reset: %+v", fr)
			}
		})
	}
}

func TestStreamFilter(t *testing.T) {
	tests := []struct {
		query string
		want  []uint64 // ids received, of: 1 BKK_1, 2 BKK_2, 3 estimate, 4 CMI_1, 5 BKK_2
	}{
		{"", []uint64{1, 2, 3, 4, 5}},
		{"constituency=BKK_2", []uint64{2, 3, 5}},
		{"constituency=BKK_1,CMI_1", []uint64{1, 3, 4}},
		{"province=CMI", []uint64{3, 4}},
		{"province=CMI&constituency=BKK_1", []uint64{1, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := newTestFeed(t, nil)
			f.markReady()
			srv := serve(t, f)
			s := openStream(t, srv.URL, keyNation, tt.query, "")
			s.next()
			f.applyResult(res("BKK_1_001", cons, 1, prov, fin, 10, 0, 0, nil, 1))
			f.applyResult(res("BKK_2_001", cons, 1, prov, fin, 10, 0, 0, nil, 2))
			f.applyEstimate(estimate("e1", 3, 3))
			f.applyResult(res("CMI_1_001", cons, 1, prov, fin, 10, 0, 0, nil, 4))
			f.applyResult(res("BKK_2_002", cons, 1, prov, fin, 10, 0, 0, nil, 5))
			for _, id := range tt.want {
				if fr := s.nextEvent(); fr.id != f.id(id) {
					t.Fatalf("got %+v, want id %d", fr, id)
				}
			}
		})
	}
}

// TestStreamHeartbeatCarriesID: a filtered client that receives nothing still learns the
// newest id from heartbeats, so that it resumes from there.
func TestStreamHeartbeatCarriesID(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.Heartbeat = time.Millisecond })
	f.markReady()
	srv := serve(t, f)
	s := openStream(t, srv.URL, keyNation, "constituency=BKK_2", "")
	s.next()
	f.applyResult(res("BKK_1_001", cons, 1, prov, fin, 10, 0, 0, nil, 1))
	for {
		fr := s.next()
		if fr.event != "" {
			t.Fatalf("filtered event delivered: %+v", fr)
		}
		if fr.id == f.id(1) {
			if len(fr.comments) != 1 || fr.comments[0] != "heartbeat" || fr.data != "" {
				t.Fatalf("heartbeat %+v", fr)
			}
			return
		}
	}
}

// blockingWriter is a client that stops reading: after the preamble every write waits
// until released.
type blockingWriter struct {
	header  http.Header
	writes  chan string // every write, as it starts
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (w *blockingWriter) Header() http.Header { return w.header }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              {}
func (w *blockingWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.n++
	n := w.n
	w.mu.Unlock()
	w.writes <- string(b)
	if n > 1 {
		<-w.release
	}
	return len(b), nil
}

func TestStreamSlowClientDropped(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.RingSize, c.ClientLag = 8, 2 })
	f.markReady()
	w := &blockingWriter{header: http.Header{}, writes: make(chan string, 16), release: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/feed/events", nil)
	req.Header.Set("Authorization", "Bearer "+keyNation)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Handler().ServeHTTP(w, req)
	}()
	<-w.writes // the preamble
	rs := results(4)
	f.applyResult(rs[0])
	if got := <-w.writes; !strings.Contains(got, "id: "+f.id(1)+"\n") {
		t.Fatalf("first event write %q", got)
	}
	// The client is stuck in that write. The consumer goes on regardless: these return.
	for _, r := range rs[1:] {
		f.applyResult(r)
	}
	close(w.release)
	<-done // 3 events behind with ClientLag 2: dropped
	if got := metricValue(t, f.m.dropped.WithLabelValues("lagging")); got != 1 {
		t.Errorf("dropped(lagging) = %v, want 1", got)
	}
	if got := metricValue(t, f.m.clients.WithLabelValues("Nation TV")); got != 0 {
		t.Errorf("clients connected = %v after the drop", got)
	}

	// It reconnects with the id of its last event and resumes from the ring.
	srv := serve(t, f)
	s := openStream(t, srv.URL, keyNation, "", f.id(1))
	s.next()
	for id := uint64(2); id <= 4; id++ {
		if fr := s.nextEvent(); fr.id != f.id(id) {
			t.Fatalf("resumed: %+v, want %d", fr, id)
		}
	}
}

func TestStreamLimitPerNewsroom(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.MaxStreamsPerNewsroom = 1 })
	f.markReady()
	srv := serve(t, f)
	s := openStream(t, srv.URL, keyNation, "", "")
	s.next()
	resp, body := get(t, srv.URL+"/v1/feed/events", keyNation)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"TOO_MANY_STREAMS"`) {
		t.Fatalf("second stream: %d %s", resp.StatusCode, body)
	}
	// Another newsroom is not held to the first one's limit.
	o := openStream(t, srv.URL, keyPBS, "", "")
	o.next()
	if got := metricValue(t, f.m.refused.WithLabelValues("too_many_streams")); got != 1 {
		t.Errorf("refused = %v", got)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &d)
	return 0
}
