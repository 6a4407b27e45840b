// Command night benchmarks the whole pipeline through a simulated election night (issue 18):
// the night of the simulator (both ballots, progressive and final reports, faults, duplicates
// and corrections) is pushed over HTTP into `votestream ingest` as fast as it takes it, and
// `votestream consolidate`, `estimate`, `sink` and `feed` run as processes of their own on the
// real services (VOTESTREAM_KAFKA, VOTESTREAM_CLICKHOUSE) with a fresh topic prefix and
// ClickHouse database, removed at the end unless -keep.
//
// It prints, besides progress on stderr:
//
//   - night_seconds: wall time from the first request to the last of (the last row the
//     sink wrote to ClickHouse, the last estimate published);
//   - night_submissions: submissions in the night; night_ingest_per_second and
//     night_consolidate_per_second: accepted submissions per second over the replay, and
//     until consolidate's work ended;
//   - for each stage, the second its work ended (from the first request), its largest
//     consumer lag seen, and for each process its peak RSS (VmHWM) and peak Go heap in use
//     (night_<role>_done_s, _peak_lag, _peak_rss_mib, _peak_heap_mib);
//   - night_peak_rss_total_mib: the sum of the processes' peaks;
//   - night_<role>_cpu_us_per_submission and night_roles_cpu_us_per_submission: each
//     process's CPU time (user and system) per accepted submission, and their sum;
//   - with -peak (10m by default), first, on a pipeline of its own: the busiest window of the
//     night at -peak-speed (10x), peak_report_to_feed_p99_s (peak.go);
//   - with -outage (off by default), the same window over a private broker stopped for that
//     long, outage_catchup_s (outage.go).
//
// With -up the night runs against one `votestream up` process holding every role instead
// (up.go; issue 18's "up through a national night under 3 GiB"): the stages' done times and
// lags as above, and that process's night_up_peak_rss_mib, night_up_peak_heap_mib and
// night_up_cpu_us_per_submission. -heap-profiles writes the processes' heap profiles
// during the night, to see where the memory is.
//
// A stage's work has ended when its counters (records applied, rows written, estimates
// published) have not moved for -quiet after the replay ended; the time of their last move
// is taken. `-scale` makes a smaller country (0.1 by default, what `make bench` runs; 1 is
// the national night, see docs/benchmarks.md for its command). `-progress-updates` sets the
// tally-board reports per volunteer and ballot before the final form: the simulator's
// default (2.5) gives about 975,000 submissions at scale 1, 7.5 about 1.8 million.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/provision"
	"votestream/simulate"
	"votestream/sinks/feed"
)

type options struct {
	profile           string
	kafka, clickhouse string
	scale, progress   float64
	seed              uint64
	concurrency       int
	quiet, timeout    time.Duration
	bin               string
	keep, night       bool
	peak, outage      time.Duration
	peakSpeed         float64
	up                bool
	heapProfiles      string
	heapEvery         time.Duration
}

func main() {
	var o options
	d := simulate.DefaultConfig()
	flag.StringVar(&o.kafka, "kafka", os.Getenv("VOTESTREAM_KAFKA"), "Kafka seed broker (default $VOTESTREAM_KAFKA)")
	flag.StringVar(&o.clickhouse, "clickhouse", os.Getenv("VOTESTREAM_CLICKHOUSE"), "ClickHouse native address (default $VOTESTREAM_CLICKHOUSE)")
	flag.Float64Var(&o.scale, "scale", 0.1, "fraction of the national country, in (0, 1]; 1 is the national night")
	flag.Float64Var(&o.progress, "progress-updates", d.Night.ProgressUpdates, "tally-board reports per volunteer and ballot before the final form (7.5 gives about 1.8 million submissions at -scale 1)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the country and its night")
	flag.IntVar(&o.concurrency, "concurrency", 128, "requests in flight from the replaying phones")
	flag.DurationVar(&o.quiet, "quiet", 20*time.Second, "a stage has finished when its counters have not moved for this long after the replay")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Minute, "give up after this long")
	flag.StringVar(&o.bin, "bin", "", "votestream binary to run (default: built from this tree into a temporary folder)")
	flag.BoolVar(&o.night, "night", true, "run the whole night as fast as it goes")
	flag.DurationVar(&o.peak, "peak", 10*time.Minute, "also replay this much simulated time of the night's busiest hour at -peak-speed on a fresh pipeline, measuring each report's acknowledgement to the feed having it (1h is the issue's peak hour; 0 skips)")
	flag.Float64Var(&o.peakSpeed, "peak-speed", 10, "speed of the peak replay (simulated time per wall-clock time)")
	flag.DurationVar(&o.outage, "outage", 0, "also replay the -peak window at -peak-speed on a fresh pipeline over a private broker (scripts/services) stopped this long a third of the way in, measuring the catch-up (2m is the issue's; 0 skips)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of consolidate, estimate, sink and feed (with -up, of the up process) during the night into this folder (25-second windows, one file each; merge with go tool pprof)")
	flag.BoolVar(&o.up, "up", false, "run the night against ONE votestream up process holding every role (ingest, consolidate, estimate, sink, feed, console, the transparency log and its witness) under up's default soft memory limit (3 GiB), instead of a process per role; prints night_up_peak_rss_mib and night_up_peak_heap_mib (-peak and -outage still run a process per role)")
	flag.StringVar(&o.heapProfiles, "heap-profiles", "", "write heap profiles (live objects by allocation site) of the night's processes into this folder every -heap-every (inspect with go tool pprof -sample_index inuse_space)")
	flag.DurationVar(&o.heapEvery, "heap-every", time.Minute, "time between two heap profiles (-heap-profiles)")
	flag.BoolVar(&o.keep, "keep", false, "keep the topics, the ClickHouse database and the work folder")
	flag.Parse()
	if o.kafka == "" || o.clickhouse == "" {
		fmt.Fprintln(os.Stderr, "bench/night: set VOTESTREAM_KAFKA and VOTESTREAM_CLICKHOUSE (scripts/bench does)")
		os.Exit(2)
	}
	if !(o.scale > 0 && o.scale <= 1) || o.concurrency < 1 || o.quiet <= 0 {
		fmt.Fprintln(os.Stderr, "bench/night: -scale must be in (0, 1], -concurrency and -quiet positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/night:", err)
		os.Exit(1)
	}
}

// proc is one role running as a process of its own.
type proc struct {
	name    string
	cmd     *exec.Cmd
	metrics string        // host:port serving /metrics
	done    chan struct{} // closed when the process has exited, so every reader sees it
	err     error         // cmd.Wait's error, set before done is closed

	peakRSS, peakHeap float64 // bytes
	cpu               float64 // seconds of CPU (user and system) when last read
}

// stage is what the benchmark follows of one role: counters whose last move marks the end
// of its work, and the lag gauge it exports.
type stage struct {
	name     string // the role; its process's name when ""
	proc     *proc
	counters []string // metric names (summed over labels) whose moves mean work
	lag      string   // lag gauge, summed over labels; "" when the role exports none
	lagLabel string   // when set, only the lag gauge's samples whose labels hold this text

	last            float64 // sum of counters at the last scrape
	first, moved    time.Time
	peakLag, lagNow float64
	scrapeFailing   error
}

func run(ctx context.Context, o options) error {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	id := hex.EncodeToString(rb[:])
	dir, err := os.MkdirTemp("", "bench-night-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	fmt.Println("# " + machineLine())
	fmt.Fprintf(os.Stderr, "# work folder %s\n", dir)

	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "votestream")
		fmt.Fprintln(os.Stderr, "# building votestream")
		b := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/votestream")
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if err := b.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}

	// The country and its night, in this process (the replaying phones need the night).
	cfg := simulate.DefaultConfig()
	cfg.Seed, cfg.Country.Scale, cfg.Night.ProgressUpdates = o.seed, o.scale, o.progress
	t := time.Now()
	sim, err := simulate.Generate(cfg)
	if err != nil {
		return err
	}
	countryDir := filepath.Join(dir, "country")
	if err := sim.Write(countryDir); err != nil {
		return err
	}
	night, err := sim.Night()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "# country: %d stations, %d constituencies; night: %d submissions, %d volunteers (%.1fs to make)\n",
		len(sim.Country.Stations), len(sim.Country.Constituencies), night.Len(), len(night.Volunteers()), time.Since(t).Seconds())

	keysFile := filepath.Join(dir, "keys")
	line, err := token.NewKeyLine("night")
	if err != nil {
		return err
	}
	if err := os.WriteFile(keysFile, []byte(line+"\n"), 0o600); err != nil {
		return err
	}
	ring, err := token.LoadKeyring(keysFile)
	if err != nil {
		return err
	}
	tokens := func(v simulate.Volunteer) (string, error) {
		now := time.Now()
		return ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: v.ID, Org: v.Org, Role: schemas.RoleStation,
			Stations: v.Stations, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)})
	}

	if o.peak > 0 {
		if err := peakPhase(ctx, o, bin, dir, countryDir, keysFile, id+"p", night, tokens); err != nil {
			return fmt.Errorf("peak: %w", err)
		}
	}
	if o.outage > 0 {
		if err := outagePhase(ctx, o, bin, dir, countryDir, keysFile, id+"o", night, tokens); err != nil {
			return fmt.Errorf("outage: %w", err)
		}
	}
	if !o.night {
		return nil
	}
	for _, d := range []string{o.profile, o.heapProfiles} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		os.Setenv("VOTESTREAM_PPROF", "1") // the roles inherit it
	}
	start := startPipeline
	if o.up {
		start = startUp
	}
	pl, err := start(ctx, o, bin, dir, countryDir, keysFile, id)
	if err != nil {
		return err
	}
	defer pl.close()
	stages := pl.stages
	if o.profile != "" || o.heapProfiles != "" {
		profCtx, stopProf := context.WithCancel(ctx)
		var profWG sync.WaitGroup
		profiled := pl.procs
		if !o.up {
			profiled = profiled[1:] // ingest is measured by bench/ingest
		}
		for _, p := range profiled {
			if o.profile != "" {
				profWG.Add(1)
				go func() {
					defer profWG.Done()
					profileLoop(profCtx, o.profile, p)
				}()
			}
			if o.heapProfiles != "" {
				profWG.Add(1)
				go func() {
					defer profWG.Done()
					heapLoop(profCtx, o.heapProfiles, p, o.heapEvery)
				}()
			}
		}
		defer profWG.Wait()
		defer stopProf()
	}
	ingestAddr := pl.ingestAddr

	// Follow every process each second while the night runs and after.
	t0 := time.Now()
	watchCtx, stopWatch := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		lastPrint := time.Now()
		for {
			now := time.Now()
			mu.Lock()
			scrapeAll(stages, now)
			if now.Sub(lastPrint) >= 10*time.Second {
				lastPrint = now
				fmt.Fprintf(os.Stderr, "# %5.0fs %s\n", now.Sub(t0).Seconds(), progressLine(stages))
			}
			mu.Unlock()
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Concurrency = "http://"+ingestAddr, 0, o.concurrency
	rc.Progress, rc.ProgressEvery = os.Stderr, 30*time.Second
	rc.Token = tokens
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	sum, err := simulate.Replay(runCtx, rc, night.Events())
	replayEnd := time.Now()
	fmt.Fprintln(os.Stderr, "# "+sum.String())
	if err != nil {
		stopWatch()
		wg.Wait()
		return fmt.Errorf("replay: %w", err)
	}

	// Wait for every stage to be quiet for o.quiet.
	fmt.Fprintf(os.Stderr, "# replay done in %.1fs; waiting for every stage to be quiet for %s\n", replayEnd.Sub(t0).Seconds(), o.quiet)
	for {
		mu.Lock()
		quiet := true
		for _, s := range stages[1:] {
			if s.moved.IsZero() || time.Since(s.moved) < o.quiet || time.Since(replayEnd) < o.quiet {
				quiet = false
			}
		}
		mu.Unlock()
		if quiet {
			break
		}
		select {
		case <-runCtx.Done():
			stopWatch()
			wg.Wait()
			return fmt.Errorf("the pipeline did not finish within -timeout %s", o.timeout)
		case <-time.After(time.Second):
		}
	}
	stopWatch()
	wg.Wait()
	for _, p := range pl.procs {
		p.readPeak()
	}

	chRows, err := clickhouseCounts(ctx, o.clickhouse, pl.database)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "# ClickHouse %s: %s\n", pl.database, chRows)

	at := func(s *stage) float64 { return s.moved.Sub(t0).Seconds() }
	cons, est, sink := stages[1], stages[2], stages[3]
	nightSec := max(at(sink), at(est))
	bench := func(name string, v float64, unit string) {
		fmt.Printf("BENCH name=%s value=%s unit=%s\n", name, strconv.FormatFloat(v, 'f', -1, 64), unit)
	}
	r1 := func(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
	bench("night_seconds", r1(nightSec), "s")
	bench("night_submissions", float64(night.Len()), "submissions")
	bench("night_ingest_per_second", r1(float64(sum.Accepted)/replayEnd.Sub(t0).Seconds()), "submissions/s")
	bench("night_consolidate_per_second", r1(float64(sum.Accepted)/at(cons)), "submissions/s")
	if o.up {
		for _, s := range stages {
			n := s.role()
			fmt.Fprintf(os.Stderr, "# %-11s done at %6.1fs (%+.1fs after the replay), peak lag %.0f records\n", n, at(s), s.moved.Sub(replayEnd).Seconds(), s.peakLag)
			bench("night_"+n+"_done_s", r1(at(s)), "s")
			if s.lag != "" {
				bench("night_"+n+"_peak_lag", s.peakLag, "records")
			}
		}
		p := pl.procs[0]
		fmt.Fprintf(os.Stderr, "# votestream up: peak RSS %.0f MiB, peak heap in use %.0f MiB, %.0f s of CPU\n", p.peakRSS/(1<<20), p.peakHeap/(1<<20), p.cpu)
		bench("night_up_peak_rss_mib", r1(p.peakRSS/(1<<20)), "MiB")
		bench("night_up_peak_heap_mib", r1(p.peakHeap/(1<<20)), "MiB")
		if p.cpu > 0 && sum.Accepted > 0 {
			bench("night_up_cpu_us_per_submission", r1(p.cpu*1e6/float64(sum.Accepted)), "µs")
		}
		fmt.Println("# " + machineLine())
		return nil
	}
	var total, totalCPU float64
	for _, s := range stages {
		n := s.role()
		fmt.Fprintf(os.Stderr, "# %-11s done at %6.1fs (%+.1fs after the replay), peak lag %.0f records, peak RSS %.0f MiB, peak heap in use %.0f MiB\n",
			n, at(s), s.moved.Sub(replayEnd).Seconds(), s.peakLag, s.proc.peakRSS/(1<<20), s.proc.peakHeap/(1<<20))
		bench("night_"+n+"_done_s", r1(at(s)), "s")
		if s.lag != "" {
			bench("night_"+n+"_peak_lag", s.peakLag, "records")
		}
		bench("night_"+n+"_peak_rss_mib", r1(s.proc.peakRSS/(1<<20)), "MiB")
		bench("night_"+n+"_peak_heap_mib", r1(s.proc.peakHeap/(1<<20)), "MiB")
		if s.proc.cpu > 0 && sum.Accepted > 0 {
			// Where the night's CPU goes, per accepted submission: what the night would need
			// on cores of its own, whatever else the machine ran.
			bench("night_"+n+"_cpu_us_per_submission", r1(s.proc.cpu*1e6/float64(sum.Accepted)), "µs")
			totalCPU += s.proc.cpu
		}
		total += s.proc.peakRSS
	}
	bench("night_peak_rss_total_mib", r1(total/(1<<20)), "MiB")
	if totalCPU > 0 && sum.Accepted > 0 {
		bench("night_roles_cpu_us_per_submission", r1(totalCPU*1e6/float64(sum.Accepted)), "µs")
	}
	fmt.Println("# " + machineLine())
	return nil
}

// pipeline is one set of the roles as processes on a fresh topic prefix and database.
type pipeline struct {
	o                             options
	bin                           string
	prefix, database              string
	ingestAddr, feedAddr, feedKey string
	groups                        []string // the run's own consumer groups, deleted at the end
	procs                         []*proc
	stages                        []*stage
}

func startPipeline(ctx context.Context, o options, bin, dir, countryDir, keysFile, id string) (*pipeline, error) {
	pl := &pipeline{o: o, bin: bin, prefix: "bench_night_" + id + ".", database: "bench_night_" + id,
		groups: []string{"night-consolidate-" + id, "night-sink-" + id}}
	fmt.Fprintf(os.Stderr, "# topic prefix %s, database %s\n", pl.prefix, pl.database)
	feedKeys := filepath.Join(dir, "newsroom-keys-"+id)
	key, err := feed.NewKey()
	if err != nil {
		return nil, err
	}
	pl.feedKey = key
	if err := os.WriteFile(feedKeys, []byte(key+" bench\n"), 0o600); err != nil {
		return nil, err
	}
	common := []string{"--kafka", o.kafka, "--topic-prefix", pl.prefix}
	chFlags := []string{"--clickhouse", o.clickhouse, "--database", pl.database}
	mig := exec.CommandContext(ctx, bin, append(append([]string{"migrate"}, common...), chFlags...)...)
	mig.Stdout, mig.Stderr = io.Discard, os.Stderr
	if err := mig.Run(); err != nil {
		return nil, fmt.Errorf("votestream migrate: %w", err)
	}
	ports, err := freePorts(6)
	if err != nil {
		pl.close()
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	pl.ingestAddr, pl.feedAddr = addr(0), addr(1)
	ref := []string{"--ref", countryDir}
	specs := []struct {
		name, metrics string
		args          []string
	}{
		{"ingest", pl.ingestAddr, append(append([]string{"ingest", "--listen", pl.ingestAddr, "--keys", keysFile, "--evidence-dir", filepath.Join(dir, "evidence-"+id)}, common...), ref...)},
		// Consumer groups of the run's own: a group shared with another run on the shared
		// broker (other topics) rebalances with it, and consolidate rebuilds on each one.
		{"consolidate", addr(2), append(append([]string{"consolidate", "--metrics", addr(2), "--transactional-id", "night-" + id, "--group", pl.groups[0]}, common...), ref...)},
		{"estimate", addr(3), append(append([]string{"estimate", "--metrics", addr(3)}, common...), ref...)},
		{"sink", addr(4), append(append([]string{"sink", "--metrics", addr(4), "--group", pl.groups[1]}, common...), chFlags...)},
		{"feed", addr(5), append(append([]string{"feed", "--metrics", addr(5), "--listen", pl.feedAddr, "--keys", feedKeys,
			"--polls-close", simulate.DefaultConfig().Night.Close.Format(time.RFC3339), "--rate", "1000", "--burst", "1000"}, common...), ref...)},
	}
	for _, s := range specs {
		p, err := startProc(dir, bin, s.name+"-"+id, s.metrics, s.args)
		if err != nil {
			pl.close()
			return nil, err
		}
		p.name = s.name
		pl.procs = append(pl.procs, p)
	}
	for _, p := range pl.procs {
		if err := waitReady(ctx, p, "http://"+p.metrics+"/readyz", 2*time.Minute); err != nil {
			pl.close()
			return nil, err
		}
	}
	pl.stages = []*stage{
		{proc: pl.procs[0], counters: []string{"votestream_ingest_items_total"}},
		{proc: pl.procs[1], counters: []string{"votestream_consolidate_records_total", "votestream_consolidate_results_total"}, lag: "votestream_kafka_consumer_lag_records"},
		{proc: pl.procs[2], counters: []string{"votestream_estimate_records_total", "votestream_estimate_published_total"}},
		{proc: pl.procs[3], counters: []string{"votestream_sink_rows_total"}, lag: "votestream_kafka_consumer_lag_records"},
		{proc: pl.procs[4], counters: []string{"votestream_feed_records_total"}, lag: "votestream_feed_consume_lag_records"},
	}
	fmt.Fprintln(os.Stderr, "# every role is ready")
	return pl, nil
}

// close stops the processes and, unless -keep, drops the database and the topics.
func (pl *pipeline) close() {
	for _, p := range pl.procs {
		p.stop()
	}
	pl.procs = nil
	if !pl.o.keep {
		cleanup(pl.o, pl.bin, pl.prefix, pl.database, pl.groups...)
	}
}

// profileLoop pulls 25-second CPU profiles from p's metrics listener until ctx ends (the
// listener's write timeout is 30 s), as dir/<role>-<n>.pprof.
func profileLoop(ctx context.Context, dir string, p *proc) {
	for n := 1; ctx.Err() == nil; n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metrics+"/debug/pprof/profile?seconds=25", nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "# profile of %s: %v %s\n", p.name, err, resp.Status)
			return
		}
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%03d.pprof", p.name, n)), body, 0o644)
	}
}

func (s *stage) role() string {
	if s.name != "" {
		return s.name
	}
	return s.proc.name
}

func progressLine(stages []*stage) string {
	var b strings.Builder
	for _, s := range stages {
		fmt.Fprintf(&b, "%s %.0f", s.role(), s.last)
		if s.lag != "" {
			fmt.Fprintf(&b, " (lag %.0f)", s.peakLagNow())
		}
		fmt.Fprintf(&b, " rss %.0fM; ", s.proc.peakRSS/(1<<20))
	}
	return b.String()
}

// scrapeAll reads each process's metrics and RSS once, and updates its stages.
func scrapeAll(stages []*stage, now time.Time) {
	texts := map[*proc][]byte{}
	for _, s := range stages {
		text, ok := texts[s.proc]
		if !ok {
			s.proc.sampleRSS()
			var err error
			if text, err = get("http://" + s.proc.metrics + "/metrics"); err != nil {
				if s.scrapeFailing == nil {
					fmt.Fprintf(os.Stderr, "# %s: metrics: %v\n", s.role(), err)
				}
				s.scrapeFailing = err
				text = nil
			}
			texts[s.proc] = text
		}
		if text != nil {
			s.scrapeFailing = nil
			s.scrape(now, text)
		}
	}
}

// scrape updates the stage from its process's metrics.
func (s *stage) scrape(now time.Time, text []byte) {
	var v float64
	for _, c := range s.counters {
		v += metricSum(text, c)
	}
	if v != s.last {
		if s.first.IsZero() {
			s.first = now
		}
		s.last, s.moved = v, now
	}
	if s.lag != "" {
		lag := metricSumWhere(text, s.lag, s.lagLabel)
		s.peakLag = max(s.peakLag, lag)
		s.lagNow = lag
	}
	s.proc.peakHeap = max(s.proc.peakHeap, metricSum(text, "go_memstats_heap_inuse_bytes"))
}

func (s *stage) peakLagNow() float64 { return s.lagNow }

// metricSum adds every sample of the metric name in a Prometheus text exposition.
func metricSum(text []byte, name string) float64 { return metricSumWhere(text, name, "") }

// metricSumWhere is metricSum of the samples whose line holds label ("" for all).
func metricSumWhere(text []byte, name, label string) float64 {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte(name)) {
			continue
		}
		rest := line[len(name):]
		if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '{') {
			continue // a longer name
		}
		if label != "" && !bytes.Contains(rest, []byte(label)) {
			continue
		}
		if i := bytes.LastIndexByte(rest, ' '); i >= 0 {
			if f, err := strconv.ParseFloat(string(rest[i+1:]), 64); err == nil {
				sum += f
			}
		}
	}
	return sum
}

func get(url string) ([]byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return b, nil
}

func startProc(dir, bin, name, metrics string, args []string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, metrics: metrics, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// stop ends the process with SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// status reads a field of /proc/<pid>/status, in bytes.
func (p *proc) status(field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func (p *proc) sampleRSS() { p.peakRSS = max(p.peakRSS, p.status("VmRSS")) }

// readPeak takes the kernel's high-water mark, which sees peaks between samples.
func (p *proc) readPeak() {
	p.peakRSS = max(p.peakRSS, p.status("VmHWM"))
	p.cpu = max(p.cpu, p.cpuSeconds())
}

// cpuSeconds is the process's user plus system CPU time (/proc/PID/stat, fields 14 and 15,
// in clock ticks of 1/100 s on Linux); 0 when it cannot be read.
func (p *proc) cpuSeconds() float64 {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it follow its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

func waitReady(ctx context.Context, p *proc, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, err := get(url)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v (see its log in the work folder; -keep keeps it)", p.name, p.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", p.name, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// clickhouseCounts is the rows of the main tables, as a line.
func clickhouseCounts(ctx context.Context, addr, database string) (string, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var parts []string
	for _, t := range []string{"submissions", "station_results", "anomalies", "estimates"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+database+"."+t).Scan(&n); err != nil {
			return "", fmt.Errorf("count %s: %w", t, err)
		}
		parts = append(parts, fmt.Sprintf("%s %d", t, n))
	}
	return strings.Join(parts, ", "), nil
}

// cleanup drops the database and deletes the topics of the run.
func cleanup(o options, bin, prefix, database string, groups ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{o.clickhouse}}); err == nil {
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database)
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database+"_public") // migrate makes its public copy
		conn.Close()
	}
	if cl, err := kgo.NewClient(kgo.SeedBrokers(o.kafka)); err == nil {
		_, _ = kadm.NewClient(cl).DeleteTopics(ctx, provision.TopicNames(prefix)...)
		if len(groups) > 0 {
			_, _ = kadm.NewClient(cl).DeleteGroups(ctx, groups...)
		}
		cl.Close()
	}
}

func machineLine() string {
	out, _ := exec.Command("bash", "-c", `echo "$(date -u +%FT%TZ) $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"`).Output()
	return strings.TrimSpace(string(out))
}
