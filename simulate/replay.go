package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"votestream/internal/backoff"
)

// ErrReplay is wrapped by errors that stop a replay before its end.
var ErrReplay = errors.New("simulate: replay")

// ReplayConfig says where and how fast to send a night.
//
// The client behaves like a volunteer's phone on a poor link: it keeps a report until it gets
// a definite answer (2xx, or a refusal with a code) or its RetryBudget runs out, waiting
// between tries with capped exponential back-off and jitter (or the server's Retry-After),
// and always resending the same body with the same submission_id, so a report whose outcome
// was unknown (a timeout, a connection cut after sending, a 503 KAFKA_UNAVAILABLE) is never
// written twice nor counted as lost while it may have been written.
type ReplayConfig struct {
	// URL is ingest's base URL; submissions go to URL + "/v1/submissions". CLI: --ingest.
	URL string
	// Token returns the bearer token of a volunteer. The CLI wires ingest's token issuer;
	// tokens are cached per volunteer id for the whole replay. Required.
	Token func(v Volunteer) (string, error)
	// Speed is simulated time per wall-clock time: 60 sends a 4-hour night in 4 minutes;
	// 0 sends as fast as Concurrency allows. CLI: --speed. Default 60.
	Speed float64
	// Concurrency bounds the requests in flight. CLI: --concurrency. Default 32.
	Concurrency int
	// RetryBudget bounds how long one submission is retried, counted from its first send:
	// a phone keeps trying for minutes, through an outage of ingest or Kafka. A retry that
	// would start after the budget is not made and the submission is given up, with the
	// reason of its last try. CLI: --retry-budget. Default 10m.
	RetryBudget time.Duration
	// MaxAttempts bounds the sends of one submission (the first included) as well; 0, the
	// default, leaves only RetryBudget. CLI: --max-attempts.
	MaxAttempts int
	// RetryBackoff is the first wait before a retry that got no Retry-After; it doubles
	// each attempt up to MaxRetryWait, and each wait is drawn uniformly from its upper half
	// (jitter), so phones cut off together do not come back together. Default 500ms.
	RetryBackoff time.Duration
	// MaxRetryWait caps the back-off. A Retry-After is honoured even when longer (it is the
	// server's word), up to the remaining budget, plus jitter of up to a quarter of it.
	// Default 30s.
	MaxRetryWait time.Duration
	// RequestTimeout bounds one HTTP request. A request that times out after it was sent has
	// an unknown outcome: it is retried with the same id. Default 10s.
	RequestTimeout time.Duration
	// Progress receives a progress line every ProgressEvery and a last one at the end; nil
	// prints nothing. The CLI passes os.Stderr. Default nil, every 1s.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Client sends the requests; nil builds one sized for Concurrency.
	Client *http.Client

	clock  clock          // nil: the real clock; tests inject a fake one
	jitter func() float64 // in [0, 1); nil: math/rand/v2. Tests fix it.
}

// DefaultReplayConfig is 60x speed, 32 in flight, a 10-minute retry budget per submission;
// URL and Token are left to set.
func DefaultReplayConfig() ReplayConfig {
	return ReplayConfig{
		Speed:          60,
		Concurrency:    32,
		RetryBudget:    10 * time.Minute,
		RetryBackoff:   500 * time.Millisecond,
		MaxRetryWait:   30 * time.Second,
		RequestTimeout: 10 * time.Second,
		ProgressEvery:  time.Second,
	}
}

// Validate checks the replay settings.
func (c ReplayConfig) Validate() error {
	switch {
	case !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		return bad("replay URL %q, want http:// or https://", c.URL)
	case c.Token == nil:
		return bad("replay Token is not set")
	case !(c.Speed >= 0):
		return bad("replay Speed = %v, want >= 0", c.Speed)
	case c.Concurrency < 1:
		return bad("replay Concurrency = %d, want at least 1", c.Concurrency)
	case c.MaxAttempts < 0:
		return bad("replay MaxAttempts = %d, want 0 (no bound but the budget) or more", c.MaxAttempts)
	case c.RetryBudget < 0:
		return bad("replay RetryBudget = %v, want >= 0 (0: no retry)", c.RetryBudget)
	case c.RetryBackoff <= 0 || c.MaxRetryWait <= 0 || c.RequestTimeout <= 0:
		return bad("replay RetryBackoff, MaxRetryWait and RequestTimeout must be positive")
	case c.Progress != nil && c.ProgressEvery <= 0:
		return bad("replay ProgressEvery = %v, want positive", c.ProgressEvery)
	}
	return nil
}

// Summary is what a replay did. Every submission ends in exactly one of Accepted,
// DuplicateAccepted, Refused and GivenUp.
type Summary struct {
	Events   int // submissions taken from the night
	Requests int // HTTP requests made, retries included
	// Accepted got a first receipt (2xx).
	Accepted int
	// DuplicateAccepted got a receipt marked duplicate: ingest had already stored that
	// submission_id, from an earlier try whose answer was lost or from a deliberate resend
	// (a DUPLICATE fault). Stored once either way.
	DuplicateAccepted int
	// Refused got a definite refusal: a 4xx other than 408 and 429 (counted by code in ByCode).
	Refused int
	// GivenUp got no definite answer within the retry budget (or MaxAttempts), or was still
	// being retried when the replay was stopped; GivenUpBy says why (its last try).
	GivenUp int
	// Unknown counts the given-up submissions that may have been stored all the same: one of
	// their tries had an unknown outcome (sent, then a timeout, a cut connection, a 500, 502
	// or 504, or a 503 KAFKA_UNAVAILABLE). They are not lost for certain; ingest's receipt
	// for their id would tell.
	Unknown int
	Retries int
	// OutcomeUnknown counts tries whose outcome was unknown (see Unknown), all submissions;
	// each was followed by a retry with the same id unless the budget had run out.
	OutcomeUnknown int
	// ByStatus counts each submission's last answer; 0 stands for no answer (a transport error).
	ByStatus map[int]int
	// ByCode counts refusals by ingest's error code ({"error": {"code": ...}}).
	ByCode map[string]int
	// GivenUpBy counts given-up submissions by the reason of their last try: a status and
	// code ("503 KAFKA_UNAVAILABLE"), "timeout", "connection refused", "connection lost",
	// "replay stopped".
	GivenUpBy map[string]int
	// ByFault counts final statuses per fault kind of the submissions sent, so detection
	// scores can leave out what ingest refused.
	ByFault map[FaultKind]map[int]int
	// SimulatedTime is the time of the last event sent; Elapsed is wall-clock time.
	SimulatedTime time.Time
	Elapsed       time.Duration
}

// Stored is the number of submissions ingest confirmed it holds (first or duplicate receipt).
func (s Summary) Stored() int { return s.Accepted + s.DuplicateAccepted }

// String is a short multi-line report.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events %d, requests %d, accepted %d, duplicate-accepted %d, refused %d, given up %d (outcome unknown %d), retries %d (after an unknown outcome %d), simulated up to %s, in %s\n",
		s.Events, s.Requests, s.Accepted, s.DuplicateAccepted, s.Refused, s.GivenUp, s.Unknown, s.Retries, s.OutcomeUnknown,
		s.SimulatedTime.Format("15:04:05"), s.Elapsed.Round(time.Millisecond))
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(&b, "  status %d: %d\n", st, s.ByStatus[st])
	}
	for _, c := range slices.Sorted(maps.Keys(s.ByCode)) {
		fmt.Fprintf(&b, "  refused %s: %d\n", c, s.ByCode[c])
	}
	for _, r := range slices.Sorted(maps.Keys(s.GivenUpBy)) {
		fmt.Fprintf(&b, "  given up, %s: %d\n", r, s.GivenUpBy[r])
	}
	for _, k := range slices.Sorted(maps.Keys(s.ByFault)) {
		fmt.Fprintf(&b, "  fault %s:", k)
		for _, st := range slices.Sorted(maps.Keys(s.ByFault[k])) {
			fmt.Fprintf(&b, " %d=%d", st, s.ByFault[k][st])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// clock is time as Replay sees it, so tests can check pacing and Retry-After without
// sleeping.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type replayJob struct {
	ev   Event
	body []byte
}

// replayState is the shared tally of a replay, guarded by mu.
type replayState struct {
	mu       sync.Mutex
	sum      Summary
	inFlight int
	tokens   map[string]string
}

// Replay sends events to ingest in time order, pacing them at cfg.Speed, with at most
// cfg.Concurrency requests in flight, retrying each submission with the same body and
// submission_id until a definite answer or cfg.RetryBudget (see ReplayConfig). It returns
// when every event was answered or given up on, or when ctx is done (then with ctx's error
// and the summary so far). An error from cfg.Token stops the replay. Replay blocks; it owns
// and waits for every goroutine it starts.
func Replay(ctx context.Context, cfg ReplayConfig, events iter.Seq[Event]) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if cfg.clock == nil {
		cfg.clock = realClock{}
	}
	if cfg.jitter == nil {
		cfg.jitter = rand.Float64
	}
	clk := cfg.clock
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.Concurrency,
			MaxConnsPerHost:     cfg.Concurrency,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	endpoint := strings.TrimSuffix(cfg.URL, "/") + "/v1/submissions"
	st := &replayState{
		sum: Summary{ByStatus: map[int]int{}, ByCode: map[string]int{}, GivenUpBy: map[string]int{},
			ByFault: map[FaultKind]map[int]int{}},
		tokens: map[string]string{},
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := clk.Now()

	jobs := make(chan replayJob)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				if err := st.send(ctx, cfg, client, endpoint, j); err != nil {
					cancel(err)
				}
			}
		})
	}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					st.progress(cfg.Progress, clk.Now().Sub(start))
				case <-progressDone:
					return
				}
			}
		})
	}

	var dispatchErr error
	var first time.Time
	for ev := range events {
		if first.IsZero() {
			first = ev.At
		}
		if cfg.Speed > 0 {
			due := start.Add(time.Duration(float64(ev.At.Sub(first)) / cfg.Speed))
			if err := clk.Sleep(ctx, due.Sub(clk.Now())); err != nil {
				dispatchErr = err
				break
			}
		}
		body, err := json.Marshal(ev.Submission)
		if err != nil {
			dispatchErr = fmt.Errorf("%w: encode submission %s: %w", ErrReplay, ev.Submission.SubmissionID, err)
			break
		}
		st.mu.Lock()
		st.sum.Events++
		st.sum.SimulatedTime = ev.At
		st.mu.Unlock()
		select {
		case jobs <- replayJob{ev: ev, body: body}:
			continue
		case <-ctx.Done():
			dispatchErr = ctx.Err()
		}
		break
	}
	close(jobs)
	wg.Wait()
	close(progressDone)
	progressWG.Wait()

	st.mu.Lock()
	sum := st.sum
	sum.Elapsed = clk.Now().Sub(start)
	st.mu.Unlock()
	if cfg.Progress != nil {
		st.progress(cfg.Progress, sum.Elapsed)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return sum, cause
	}
	if dispatchErr != nil {
		return sum, dispatchErr
	}
	return sum, ctx.Err()
}

func (st *replayState) progress(w io.Writer, elapsed time.Duration) {
	st.mu.Lock()
	s, inFlight := st.sum, st.inFlight
	st.mu.Unlock()
	sim := "--:--:--"
	if !s.SimulatedTime.IsZero() {
		sim = s.SimulatedTime.Format("15:04:05")
	}
	fmt.Fprintf(w, "replay %s  sim %s  sent %d  accepted %d  duplicate %d  refused %d  given up %d  retries %d  in flight %d\n",
		elapsed.Round(time.Second), sim, s.Events, s.Accepted, s.DuplicateAccepted, s.Refused, s.GivenUp, s.Retries, inFlight)
}

func (st *replayState) token(cfg ReplayConfig, v Volunteer) (string, error) {
	st.mu.Lock()
	tok, ok := st.tokens[v.ID]
	st.mu.Unlock()
	if ok {
		return tok, nil
	}
	tok, err := cfg.Token(v)
	if err != nil {
		return "", fmt.Errorf("%w: token for volunteer %s: %w", ErrReplay, v.ID, err)
	}
	st.mu.Lock()
	st.tokens[v.ID] = tok
	st.mu.Unlock()
	return tok, nil
}

// send posts one submission until it is answered for good or its retry budget runs out.
func (st *replayState) send(ctx context.Context, cfg ReplayConfig, client *http.Client, endpoint string, j replayJob) error {
	tok, err := st.token(cfg, j.ev.Volunteer)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.inFlight++
	st.mu.Unlock()
	clk := cfg.clock
	deadline := clk.Now().Add(cfg.RetryBudget)
	var a attempt
	mayBeStored := false
	for n := 1; ; n++ {
		a = post(ctx, cfg.RequestTimeout, client, endpoint, tok, j.body)
		unknown := a.outcomeUnknown()
		mayBeStored = mayBeStored || unknown
		st.mu.Lock()
		st.sum.Requests++
		if unknown {
			st.sum.OutcomeUnknown++
		}
		st.mu.Unlock()
		if a.definite() || ctx.Err() != nil || (cfg.MaxAttempts > 0 && n >= cfg.MaxAttempts) {
			break
		}
		wait := retryWait(cfg, n, a.retryAfter)
		if clk.Now().Add(wait).After(deadline) {
			break
		}
		st.mu.Lock()
		st.sum.Retries++
		st.mu.Unlock()
		if clk.Sleep(ctx, wait) != nil {
			break
		}
	}
	st.tally(j, a, mayBeStored, ctx.Err() != nil)
	return nil
}

// tally records one submission's end.
func (st *replayState) tally(j replayJob, a attempt, mayBeStored, stopped bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.inFlight--
	s := &st.sum
	s.ByStatus[a.status]++
	switch {
	case a.definite() && a.status < 300 && a.duplicate:
		s.DuplicateAccepted++
	case a.definite() && a.status < 300:
		s.Accepted++
	case a.definite():
		s.Refused++
		if a.code != "" {
			s.ByCode[a.code]++
		}
	default:
		s.GivenUp++
		reason := a.reason()
		if stopped {
			reason = "replay stopped"
		}
		s.GivenUpBy[reason]++
		if mayBeStored {
			s.Unknown++
		}
	}
	for _, f := range j.ev.Faults {
		if s.ByFault[f.Kind] == nil {
			s.ByFault[f.Kind] = map[int]int{}
		}
		s.ByFault[f.Kind][a.status]++
	}
}

// retryWait is the wait before try n+1: the server's Retry-After plus up to a quarter of it,
// or capped exponential back-off drawn from its upper half.
func retryWait(cfg ReplayConfig, n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter + time.Duration(cfg.jitter()*float64(retryAfter)/4)
	}
	// The project's one curve, without its own jitter: the replay's comes from cfg.jitter,
	// which tests fix.
	wait := backoff.Policy{Initial: cfg.RetryBackoff, Max: cfg.MaxRetryWait, Multiplier: 2}.Delay(n)
	return wait/2 + time.Duration(cfg.jitter()*float64(wait/2))
}

// attempt is what one request came to.
type attempt struct {
	status     int    // 0: no answer
	code       string // ingest's error code, if any
	duplicate  bool   // a 2xx receipt marked duplicate
	retryAfter time.Duration
	sent       bool   // the request was written whole (an answer may have been lost after)
	transport  string // the transport error's kind when status is 0
}

// definite: stored (2xx) or refused for good (4xx other than 408 and 429).
func (a attempt) definite() bool {
	switch {
	case a.status >= 200 && a.status < 300:
		return true
	case a.status == http.StatusRequestTimeout || a.status == http.StatusTooManyRequests:
		return false
	default:
		return a.status >= 400 && a.status < 500
	}
}

// outcomeUnknown: the report may have been stored although no receipt came back. Ingest
// answers 503 KAFKA_UNAVAILABLE when Kafka did not acknowledge in time, and the record may
// still be written after; a proxy's 502 or 504 may hide a stored report; a request written
// whole and then cut off or timed out may have been stored. A request never sent, 429, and
// ingest's 503 STARTING or STORE_UNAVAILABLE stored nothing.
func (a attempt) outcomeUnknown() bool {
	switch a.status {
	case 0:
		return a.sent
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	case http.StatusServiceUnavailable:
		return a.code == "" || a.code == "KAFKA_UNAVAILABLE"
	}
	return false
}

// reason names the attempt for the summary of given-up submissions.
func (a attempt) reason() string {
	if a.status == 0 {
		return a.transport
	}
	if a.code != "" {
		return strconv.Itoa(a.status) + " " + a.code
	}
	return strconv.Itoa(a.status)
}

// post makes one request and says what came of it.
func post(ctx context.Context, timeout time.Duration, client *http.Client, endpoint, token string, body []byte) attempt {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var a attempt
	var mu sync.Mutex // WroteRequest may run on the transport's goroutine
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		mu.Lock()
		a.sent = a.sent || i.Err == nil
		mu.Unlock()
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		a.transport = "bad request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		a.transport = transportReason(ctx, err)
		return a
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.status = resp.StatusCode
	switch {
	case err != nil && a.status < 300:
		// The receipt was cut off: the report may be stored, and only a retry tells.
		a.status, a.sent, a.transport = 0, true, transportReason(ctx, err)
		return a
	case a.status >= 400:
		a.code = errorCode(data)
	case a.status < 300:
		a.duplicate = receiptDuplicate(data)
	}
	a.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return a
}

// transportReason names a transport error for the summary.
func transportReason(ctx context.Context, err error) string {
	var op *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout"
	case ctx.Err() != nil:
		return "replay stopped"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &op) && op.Op == "dial":
		return "cannot connect"
	default:
		return "connection lost"
	}
}

// receiptDuplicate reads the duplicate mark of ingest's receipt.
func receiptDuplicate(body []byte) bool {
	var r struct {
		Duplicate bool `json:"duplicate"`
	}
	return json.Unmarshal(body, &r) == nil && r.Duplicate
}

// errorCode finds ingest's error code in {"error": {"code": ...}}, {"error": "..."} or
// {"code": ...}; "" when the body says none.
func errorCode(body []byte) string {
	var v struct {
		Code  string          `json:"code"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var nested struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(v.Error, &nested) == nil && nested.Code != "" {
		return nested.Code
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil && s != "" {
		return s
	}
	return v.Code
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 86400)) * time.Second // a day is already beyond any MaxRetryWait
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
