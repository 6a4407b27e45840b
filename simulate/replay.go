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
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"votestream/internal/backoff"
)

// ErrReplay is wrapped by errors that stop a replay before its end.
var ErrReplay = errors.New("simulate: replay")

// ReplayConfig says where and how fast to send a night.
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
	// MaxAttempts bounds the sends of one submission (the first included); 503, 429, 502,
	// 504 and transport errors are retried with the same body and submission_id.
	// Default 5.
	MaxAttempts int
	// RetryBackoff is the first wait before a retry that got no Retry-After; it doubles
	// each attempt. Default 200ms.
	RetryBackoff time.Duration
	// MaxRetryWait caps one wait, Retry-After included. Default 30s.
	MaxRetryWait time.Duration
	// RequestTimeout bounds one HTTP request. Default 10s.
	RequestTimeout time.Duration
	// Progress receives a progress line every ProgressEvery and a last one at the end; nil
	// prints nothing. The CLI passes os.Stderr. Default nil, every 1s.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Client sends the requests; nil builds one sized for Concurrency.
	Client *http.Client

	clock clock // nil: the real clock; tests inject a fake one
}

// DefaultReplayConfig is 60x speed, 32 in flight, 5 attempts; URL and Token are left to set.
func DefaultReplayConfig() ReplayConfig {
	return ReplayConfig{
		Speed:          60,
		Concurrency:    32,
		MaxAttempts:    5,
		RetryBackoff:   200 * time.Millisecond,
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
	case c.MaxAttempts < 1:
		return bad("replay MaxAttempts = %d, want at least 1", c.MaxAttempts)
	case c.RetryBackoff <= 0 || c.MaxRetryWait <= 0 || c.RequestTimeout <= 0:
		return bad("replay RetryBackoff, MaxRetryWait and RequestTimeout must be positive")
	case c.Progress != nil && c.ProgressEvery <= 0:
		return bad("replay ProgressEvery = %v, want positive", c.ProgressEvery)
	}
	return nil
}

// Summary is what a replay did. Statuses are each submission's last answer; 0 stands for a
// transport error (no answer).
type Summary struct {
	Events   int // submissions taken from the night
	Requests int // HTTP requests made, retries included
	Accepted int // answered 2xx
	Refused  int // answered 4xx other than 429
	Failed   int // no 2xx or 4xx after MaxAttempts (5xx, 429 or transport errors)
	Retries  int
	ByStatus map[int]int
	// ByCode counts refusals by ingest's error code ({"error": {"code": ...}}).
	ByCode map[string]int
	// ByFault counts final statuses per fault kind of the submissions sent, so detection
	// scores can leave out what ingest refused.
	ByFault map[FaultKind]map[int]int
	// SimulatedTime is the time of the last event sent; Elapsed is wall-clock time.
	SimulatedTime time.Time
	Elapsed       time.Duration
}

// String is a short multi-line report.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events %d, requests %d, accepted %d, refused %d, failed %d, retries %d, simulated up to %s, in %s\n",
		s.Events, s.Requests, s.Accepted, s.Refused, s.Failed, s.Retries, s.SimulatedTime.Format("15:04:05"), s.Elapsed.Round(time.Millisecond))
	for _, st := range slices.Sorted(maps.Keys(s.ByStatus)) {
		fmt.Fprintf(&b, "  status %d: %d\n", st, s.ByStatus[st])
	}
	for _, c := range slices.Sorted(maps.Keys(s.ByCode)) {
		fmt.Fprintf(&b, "  code %s: %d\n", c, s.ByCode[c])
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
// cfg.Concurrency requests in flight, retrying 503/429 (honouring Retry-After) with the
// same submission_id up to cfg.MaxAttempts. It returns when every event was answered or
// given up on, or when ctx is done (then with ctx's error and the summary so far). An
// error from cfg.Token stops the replay. Replay blocks; it owns and waits for every
// goroutine it starts.
func Replay(ctx context.Context, cfg ReplayConfig, events iter.Seq[Event]) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	clk := cfg.clock
	if clk == nil {
		clk = realClock{}
	}
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
		sum:    Summary{ByStatus: map[int]int{}, ByCode: map[string]int{}, ByFault: map[FaultKind]map[int]int{}},
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
				if err := st.send(ctx, cfg, clk, client, endpoint, j); err != nil {
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
	fmt.Fprintf(w, "replay %s  sim %s  sent %d  accepted %d  refused %d  failed %d  retries %d  in flight %d\n",
		elapsed.Round(time.Second), sim, s.Events, s.Accepted, s.Refused, s.Failed, s.Retries, inFlight)
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

// send posts one submission until it is answered for good or attempts run out.
func (st *replayState) send(ctx context.Context, cfg ReplayConfig, clk clock, client *http.Client, endpoint string, j replayJob) error {
	tok, err := st.token(cfg, j.ev.Volunteer)
	if err != nil {
		return err
	}
	st.mu.Lock()
	st.inFlight++
	st.mu.Unlock()
	status, code := 0, ""
	// No jitter: the night's timing stays a function of its seed.
	retryCurve := backoff.Policy{Initial: cfg.RetryBackoff, Max: cfg.MaxRetryWait, Multiplier: 2}
	for attempt := 1; ; attempt++ {
		var retryAfter time.Duration
		status, code, retryAfter = post(ctx, cfg.RequestTimeout, client, endpoint, tok, j.body)
		st.mu.Lock()
		st.sum.Requests++
		st.mu.Unlock()
		if !retryable(status) || attempt >= cfg.MaxAttempts || ctx.Err() != nil {
			break
		}
		wait := min(retryAfter, cfg.MaxRetryWait)
		if wait <= 0 {
			wait = retryCurve.Delay(attempt)
		}
		st.mu.Lock()
		st.sum.Retries++
		st.mu.Unlock()
		if clk.Sleep(ctx, wait) != nil {
			break
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.inFlight--
	s := &st.sum
	s.ByStatus[status]++
	switch {
	case status >= 200 && status < 300:
		s.Accepted++
	case status >= 400 && status < 500 && status != http.StatusTooManyRequests:
		s.Refused++
	default:
		s.Failed++
	}
	if code != "" {
		s.ByCode[code]++
	}
	for _, f := range j.ev.Faults {
		if s.ByFault[f.Kind] == nil {
			s.ByFault[f.Kind] = map[int]int{}
		}
		s.ByFault[f.Kind][status]++
	}
	return nil
}

func retryable(status int) bool {
	switch status {
	case 0, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// post makes one request and returns the status (0 on a transport error), ingest's error
// code if any, and the Retry-After it asked for.
func post(ctx context.Context, timeout time.Duration, client *http.Client, endpoint, token string, body []byte) (int, string, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	code := ""
	if resp.StatusCode >= 400 {
		code = errorCode(data)
	}
	return resp.StatusCode, code, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
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
