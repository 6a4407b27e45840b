package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"votestream/schemas"
)

// fakeClock advances only when Replay sleeps, and remembers every sleep.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

// fakeIngest answers each submission id from a script of statuses (the last repeats;
// none means 202) and records every request.
type fakeIngest struct {
	mu       sync.Mutex
	script   map[string][]answer
	requests map[string][][]byte // submission id -> bodies received
	tokens   map[string]string   // submission id -> bearer token
}

type answer struct {
	status     int
	retryAfter string
	body       string
}

func newFakeIngest(t *testing.T, script map[string][]answer) (*fakeIngest, *httptest.Server) {
	f := &fakeIngest{script: script, requests: map[string][][]byte{}, tokens: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/submissions" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var sub schemas.Submission
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sub); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		n := len(f.requests[sub.SubmissionID])
		f.requests[sub.SubmissionID] = append(f.requests[sub.SubmissionID], body)
		f.tokens[sub.SubmissionID] = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		steps := f.script[sub.SubmissionID]
		f.mu.Unlock()
		a := answer{status: http.StatusAccepted, body: `{"submission_id":"` + sub.SubmissionID + `"}`}
		if len(steps) > 0 {
			a = steps[min(n, len(steps)-1)]
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func handMadeEvents(close time.Time, ids []string, offsets []time.Duration) []Event {
	var out []Event
	for i, id := range ids {
		vol := Volunteer{ID: fmt.Sprintf("V%d", i%2), Org: "civic-01", Stations: []string{"S_1_0001"}}
		out = append(out, Event{
			At:        close.Add(offsets[i]),
			Volunteer: vol,
			Submission: schemas.Submission{
				SubmissionID: id, StationID: "S_1_0001", Ballot: "partylist", Stage: schemas.StageFinal,
				CountedAt: close, BallotsCast: 10, Invalid: 1, NoVote: 1, Votes: map[string]int{"1": 5, "2": 3},
			},
			Faults: []Fault{{Kind: FaultTypo}},
		})
	}
	return out
}

func testReplayConfig(url string, clk clock) ReplayConfig {
	cfg := DefaultReplayConfig()
	cfg.URL = url
	cfg.Token = func(v Volunteer) (string, error) { return "tok-" + v.ID, nil }
	cfg.clock = clk
	return cfg
}

func TestReplaySendsTheNight(t *testing.T) {
	cfg := SmallConfig(12)
	_, n := newNight(t, cfg)
	ing, srv := newFakeIngest(t, nil)
	rc := testReplayConfig(srv.URL, &fakeClock{})
	rc.Speed = 0
	rc.Concurrency = 4
	var tokenCalls sync.Map
	rc.Token = func(v Volunteer) (string, error) {
		if _, again := tokenCalls.LoadOrStore(v.ID, true); again {
			return "", fmt.Errorf("token for %s asked twice", v.ID)
		}
		return "tok-" + v.ID, nil
	}
	sum, err := Replay(context.Background(), rc, n.Events())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != n.Len() || sum.Accepted != n.Len() || sum.ByStatus[http.StatusAccepted] != n.Len() || sum.Retries != 0 {
		t.Errorf("summary %+v, want all %d accepted", sum, n.Len())
	}
	// Every event arrived with its volunteer's token; resends (DUPLICATE) arrive twice with
	// the same body.
	received := 0
	for e := range n.Events() {
		id := e.Submission.SubmissionID
		want, _ := json.Marshal(e.Submission)
		bodies := ing.requests[id]
		if len(bodies) == 0 || !bytes.Equal(bodies[0], want) {
			t.Fatalf("submission %s arrived as %q, want %q", id, bodies, want)
		}
		if ing.tokens[id] != "tok-"+e.Volunteer.ID {
			t.Fatalf("submission %s came with token %q", id, ing.tokens[id])
		}
		received++
	}
	total := 0
	for _, b := range ing.requests {
		total += len(b)
	}
	if total != received {
		t.Errorf("ingest got %d requests for %d events", total, received)
	}
}

func TestReplayRetries(t *testing.T) {
	refusal := `{"error":{"code":"unknown_station","message":"no such station"}}`
	_, srv := newFakeIngest(t, map[string][]answer{
		"a": {{status: 503, retryAfter: "3"}, {status: 503, retryAfter: "3"}, {status: 202}},
		"b": {{status: 429}, {status: 202}},
		"c": {{status: 503}},
		"d": {{status: 400, body: refusal}},
		"e": {{status: 409, body: `{"error":{"code":"id_conflict","message":"x"}}`}},
		"f": {{status: 503, retryAfter: "100"}, {status: 202}},
	})
	clk := &fakeClock{}
	rc := testReplayConfig(srv.URL, clk)
	rc.Speed = 0
	rc.Concurrency = 1
	rc.MaxAttempts = 3
	var progress bytes.Buffer
	rc.Progress, rc.ProgressEvery = &progress, time.Hour
	ids := []string{"a", "b", "c", "d", "e", "f"}
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), ids, make([]time.Duration, len(ids)))
	sum, err := Replay(context.Background(), rc, slices.Values(events))
	if err != nil {
		t.Fatal(err)
	}
	// a: 503, 503, 202 (3 requests, 2 retries); b: 429, 202 (2, 1); c: 503 x 3 then give
	// up (3, 2); d, e: refused at once (1 each); f: 503, 202 (2, 1).
	want := Summary{
		Events: 6, Requests: 3 + 2 + 3 + 1 + 1 + 2, Accepted: 3, Refused: 2, Failed: 1, Retries: 2 + 1 + 2 + 1,
		ByStatus: map[int]int{202: 3, 503: 1, 400: 1, 409: 1},
		ByCode:   map[string]int{"unknown_station": 1, "id_conflict": 1},
	}
	if sum.Events != want.Events || sum.Requests != want.Requests || sum.Accepted != want.Accepted || sum.Refused != want.Refused ||
		sum.Failed != want.Failed || sum.Retries != want.Retries || !maps.Equal(sum.ByStatus, want.ByStatus) || !maps.Equal(sum.ByCode, want.ByCode) {
		t.Errorf("summary\n%+v\nwant\n%+v", sum, want)
	}
	if got := sum.ByFault[FaultTypo]; !maps.Equal(got, want.ByStatus) {
		t.Errorf("statuses of TYPO submissions %v, want %v", got, want.ByStatus)
	}
	// Retry-After honoured (3 s twice for a), back-off doubling from 200 ms without it
	// (b: 200 ms; c: 200 ms, 400 ms), Retry-After above MaxRetryWait cut to 30 s (f).
	wantSleeps := []time.Duration{3 * time.Second, 3 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 30 * time.Second}
	if !slices.Equal(clk.sleeps, wantSleeps) {
		t.Errorf("waits %v, want %v", clk.sleeps, wantSleeps)
	}
	if !strings.Contains(progress.String(), "accepted 3  refused 2  failed 1  retries 6") {
		t.Errorf("last progress line %q", progress.String())
	}
}

func TestReplaySameIDOnRetry(t *testing.T) {
	ing, srv := newFakeIngest(t, map[string][]answer{"a": {{status: 503, retryAfter: "1"}, {status: 202}}})
	rc := testReplayConfig(srv.URL, &fakeClock{})
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), []string{"a"}, []time.Duration{0})
	if _, err := Replay(context.Background(), rc, slices.Values(events)); err != nil {
		t.Fatal(err)
	}
	if b := ing.requests["a"]; len(b) != 2 || !bytes.Equal(b[0], b[1]) {
		t.Errorf("retry sent %q, want the same body twice", b)
	}
}

func TestReplayPacing(t *testing.T) {
	_, srv := newFakeIngest(t, nil)
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	rc := testReplayConfig(srv.URL, clk)
	rc.Speed = 60
	rc.Concurrency = 1
	close := time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime)
	// At 60x, events 0 s, 60 s, 60 s and 180 s into the night are due 0, 1, 1 and 3 s into
	// the replay: the dispatcher waits 0, 1 s, 0 and 2 s.
	events := handMadeEvents(close, []string{"a", "b", "c", "d"}, []time.Duration{0, time.Minute, time.Minute, 3 * time.Minute})
	sum, err := Replay(context.Background(), rc, slices.Values(events))
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, time.Second, 0, 2 * time.Second}; !slices.Equal(clk.sleeps, want) {
		t.Errorf("waits %v, want %v", clk.sleeps, want)
	}
	if sum.Elapsed != 3*time.Second || !sum.SimulatedTime.Equal(close.Add(3*time.Minute)) {
		t.Errorf("elapsed %v, simulated %v; want 3s and 17:03", sum.Elapsed, sum.SimulatedTime)
	}
}

func TestReplayTokenErrorStops(t *testing.T) {
	ing, srv := newFakeIngest(t, nil)
	rc := testReplayConfig(srv.URL, &fakeClock{})
	rc.Speed = 0
	rc.Concurrency = 1
	boom := errors.New("issuer down")
	rc.Token = func(v Volunteer) (string, error) { return "", boom }
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), []string{"a", "b", "c"}, make([]time.Duration, 3))
	_, err := Replay(context.Background(), rc, slices.Values(events))
	if !errors.Is(err, boom) || !errors.Is(err, ErrReplay) {
		t.Errorf("Replay() = %v, want the token error", err)
	}
	if len(ing.requests) != 0 {
		t.Errorf("%d submissions sent without a token", len(ing.requests))
	}
}

func TestReplayCancelled(t *testing.T) {
	ing, srv := newFakeIngest(t, nil)
	rc := testReplayConfig(srv.URL, &fakeClock{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), []string{"a", "b"}, make([]time.Duration, 2))
	sum, err := Replay(ctx, rc, slices.Values(events))
	if !errors.Is(err, context.Canceled) || sum.Events != 0 || len(ing.requests) != 0 {
		t.Errorf("Replay on a cancelled context = %v, %+v, %d sent", err, sum, len(ing.requests))
	}
}

func TestReplayConfigValidate(t *testing.T) {
	ok := testReplayConfig("http://127.0.0.1:1", nil)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*ReplayConfig){
		"no URL":          func(c *ReplayConfig) { c.URL = "" },
		"not http":        func(c *ReplayConfig) { c.URL = "ftp://x" },
		"no token":        func(c *ReplayConfig) { c.Token = nil },
		"negative speed":  func(c *ReplayConfig) { c.Speed = -1 },
		"no concurrency":  func(c *ReplayConfig) { c.Concurrency = 0 },
		"no attempts":     func(c *ReplayConfig) { c.MaxAttempts = 0 },
		"zero timeout":    func(c *ReplayConfig) { c.RequestTimeout = 0 },
		"progress, never": func(c *ReplayConfig) { c.Progress, c.ProgressEvery = io.Discard, 0 },
	} {
		c := ok
		edit(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate() = %v, want ErrConfig", name, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 2 ", 2 * time.Second},
		{"-3", 0},
		{"9999999999", 24 * time.Hour},
		{"soon", 0},
		{"Sun, 14 May 2023 10:00:30 GMT", 30 * time.Second},
		{"Sun, 14 May 2023 09:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"error":{"code":"unknown_station","message":"no such station","field":"station_id"}}`, "unknown_station"},
		{`{"error":"rate_limited"}`, "rate_limited"},
		{`{"code":"bad_json"}`, "bad_json"},
		{`not json`, ""},
		{`{}`, ""},
	}
	for _, tt := range tests {
		if got := errorCode([]byte(tt.body)); got != tt.want {
			t.Errorf("errorCode(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func FuzzErrorCode(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"unknown_station","message":"no such station"}}`))
	f.Add([]byte(`{"error":"rate_limited"}`))
	f.Add([]byte(`{"code":"x","error":null}`))
	f.Add([]byte(`<html>502 Bad Gateway</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code := errorCode(body)
		var v struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &v) == nil && v.Error.Code != "" && code != v.Error.Code {
			t.Errorf("errorCode(%q) = %q, want the nested code %q", body, code, v.Error.Code)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "120", "-1", "Sun, 14 May 2023 10:00:30 GMT", "9999999999", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, h string) {
		if d := parseRetryAfter(h, now); d < 0 {
			t.Errorf("parseRetryAfter(%q) = %v, negative", h, d)
		}
	})
}
