package ingest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"votestream/schemas"
)

// proofLog stands in for the transparency log's proof endpoint, on an origin of its own as
// the real one is: it answers NOT_IN_LOG until a leaf has been asked for `late` times (the
// log appends within seconds of the receipt), then a bundle naming the leaf. The log itself
// is tested in evidencelog; this checks what the form does with it.
type proofLog struct {
	late  int
	mu    sync.Mutex
	asked map[string]int
}

func (p *proofLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	leaf, ok := strings.CutPrefix(r.URL.Path, "/proof/")
	if r.Method != http.MethodGet || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	p.mu.Lock()
	p.asked[leaf]++
	n := p.asked[leaf]
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if n <= p.late {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NOT_IN_LOG","message":"not yet"}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"leaf_index": 7, "leaf_hash": leaf, "tree_size": 8, "inclusion": []string{}, "checkpoint": "test-log\n8\nAAAA\n"})
}

// TestBrowserKeepsProof: a report accepted while the log has not appended it yet gets its
// inclusion proof once the log has it, kept with the report in the phone's outbox and shown
// to the volunteer; the proof asked for is the leaf of the record Kafka holds.
func TestBrowserKeepsProof(t *testing.T) {
	lg := &proofLog{late: 2, asked: map[string]int{}}
	logSrv := httptest.NewServer(lg)
	t.Cleanup(logSrv.Close)
	r := newServerRigWith(t, "", func(c *Config) { c.EvidenceLogURL = logSrv.URL })
	r.ctx = r.newPhone()
	ctx := r.ctx
	r.open(ctx, "ilaw-0042")
	r.fillBallot(ctx, "constituency", "final", map[int]int{1: 210, 2: 180, 3: 95, 4: 56}, 561, 12, 8)
	r.wait(ctx, "the sum to check out", `document.querySelector('#check').dataset.ok === 'true'`, 5*time.Second)
	r.do(ctx, chromedp.Click(chromedp.CSS(`#send`)))
	r.wait(ctx, "the report accepted", `window.votestreamOutbox.all().then(a => a.length === 1 && a[0].state === 'accepted')`, 30*time.Second)
	r.wait(ctx, "the proof kept", `window.votestreamOutbox.all().then(a => !!a[0].proof)`, 60*time.Second)
	r.wait(ctx, "the proof shown", `!!document.querySelector('#outbox-items .inlog')`, 10*time.Second)
	r.shot(ctx, "form-proof-kept")

	kept := r.eval(ctx, `window.votestreamOutbox.all().then(a => a[0].proof.leaf_hash + ' ' + a[0].receipt.leaf_hash + ' ' + (a[0].proofTries||0))`)
	f := strings.Fields(kept)
	if len(f) != 3 || f[0] != f[1] {
		t.Fatalf("kept proof %q: want the bundle of the receipt's leaf", kept)
	}
	if f[2] != "2" {
		t.Errorf("the form gave up or skipped a try: %s tries before the proof, want 2", f[2])
	}
	// The leaf is the one anyone can rebuild from the record in Kafka.
	rep := r.reportsInKafka()
	if len(rep) != 1 {
		t.Fatalf("want 1 report in Kafka, got %d", len(rep))
	}
	if want := schemas.LeafHashHex(schemas.ReportLeaf(&rep[0])); f[0] != want {
		t.Errorf("the form kept the proof of leaf %s, the record in Kafka is leaf %s", f[0], want)
	}
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if len(lg.asked) != 1 || lg.asked[f[0]] != 3 {
		t.Errorf("the log was asked %v, want leaf %s three times (twice too early, once found)", lg.asked, f[0])
	}
}
