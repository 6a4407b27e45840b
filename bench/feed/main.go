// Command feed measures the newsroom feed (sinks/feed) fed by the real Kafka broker
// (VOTESTREAM_KAFKA) on fresh topics, over real loopback HTTP:
//
//   - feed_over_bare: /v1/feed/summary requests a second through the feed, divided by those
//     of a bare net/http server answering the same bytes (16 keep-alive clients, identity
//     encoding, the best of three 3 s runs each);
//   - feed_sse_fanout_p99_ms: 1,000 event streams open, an estimate produced to Kafka, the
//     time until each stream has its `estimate` event; p99 (and max) over every stream and
//     five estimates.
//
// The machine is shared: it prints the load average with the figures.
//
// Flags: -sse-only skips the throughput runs; -cpuprofile FILE writes a CPU profile of the
// fan-out (the feed and the bench's own stream readers share the process: read it with that
// in mind); -streams N opens N streams instead of 1,000.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/schemas"
	"votestream/schemas/provision"
	"votestream/simulate"
	"votestream/sinks/feed"
)

const (
	estimates = 5
	clients   = 16
	runFor    = 3 * time.Second
)

var (
	sseOnly    = flag.Bool("sse-only", false, "skip the throughput runs")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the fan-out to this file")
	streams    = 1000
	// The stream clients run in a child process unless -inline-clients.
	inlineClients = flag.Bool("inline-clients", false, "read the streams in this process (the figure then includes Go's scheduling of the readers behind the feed's writers)")
	clientsFor    = flag.String("clients-for", "", "internal: run as the stream client process of the feed at this URL")
)

func main() {
	flag.IntVar(&streams, "streams", streams, "event streams to open")
	flag.Parse()
	if *clientsFor != "" {
		if err := clientsMain(*clientsFor); err != nil {
			fmt.Fprintln(os.Stderr, "bench/feed: clients:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/feed:", err)
		os.Exit(1)
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run() error {
	seeds := os.Getenv("VOTESTREAM_KAFKA")
	if seeds == "" {
		return errors.New("VOTESTREAM_KAFKA is not set (run through scripts/bench)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("bench-feed-%d.", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := provision.EnsureTopics(ctx, adm, prefix); err != nil {
		return err
	}
	defer func() { _, _ = adm.DeleteTopics(context.Background(), provision.TopicNames(prefix)...) }()

	sim, err := simulate.Generate(simulate.SmallConfig(1))
	if err != nil {
		return err
	}
	c := sim.Country
	night := time.Date(2023, 5, 14, 18, 0, 0, 0, election.Bangkok)
	var recs []*kgo.Record
	for i, st := range c.Stations {
		for _, b := range election.Ballots {
			tally := sim.Truth.Tally(i, b)
			votes := map[string]int{}
			for no, v := range tally.Votes {
				votes[strconv.Itoa(no)] = v
			}
			sr := schemas.StationResult{StationID: st.ID, ConstituencyID: st.ConstituencyID, Ballot: string(b), Version: 1,
				Status: schemas.StatusProvisional, Stage: schemas.StageFinal, BallotsCast: tally.BallotsCast, Invalid: tally.Invalid,
				NoVote: tally.NoVote, Votes: votes, Sources: []schemas.Source{{SubmissionID: "s" + st.ID, VolunteerID: "v", Org: "o", Stage: schemas.StageFinal, Hash: "sha256:00"}},
				CountedAt: night, UpdatedAt: night}
			r, err := record(prefix+schemas.TopicStationResults, sr)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
	}
	est := func(k int) schemas.Estimate {
		e := schemas.Estimate{EstimateID: fmt.Sprintf("bench-%d", k), DataTime: night.Add(time.Duration(k) * time.Minute),
			ComputedAt: night.Add(time.Duration(k) * time.Minute), StationsReported: len(c.Stations), StationsTotal: len(c.Stations),
			SharesState: schemas.StateEstimate}
		for i, p := range c.Parties {
			s := 1 / float64(len(c.Parties))
			e.Parties = append(e.Parties, schemas.PartyEstimate{PartyNo: p.No, CountedVotes: int64(1000 + i), ProjectedVotes: int64(2000 + i + k),
				Share: s, ShareLo: s / 2, ShareHi: s * 1.5})
		}
		for _, cs := range c.Constituencies {
			e.Constituencies = append(e.Constituencies, schemas.ConstituencyEstimate{ConstituencyID: cs.ID, LeaderNo: 1, WinProbability: 0.6,
				Call: schemas.CallLeading, Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, CountedVotes: 100, ProjectedVotes: int64(200 + k)}}})
		}
		return e
	}
	r, err := record(prefix+schemas.TopicEstimates, est(0))
	if err != nil {
		return err
	}
	recs = append(recs, r)
	// A loaded broker may not serve fresh topics at once: try again for a while.
	for try := 0; ; try++ {
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		if err == nil {
			break
		}
		if try == 20 || !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("produce the night: %w", err)
		}
		time.Sleep(time.Second)
	}

	dir, err := os.MkdirTemp("", "bench-feed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key, err := feed.AppendKey(filepath.Join(dir, "keys"), "bench")
	if err != nil {
		return err
	}
	cfg := feed.DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.KeysFile = strings.Split(seeds, ","), prefix, c, filepath.Join(dir, "keys")
	cfg.MaxStreamsPerNewsroom, cfg.RateLimit, cfg.RateBurst = 2*streams, 1e9, 1_000_000_000
	cfg.CatchUpIdle = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	f, err := feed.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fctx, stopFeed := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.Serve(fctx, ln); err != nil {
			fmt.Fprintln(os.Stderr, "bench/feed: feed:", err)
		}
	})
	defer wg.Wait()
	defer stopFeed()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4 * clients}
	hc := &http.Client{Transport: tr}
	if err := waitReady(ctx, hc, base); err != nil {
		return err
	}

	// Throughput: the feed, and a bare server answering its bytes.
	req := func(url string) (int, []byte, error) {
		rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		rq.Header.Set("Authorization", "Bearer "+key)
		resp, err := hc.Do(rq)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	status, summary, err := req(base + "/v1/feed/summary")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("summary: %d %v %s", status, err, summary)
	}
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(summary)))
		_, _ = w.Write(summary)
	})}
	go func() { _ = bare.Serve(bareLn) }()
	defer bare.Close()
	rps := func(url string) (float64, error) {
		best := 0.0
		for range 3 {
			var n atomic.Int64
			var failed atomic.Value
			deadline := time.Now().Add(runFor)
			var cw sync.WaitGroup
			for range clients {
				cw.Go(func() {
					for time.Now().Before(deadline) {
						st, body, err := req(url)
						if err != nil || st != http.StatusOK || len(body) != len(summary) {
							failed.Store(fmt.Errorf("%s: %d %v (%d bytes)", url, st, err, len(body)))
							return
						}
						n.Add(1)
					}
				})
			}
			cw.Wait()
			if e, ok := failed.Load().(error); ok {
				return 0, e
			}
			best = max(best, float64(n.Load())/runFor.Seconds())
		}
		return best, nil
	}
	var sent atomic.Int64 // UnixNano of the latest estimate's produce
	if !*sseOnly {
		feedRPS, err := rps(base + "/v1/feed/summary")
		if err != nil {
			return err
		}
		bareRPS, err := rps("http://" + bareLn.Addr().String() + "/")
		if err != nil {
			return err
		}
		fmt.Printf("BENCH name=feed_summary_rps value=%.0f unit=requests/s # %d clients, %d-byte answer, load %s\n", feedRPS, clients, len(summary), loadavg())
		fmt.Printf("BENCH name=bare_summary_rps value=%.0f unit=requests/s # the same bytes from a bare net/http server, load %s\n", bareRPS, loadavg())
		fmt.Printf("BENCH name=feed_over_bare value=%.2f unit=ratio # goal >= 0.7, load %s\n", feedRPS/bareRPS, loadavg())
	}

	// The Kafka floor: a bare consumer of the estimates topic, in this process, timing each
	// estimate from its produce; what the feed adds before its fan-out starts is the first
	// stream's latency less this.
	kc, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...), kgo.ConsumeTopics(prefix+schemas.TopicEstimates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer kc.Close()
	kafkaGot := make(chan time.Duration, estimates)
	kctx, stopKafka := context.WithCancel(ctx)
	defer stopKafka()
	var kw sync.WaitGroup
	defer kw.Wait()
	defer stopKafka()
	kw.Go(func() {
		for kctx.Err() == nil {
			fs := kc.PollFetches(kctx)
			fs.EachRecord(func(r *kgo.Record) {
				if !strings.Contains(string(r.Value), `"bench-0"`) { // the night's first estimate, produced before
					kafkaGot <- time.Since(time.Unix(0, sent.Load()))
				}
			})
		}
	})

	// Fan-out: 1,000 streams, then estimates produced one at a time. The streams are read
	// by a child process (as newsrooms are elsewhere): in this process their readers would
	// wait behind the feed's own 1,000 writers in Go's run queue, and the figure would
	// measure the scheduler's order rather than the feed (-inline-clients shows that).
	got := make(chan time.Duration, streams*estimates)
	onEvent := func(at time.Time) { got <- at.Sub(time.Unix(0, sent.Load())) }
	if *inlineClients {
		sctx, stopStreams := context.WithCancel(ctx)
		defer stopStreams()
		if err := openStreams(sctx, base, key, streams, onEvent); err != nil {
			return err
		}
	} else {
		child := exec.CommandContext(ctx, os.Args[0], "-clients-for", base, "-streams", strconv.Itoa(streams))
		child.Env = append(os.Environ(), "BENCH_FEED_KEY="+key)
		child.Stderr = os.Stderr
		out, err := child.StdoutPipe()
		if err != nil {
			return err
		}
		in, err := child.StdinPipe() // held open while the child should run
		if err != nil {
			return err
		}
		defer in.Close()
		if err := child.Start(); err != nil {
			return err
		}
		defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "open" {
			return fmt.Errorf("stream client process: %q %v", sc.Text(), sc.Err())
		}
		go func() {
			for sc.Scan() {
				if ns, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
					onEvent(time.Unix(0, ns))
				}
			}
		}()
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var lat, worst, first, kafka []time.Duration
	cpu0 := cpuTime()
	for k := 1; k <= estimates; k++ {
		r, err := record(prefix+schemas.TopicEstimates, est(k))
		if err != nil {
			return err
		}
		sent.Store(time.Now().UnixNano())
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return err
		}
		var round time.Duration
		for i := range streams {
			select {
			case d := <-got:
				lat = append(lat, d)
				round = max(round, d)
				if i == 0 {
					first = append(first, d)
				}
			case <-time.After(30 * time.Second):
				return fmt.Errorf("estimate %d: only %d of %d streams had it after 30 s", k, len(lat)%streams, streams)
			}
		}
		worst = append(worst, round)
		select {
		case d := <-kafkaGot:
			kafka = append(kafka, d)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("estimate %d: the bare consumer never had it", k)
		}
	}
	cpuPer := float64(cpuTime()-cpu0) / 1e6 / estimates
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	where := "a child process"
	if *inlineClients {
		where = "this process"
	}
	fmt.Printf("BENCH name=feed_sse_fanout_min_ms value=%.1f unit=ms # the first stream (read by %s), load %s\n", p(0), where, loadavg())
	fmt.Printf("BENCH name=feed_sse_fanout_p50_ms value=%.1f unit=ms # %d streams x %d estimates, produce -> event read, load %s\n", p(0.5), streams, estimates, loadavg())
	fmt.Printf("BENCH name=feed_sse_fanout_p99_ms value=%.1f unit=ms # goal < 100, load %s\n", p(0.99), loadavg())
	if !*inlineClients {
		fmt.Printf("BENCH name=feed_sse_cpu_ms_per_estimate value=%.1f unit=ms # CPU time (user+sys) of the feed's process per estimate fanned out to %d streams: the work, whatever the load, load %s\n", cpuPer, streams, loadavg())
	}
	med := func(ds []time.Duration) float64 { slices.Sort(ds); return float64(ds[len(ds)/2]) / 1e6 }
	fmt.Printf("BENCH name=feed_sse_kafka_ms value=%.1f unit=ms # median over %d estimates: produce -> a bare consumer in this process has it, load %s\n", med(kafka), estimates, loadavg())
	fmt.Printf("BENCH name=feed_sse_first_stream_ms value=%.1f unit=ms # median: produce -> the first stream has it (before the fan-out), load %s\n", med(first), loadavg())
	if q, n, err := deliveryQuantile(reg, 0.99); err != nil {
		fmt.Fprintln(os.Stderr, "bench/feed:", err) // a feed without the histogram
	} else {
		fmt.Printf("BENCH name=feed_sse_delivery_p99_ms value=%.1f unit=ms # the feed's share: event in the ring -> written to a stream's socket, p99 of %d writes (histogram bucket bound), load %s\n", q*1000, n, loadavg())
	}
	fmt.Printf("BENCH name=feed_sse_fanout_max_ms value=%.1f unit=ms # the last stream of the slowest estimate, load %s\n", float64(slices.Max(worst))/1e6, loadavg())
	return nil
}

// openStreams opens n event streams and returns once each has its first block; onEvent then
// gets the receipt time of every estimate event on every stream, until ctx ends.
func openStreams(ctx context.Context, base, key string, n int, onEvent func(time.Time)) error {
	str := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: n}
	var opened sync.WaitGroup
	var streamErr atomic.Value
	for range n {
		opened.Add(1)
		go func() {
			once := sync.OnceFunc(opened.Done)
			defer once()
			rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/feed/events", nil)
			rq.Header.Set("Authorization", "Bearer "+key)
			resp, err := (&http.Client{Transport: str}).Do(rq)
			if err != nil {
				streamErr.Store(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				streamErr.Store(fmt.Errorf("stream: %d", resp.StatusCode))
				return
			}
			br := bufio.NewReader(resp.Body)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
				if len(line) == 1 && line[0] == '\n' { // the end of the first block: the stream is open
					once()
				}
				if string(line) == "event: estimate\n" {
					onEvent(time.Now())
				}
			}
		}()
	}
	opened.Wait()
	if e, ok := streamErr.Load().(error); ok {
		return e
	}
	return nil
}

// clientsMain is the child process of the fan-out: it opens the streams, says "open", then
// writes the receipt time (Unix nanoseconds) of every estimate event, one a line, until its
// stdin closes.
func clientsMain(base string) error {
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	err := openStreams(context.Background(), base, os.Getenv("BENCH_FEED_KEY"), streams, func(at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteString(strconv.FormatInt(at.UnixNano(), 10) + "\n")
		w.Flush()
	})
	if err != nil {
		return err
	}
	fmt.Println("open")
	// Until the bench closes our stdin (or dies, which closes it too).
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func record(topic string, msg any) (*kgo.Record, error) {
	value, headers, err := schemas.Encode(msg)
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: topic, Key: []byte(schemas.Key(msg)), Value: value}
	for _, h := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r, nil
}

func waitReady(ctx context.Context, hc *http.Client, base string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rq, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := hc.Do(rq)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the feed was not ready within 2 minutes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deliveryQuantile reads votestream_feed_stream_delivery_seconds from reg: the upper bound of
// the bucket holding quantile q, and the number of observations.
func deliveryQuantile(reg *prometheus.Registry, q float64) (float64, uint64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != "votestream_feed_stream_delivery_seconds" || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		n := h.GetSampleCount()
		for _, b := range h.GetBucket() {
			if float64(b.GetCumulativeCount()) >= q*float64(n) {
				return b.GetUpperBound(), n, nil
			}
		}
		return h.GetSampleSum() / float64(max(n, 1)), n, nil
	}
	return 0, 0, errors.New("no votestream_feed_stream_delivery_seconds metric")
}
