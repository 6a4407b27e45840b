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
	cfg.jitter = func() float64 { return 0 }
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
	if sum.Events != n.Len() || sum.Stored() != n.Len() || sum.ByStatus[http.StatusAccepted] != n.Len() || sum.Retries != 0 {
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
	refusal := `{"error":{"code":"UNKNOWN_STATION","message":"no such station"}}`
	kafka := `{"error":{"code":"KAFKA_UNAVAILABLE","message":"x"}}`
	_, srv := newFakeIngest(t, map[string][]answer{
		"a": {{status: 503, retryAfter: "3", body: kafka}, {status: 503, retryAfter: "3", body: kafka}, {status: 202, body: `{"duplicate":true}`}},
		"b": {{status: 429}, {status: 202}},
		"c": {{status: 503}},
		"d": {{status: 400, body: refusal}},
		"e": {{status: 409, body: `{"error":{"code":"ID_CONFLICT","message":"x"}}`}},
		"f": {{status: 503, retryAfter: "100", body: kafka}, {status: 202}},
		"g": {{status: 503, retryAfter: "1", body: `{"error":{"code":"STARTING","message":"x"}}`}, {status: 408}, {status: 202}},
	})
	clk := &fakeClock{}
	rc := testReplayConfig(srv.URL, clk)
	rc.Speed = 0
	rc.Concurrency = 1
	rc.RetryBudget = 10 * time.Second
	var progress bytes.Buffer
	rc.Progress, rc.ProgressEvery = &progress, time.Hour
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), ids, make([]time.Duration, len(ids)))
	sum, err := Replay(context.Background(), rc, slices.Values(events))
	if err != nil {
		t.Fatal(err)
	}
	// a: 503, 503, 202 duplicate (3 requests, 2 retries, 2 unknown outcomes); b: 429, 202
	// (2, 1); c: 503 without a code until the 10 s budget: waits 0.25, 0.5, 1, 2, 4 s (the
	// lower half of each back-off), and the next, 8 s, would end after it (6, 5, 6 unknown); d, e: refused at once (1 each); f:
	// Retry-After 100 s is beyond the budget: given up at once (1, 0, 1 unknown); g: 503
	// STARTING, 408, 202 (3, 2, 0 unknown).
	want := Summary{
		Events: 7, Requests: 3 + 2 + 6 + 1 + 1 + 1 + 3, Accepted: 2, DuplicateAccepted: 1, Refused: 2, GivenUp: 2, Unknown: 2,
		Retries: 2 + 1 + 5 + 2, OutcomeUnknown: 2 + 6 + 1,
		ByStatus:  map[int]int{202: 3, 503: 2, 400: 1, 409: 1},
		ByCode:    map[string]int{"UNKNOWN_STATION": 1, "ID_CONFLICT": 1},
		GivenUpBy: map[string]int{"503": 1, "503 KAFKA_UNAVAILABLE": 1},
	}
	if sum.Events != want.Events || sum.Requests != want.Requests || sum.Accepted != want.Accepted || sum.DuplicateAccepted != want.DuplicateAccepted ||
		sum.Refused != want.Refused || sum.GivenUp != want.GivenUp || sum.Unknown != want.Unknown || sum.Retries != want.Retries ||
		sum.OutcomeUnknown != want.OutcomeUnknown || !maps.Equal(sum.ByStatus, want.ByStatus) || !maps.Equal(sum.ByCode, want.ByCode) ||
		!maps.Equal(sum.GivenUpBy, want.GivenUpBy) {
		t.Errorf("summary\n%+v\nwant\n%+v", sum, want)
	}
	if got := sum.ByFault[FaultTypo]; !maps.Equal(got, want.ByStatus) {
		t.Errorf("statuses of TYPO submissions %v, want %v", got, want.ByStatus)
	}
	// Jitter fixed at 0: Retry-After honoured exactly (3 s twice for a, 1 s for g), back-off
	// drawn from the lower end of its upper half, doubling from 500 ms (b: 250 ms; c: 250,
	// 500 ms, 1 s, 2 s, 4 s; g after its 408: 500 ms).
	ms := time.Millisecond
	wantSleeps := []time.Duration{3 * time.Second, 3 * time.Second, 250 * ms, 250 * ms, 500 * ms, time.Second, 2 * time.Second, 4 * time.Second, time.Second, 500 * ms}
	if !slices.Equal(clk.sleeps, wantSleeps) {
		t.Errorf("waits %v, want %v", clk.sleeps, wantSleeps)
	}
	if !strings.Contains(progress.String(), "accepted 2  duplicate 1  refused 2  given up 2  retries 10") {
		t.Errorf("last progress line %q", progress.String())
	}
	for _, line := range []string{"given up 2 (outcome unknown 2)", "given up, 503 KAFKA_UNAVAILABLE: 1", "refused ID_CONFLICT: 1"} {
		if !strings.Contains(sum.String(), line) {
			t.Errorf("summary text lacks %q:\n%s", line, sum)
		}
	}
}

func TestRetryWait(t *testing.T) {
	cfg := DefaultReplayConfig()
	for _, tt := range []struct {
		n          int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{1, 0, 0, 250 * time.Millisecond},
		{1, 0, 0.5, 375 * time.Millisecond},
		{3, 0, 0, time.Second},
		{7, 0, 0, 15 * time.Second}, // 500 ms << 6 = 32 s, capped at 30 s
		{7, 0, 0.999, 29985 * time.Millisecond},
		{200, 0, 0, 15 * time.Second}, // no overflow however many tries
		{2, 4 * time.Second, 0, 4 * time.Second},
		{2, 4 * time.Second, 0.5, 4500 * time.Millisecond}, // a quarter of it at most
		{2, 100 * time.Second, 0, 100 * time.Second},       // Retry-After is not capped by MaxRetryWait
	} {
		cfg.jitter = func() float64 { return tt.jitter }
		if got := retryWait(cfg, tt.n, tt.retryAfter); got != tt.want {
			t.Errorf("retryWait(try %d, Retry-After %v, jitter %v) = %v, want %v", tt.n, tt.retryAfter, tt.jitter, got, tt.want)
		}
	}
}

// TestReplayUnknownOutcomeRetried: a report sent whole whose answer never came (the
// connection cut after the body was read, or no answer within RequestTimeout) is retried with
// the same id; the retry's duplicate receipt counts it stored once. A server that cannot be
// reached stored nothing: giving up on it is not an unknown outcome.
func TestReplayUnknownOutcomeRetried(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var sub schemas.Submission
		_ = json.Unmarshal(body, &sub)
		mu.Lock()
		seen[sub.SubmissionID]++
		n := seen[sub.SubmissionID]
		mu.Unlock()
		switch {
		case n == 1 && sub.SubmissionID == "cut":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case n == 1 && sub.SubmissionID == "slow":
			<-r.Context().Done() // the client's timeout ends it
			return
		case n == 1:
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"submission_id":"`+sub.SubmissionID+`"}`)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"submission_id":"`+sub.SubmissionID+`","duplicate":true}`)
	}))
	t.Cleanup(srv.Close)
	rc := testReplayConfig(srv.URL, &fakeClock{})
	rc.Speed, rc.Concurrency, rc.RequestTimeout = 0, 1, 200*time.Millisecond
	events := handMadeEvents(time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime), []string{"cut", "slow", "fine"}, make([]time.Duration, 3))
	sum, err := Replay(context.Background(), rc, slices.Values(events))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 1 || sum.DuplicateAccepted != 2 || sum.GivenUp != 0 || sum.OutcomeUnknown != 2 || sum.Retries != 2 || seen["cut"] != 2 || seen["slow"] != 2 {
		t.Errorf("summary %+v, requests %v: want cut and slow retried once each and stored once", sum, seen)
	}

	// Nobody listens: each try is refused before anything is sent.
	rc = testReplayConfig(closedURL(t), &fakeClock{})
	rc.Speed, rc.RetryBudget = 0, 3*time.Second
	sum, err = Replay(context.Background(), rc, slices.Values(events[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if sum.GivenUp != 1 || sum.Unknown != 0 || sum.OutcomeUnknown != 0 || sum.GivenUpBy["connection refused"] != 1 || sum.Requests < 3 {
		t.Errorf("summary %+v: want given up after the budget, connection refused, nothing unknown", sum)
	}
}

// closedURL is the URL of a port nobody listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	return url
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
		"negative tries":  func(c *ReplayConfig) { c.MaxAttempts = -1 },
		"negative budget": func(c *ReplayConfig) { c.RetryBudget = -time.Second },
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
