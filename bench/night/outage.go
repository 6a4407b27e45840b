package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"votestream/simulate"
)

// privateKafka is a single broker of this benchmark's own, started by scripts/services with
// its state in a folder of ours (as testenv.OwnKafka does for tests), so it may be stopped:
// the shared broker must never be.
type privateKafka struct {
	env  []string
	addr string
}

func startPrivateKafka(dir string) (*privateKafka, error) {
	port, err := freePortPair()
	if err != nil {
		return nil, err
	}
	k := &privateKafka{addr: "127.0.0.1:" + strconv.Itoa(port), env: append(os.Environ(),
		"VOTESTREAM_VAR="+filepath.Join(dir, "kafka-var"), "VOTESTREAM_KAFKA_PORT="+strconv.Itoa(port),
		"VOTESTREAM_KAFKA_BROKERS=1", "VOTESTREAM_SERVICES=local")}
	return k, k.services("up")
}

func (k *privateKafka) services(verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "scripts/services", verb, "kafka")
	cmd.Env = k.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/services %s kafka (private broker %s): %v\n%s", verb, k.addr, err, out.String())
	}
	return nil
}

// freePortPair finds p with p and p+1 (broker, controller) free, below the ephemeral range.
func freePortPair() (int, error) {
	var b [2]byte
	for range 100 {
		_, _ = rand.Read(b[:])
		p := 20000 + int(b[0])<<8%12000 + int(b[1])
		l1, err1 := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		l2, err2 := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if l1 != nil {
			l1.Close()
		}
		if l2 != nil {
			l2.Close()
		}
		if err1 == nil && err2 == nil {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free pair of ports")
}

// outagePhase replays the busiest window at the peak speed against a pipeline on a private
// broker, stops the broker for o.outage a third of the way in, starts it again, and prints
// outage_catchup_s: from the broker's return to the feed showing results covering every
// report the phones had sent before it returned (retried through the outage with the same
// ids). Reports that change no result never show, so "every" is taken as: the count of
// those still missing stopped falling for -quiet (at least 45 s, more than the phones'
// longest back-off); the time of its last fall is used.
func outagePhase(ctx context.Context, o options, bin, dir, countryDir, keysFile, id string, night *simulate.Night, tokens func(simulate.Volunteer) (string, error)) error {
	from, to, n := busiest(night, time.Hour, o.peak)
	fmt.Fprintf(os.Stderr, "# outage: starting a private broker; %d submissions between %s and %s (simulated) at %gx, Kafka away for %s\n",
		n, from.Format("15:04"), to.Format("15:04"), o.peakSpeed, o.outage)
	k, err := startPrivateKafka(dir)
	if err != nil {
		return err
	}
	defer func() { _ = k.services("down") }()
	po := o
	po.kafka = k.addr
	pl, err := startPipeline(ctx, po, bin, dir, countryDir, keysFile, id)
	if err != nil {
		return err
	}
	defer pl.close()

	acks := &ackLog{pending: map[string][]ack{}}
	tr := &sentTransport{ackTransport: ackTransport{next: &http.Transport{MaxIdleConnsPerHost: o.concurrency}, acks: acks}, first: map[string]time.Time{}}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		// The feed answers 503 while Kafka is away, and its cursor may be refused after: start over.
		for watchCtx.Err() == nil {
			if err := followChanges(watchCtx, "http://"+pl.feedAddr, pl.feedKey, acks); err != nil && watchCtx.Err() == nil {
				fmt.Fprintf(os.Stderr, "# outage: feed: %v (asking again)\n", err)
				select {
				case <-watchCtx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()

	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency, rc.Token = "http://"+pl.ingestAddr, o.peakSpeed, o.concurrency, tokens
	rc.Progress, rc.ProgressEvery = os.Stderr, 30*time.Second
	rc.Client = &http.Client{Transport: tr}
	events := func(yield func(simulate.Event) bool) {
		for ev := range night.Events() {
			if !ev.At.Before(from) && ev.At.Before(to) && !yield(ev) {
				return
			}
		}
	}
	replayDone := make(chan error, 1)
	go func() {
		sum, err := simulate.Replay(ctx, rc, iter.Seq[simulate.Event](events))
		fmt.Fprintln(os.Stderr, "# "+sum.String())
		replayDone <- err
	}()
	wall := time.Duration(float64(to.Sub(from)) / o.peakSpeed)
	time.Sleep(wall / 3)
	fmt.Fprintf(os.Stderr, "# outage: stopping the private broker\n")
	if err := k.services("down"); err != nil {
		return err
	}
	time.Sleep(o.outage)
	if err := k.services("up"); err != nil {
		return err
	}
	back := time.Now()
	before := tr.sentBefore(back)
	fmt.Fprintf(os.Stderr, "# outage: broker back; %d reports had been sent before\n", len(before))

	// Follow the reports sent before the return until their missing count stops falling.
	// The phones' back-off reaches 30 s (simulate.ReplayConfig.MaxRetryWait) and the roles'
	// own reconnection waits as long: the count must stay put for -quiet (at least 45 s)
	// after the replay has ended before the catch-up is taken as done; 10 minutes at most.
	quiet := max(o.quiet, 45*time.Second)
	lastFall, missing := back, acks.missing(before)
	var replayErr error
	replayEnded := time.Time{}
	for replayEnded.IsZero() || time.Since(lastFall) < quiet || time.Since(replayEnded) < quiet {
		if m := acks.missing(before); m < missing {
			missing, lastFall = m, time.Now()
		}
		if time.Since(back) > 10*time.Minute {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case replayErr = <-replayDone:
			replayEnded = time.Now()
			replayDone = nil
		case <-time.After(500 * time.Millisecond):
		}
	}
	if replayErr != nil {
		return replayErr
	}
	catchup := lastFall.Sub(back).Seconds()
	if lastFall == back {
		return fmt.Errorf("none of the %d reports sent before the broker's return showed in the feed after it (waited %s after the replay's end)", missing, quiet)
	}
	fmt.Fprintf(os.Stderr, "# outage: caught up %.1fs after the broker's return (%d of %d reports sent before it never showed: no result change)\n",
		catchup, missing, len(before))
	fmt.Printf("BENCH name=outage_catchup_s value=%s unit=s\n", strconv.FormatFloat(float64(int(catchup*10))/10, 'f', -1, 64))
	return nil
}

// sentTransport is ackTransport that also notes each submission's first send.
type sentTransport struct {
	ackTransport
	mu    sync.Mutex
	first map[string]time.Time // submission id -> first send
}

func (t *sentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			body.Close()
			var sub struct {
				ID string `json:"submission_id"`
			}
			if json.Unmarshal(b, &sub) == nil && sub.ID != "" {
				t.mu.Lock()
				if _, ok := t.first[sub.ID]; !ok {
					t.first[sub.ID] = time.Now()
				}
				t.mu.Unlock()
			}
		}
	}
	return t.ackTransport.RoundTrip(r)
}

// sentBefore is the submission ids first sent before at.
func (t *sentTransport) sentBefore(at time.Time) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]bool{}
	for id, first := range t.first {
		if first.Before(at) {
			out[id] = true
		}
	}
	return out
}
