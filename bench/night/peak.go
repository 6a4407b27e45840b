package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"votestream/simulate"
)

// peakPhase replays the busiest o.peak of simulated time of the night (within its busiest
// hour) at o.peakSpeed against a fresh pipeline and prints peak_report_to_feed_p99_s: from
// ingest's 202 for a report to the feed's /v1/feed/changes first showing a result of that
// station and ballot whose updated_at (the received_at of its newest input) is at or after
// the report's received_at (from its receipt). Records of one station are consumed in order,
// so that result has taken the report into account. A report that changes no result (a
// duplicate of an accepted one, a correction the rules keep out) is never matched and is
// counted apart.
func peakPhase(ctx context.Context, o options, bin, dir, countryDir, keysFile, id string, night *simulate.Night, tokens func(simulate.Volunteer) (string, error)) error {
	from, to, n := busiest(night, time.Hour, o.peak)
	fmt.Fprintf(os.Stderr, "# peak: %d submissions between %s and %s (simulated), replayed at %gx\n",
		n, from.Format("15:04"), to.Format("15:04"), o.peakSpeed)
	pl, err := startPipeline(ctx, o, bin, dir, countryDir, keysFile, id)
	if err != nil {
		return err
	}
	defer pl.close()

	acks := &ackLog{pending: map[string][]ack{}}
	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	var watchErr error
	go func() { defer wg.Done(); watchErr = followChanges(watchCtx, "http://"+pl.feedAddr, pl.feedKey, acks) }()

	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency, rc.Token = "http://"+pl.ingestAddr, o.peakSpeed, o.concurrency, tokens
	rc.Progress, rc.ProgressEvery = os.Stderr, 30*time.Second
	rc.Client = &http.Client{Transport: &ackTransport{next: &http.Transport{MaxIdleConnsPerHost: o.concurrency}, acks: acks}}
	events := func(yield func(simulate.Event) bool) {
		for ev := range night.Events() {
			if !ev.At.Before(from) && ev.At.Before(to) && !yield(ev) {
				return
			}
		}
	}
	sum, err := simulate.Replay(ctx, rc, iter.Seq[simulate.Event](events))
	fmt.Fprintln(os.Stderr, "# "+sum.String())
	if err != nil {
		stopWatch()
		wg.Wait()
		return err
	}
	// Reports still unmatched after a minute never changed a result.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && acks.open() > 0 {
		time.Sleep(500 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()
	if watchErr != nil && ctx.Err() == nil {
		return watchErr
	}
	lats, open := acks.result()
	if len(lats) == 0 {
		return fmt.Errorf("no acknowledged report was seen in the feed")
	}
	slices.Sort(lats)
	q := func(p float64) float64 { return lats[min(len(lats)-1, int(p*float64(len(lats))))].Seconds() }
	fmt.Fprintf(os.Stderr, "# peak: %d reports matched in the feed, %d never changed a result; acknowledgement to feed p50 %.2fs, p90 %.2fs, p99 %.2fs, max %.2fs\n",
		len(lats), open, q(.5), q(.9), q(.99), q(1))
	fmt.Printf("BENCH name=peak_report_to_feed_p50_s value=%s unit=s\n", strconv.FormatFloat(float64(int(q(.5)*100))/100, 'f', -1, 64))
	fmt.Printf("BENCH name=peak_report_to_feed_p99_s value=%s unit=s\n", strconv.FormatFloat(float64(int(q(.99)*100))/100, 'f', -1, 64))
	fmt.Printf("BENCH name=peak_submissions_per_second value=%.0f unit=submissions/s\n", float64(sum.Accepted)/sum.Elapsed.Seconds())
	return nil
}

// busiest returns the window of length d, inside the hour (starting on a 5-minute mark)
// with the most submissions, that has the most submissions, and how many it has.
func busiest(night *simulate.Night, hour, d time.Duration) (time.Time, time.Time, int) {
	const step = 5 * time.Minute
	counts := map[time.Time]int{}
	for ev := range night.Events() {
		counts[ev.At.Truncate(step)]++
	}
	window := func(from time.Time, length time.Duration) int {
		n := 0
		for t := from; t.Before(from.Add(length)); t = t.Add(step) {
			n += counts[t]
		}
		return n
	}
	var best time.Time
	bestN := -1
	for t := range counts {
		if n := window(t, hour); n > bestN || (n == bestN && t.Before(best)) {
			best, bestN = t, n
		}
	}
	d = min(max(d.Truncate(step), step), hour)
	from, fromN := best, -1
	for t := best; !t.Add(d).After(best.Add(hour)); t = t.Add(step) {
		if n := window(t, d); n > fromN {
			from, fromN = t, n
		}
	}
	return from, from.Add(d), fromN
}

// ackLog keeps, per station and ballot, the acknowledgements not yet seen in the feed.
type ackLog struct {
	mu      sync.Mutex
	pending map[string][]ack
	lats    []time.Duration
	shown   map[string]bool // submission ids a result in the feed covers
}

type ack struct {
	id           string
	at, received time.Time // our clock at the 202; ingest's received_at
}

func (a *ackLog) ack(key, id string, at, received time.Time) {
	a.mu.Lock()
	a.pending[key] = append(a.pending[key], ack{id, at, received})
	a.mu.Unlock()
}

// missing counts the ids not yet covered by a result in the feed.
func (a *ackLog) missing(ids map[string]bool) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for id := range ids {
		if !a.shown[id] {
			n++
		}
	}
	return n
}

// seen resolves, at now, every acknowledgement of key whose report a result updated at
// updated covers.
func (a *ackLog) seen(key string, updated, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[key]
	keep := p[:0]
	for _, k := range p {
		if k.received.After(updated) {
			keep = append(keep, k)
			continue
		}
		a.lats = append(a.lats, now.Sub(k.at))
		if a.shown == nil {
			a.shown = map[string]bool{}
		}
		a.shown[k.id] = true
	}
	if len(keep) == 0 {
		delete(a.pending, key)
	} else {
		a.pending[key] = keep
	}
}

func (a *ackLog) open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, p := range a.pending {
		n += len(p)
	}
	return n
}

func (a *ackLog) result() ([]time.Duration, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, p := range a.pending {
		n += len(p)
	}
	return slices.Clone(a.lats), n
}

// ackTransport notes the moment ingest answers 202 to a submission, by station and ballot.
type ackTransport struct {
	next http.RoundTripper
	acks *ackLog
}

func (t *ackTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var sub struct {
		ID        string `json:"submission_id"`
		StationID string `json:"station_id"`
		Ballot    string `json:"ballot"`
	}
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			body.Close()
			_ = json.Unmarshal(b, &sub)
		}
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusAccepted || sub.StationID == "" {
		return resp, err
	}
	now := time.Now()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var receipt struct {
		ReceivedAt time.Time `json:"received_at"`
		Duplicate  bool      `json:"duplicate"`
	}
	if err == nil && json.Unmarshal(b, &receipt) == nil && !receipt.Duplicate {
		t.acks.ack(sub.StationID+"/"+sub.Ballot, sub.ID, now, receipt.ReceivedAt)
	}
	return resp, err
}

// followChanges polls the feed's change list, as a newsroom would, as fast as it answers,
// and resolves acknowledgements as results of their station and ballot appear.
func followChanges(ctx context.Context, base, key string, acks *ackLog) error {
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(u string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("feed changes: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		return b, err
	}
	var answer struct {
		NextCursor string `json:"next_cursor"`
		More       bool   `json:"more"`
		Changes    []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"changes"`
	}
	cursor := ""
	for ctx.Err() == nil {
		u := base + "/v1/feed/changes?limit=1000"
		if cursor != "" {
			u += "&since=" + url.QueryEscape(cursor)
		}
		b, err := get(u)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := time.Now()
		answer.Changes, answer.More = nil, false
		if err := json.Unmarshal(b, &answer); err != nil {
			return fmt.Errorf("feed changes: %w", err)
		}
		for _, c := range answer.Changes {
			if c.Type != "result" {
				continue
			}
			var r struct {
				StationID string    `json:"station_id"`
				Ballot    string    `json:"ballot"`
				UpdatedAt time.Time `json:"updated_at"`
			}
			if json.Unmarshal(c.Data, &r) == nil {
				acks.seen(r.StationID+"/"+r.Ballot, r.UpdatedAt, now)
			}
		}
		cursor = answer.NextCursor
		if !answer.More {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
