// Command consolidate benchmarks the consolidator against the real broker
// (VOTESTREAM_KAFKA, or -kafka), in one run of about 30 seconds on a seeded simulated
// night:
//
//  1. consolidate_throughput: reports consolidated per second by one consolidator draining
//     a pre-produced backlog (-reports of them): from its first committed transaction to the
//     moment its committed offsets reach the end of the input;
//  2. consolidate_rebuild_rate and consolidate_rebuild_seconds: a second consolidator in
//     the same group starts on the drained topics and rebuilds its state by replaying them
//     (what every start and every rebalance costs); consolidate_full_night_start_seconds
//     extrapolates to a national night of -night-reports;
//  3. consolidate_p50_ms, consolidate_p99_ms: latency at a fixed rate (-rate, 2,000/s),
//     from the broker's acknowledgement of a report (ingest's 202) to a read_committed
//     consumer seeing a station result that names it.
//
// Producer, consolidator, consumer and broker share this machine's cores. It prints BENCH
// lines (DESIGN.md §7); details go to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/kafkaready"
	"votestream/internal/partition"
	"votestream/processors/consolidate"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
	"votestream/simulate"
)

type options struct {
	seeds        string
	seed         uint64
	reports      int
	nightReports int
	rate         int
	latencyFor   time.Duration
	maxPoll      int
	cpuProfile   string
}

func main() {
	var o options
	flag.StringVar(&o.seeds, "kafka", envOr("VOTESTREAM_KAFKA", "127.0.0.1:29092"), "Kafka seed brokers")
	flag.Uint64Var(&o.seed, "seed", 1, "simulation seed")
	flag.IntVar(&o.reports, "reports", 100_000, "reports in the pre-produced backlog")
	flag.IntVar(&o.nightReports, "night-reports", 2_000_000, "reports of a national night, for the start-up extrapolation")
	flag.IntVar(&o.rate, "rate", 2000, "reports per second in the latency phase")
	flag.DurationVar(&o.latencyFor, "latency-for", 8*time.Second, "length of the latency phase")
	flag.IntVar(&o.maxPoll, "max-poll", 5000, "consolidator MaxPollRecords")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the drain phase to this file")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench consolidate:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "consolidate: "+format+"\n", a...) }

func bench(name string, value float64, unit string) {
	fmt.Printf("BENCH name=%s value=%.4g unit=%s\n", name, value, unit)
}

func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	seeds := strings.Split(o.seeds, ",")

	country, reports, err := night(o)
	if err != nil {
		return err
	}
	logf("simulated night: %d stations, %d reports in the backlog, %d more for the latency phase",
		len(country.Stations), min(o.reports, len(reports)), len(reports)-min(o.reports, len(reports)))

	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "bench_consolidate_" + hex.EncodeToString(b[:]) + "."
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := provision.EnsureTopics(ctx, adm, prefix); err != nil {
		return err
	}
	// Fresh topics and a fresh broker's coordinators answer "not yet" for a moment.
	if err := kafkaready.WaitFor(ctx, adm, "bench", nil, kafkaready.Need{
		Topics: provision.TopicNames(prefix), Group: prefix + "g", MissingTopicsWait: time.Minute,
	}); err != nil {
		return err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = adm.DeleteTopics(dctx, provision.TopicNames(prefix)...)
		_, _ = adm.DeleteGroups(dctx, prefix+"g")
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), partition.Opt(), kgo.MaxBufferedRecords(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer prod.Close()
	backlog := reports[:min(o.reports, len(reports))]
	live := reports[len(backlog):]
	start := time.Now()
	recs := make([]*kgo.Record, len(backlog))
	for i, r := range backlog {
		if recs[i], err = kgorecord.New(prefix+schemas.TopicSubmissions, r); err != nil {
			return err
		}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("pre-produce: %w", err)
	}
	logf("pre-produced %d reports in %v", len(recs), time.Since(start).Round(time.Millisecond))

	recs = nil
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	// 1. Drain the backlog.
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
	}
	reg := prometheus.NewRegistry()
	cpu0 := cpuTime()
	c1, stop1, err := startConsolidator(ctx, o, seeds, prefix, country, "a", reg)
	if err != nil {
		return err
	}
	first, drained, err := waitDrained(ctx, adm, prefix)
	if err != nil {
		stop1()
		return err
	}
	_ = c1
	cpu := cpuTime() - cpu0
	pprof.StopCPUProfile()
	steady := drained.Sub(first).Seconds()
	committed := int64(len(backlog))
	bench("consolidate_throughput", float64(committed)/steady, "submissions/s")
	// CPU time moves less than the wall time on a machine shared with other work. It counts
	// the whole process (the consolidator, its clients, the collector) from the start.
	bench("consolidate_drain_cpu_us", float64(cpu.Microseconds())/float64(committed), "us/submission")
	logf("drained %d reports: first commit after %v, then %.2fs", committed, first.Sub(start).Round(time.Millisecond), steady)
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	perReport := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(committed)
	bench("consolidate_heap_per_report", perReport, "bytes")
	logf("heap held by the consolidator: %.0f bytes per report, %.1f GiB for a night of %d", perReport, perReport*float64(o.nightReports)/(1<<30), o.nightReports)

	// 3. Latency at a fixed rate, with the same consolidator running.
	p50, p99, n, err := latency(ctx, o, seeds, prefix, live, prod)
	if err != nil {
		stop1()
		return err
	}
	bench("consolidate_p50_ms", p50, "ms")
	bench("consolidate_p99_ms", p99, "ms")
	logf("latency over %d reports at %d/s", n, o.rate)
	if err := stop1(); err != nil {
		return err
	}

	// 2. A new process rebuilds from the topics.
	reg2 := prometheus.NewRegistry()
	_, stop2, err := startConsolidator(ctx, o, seeds, prefix, country, "b", reg2)
	if err != nil {
		return err
	}
	// Nudge: one more report makes the new process take its assignment and rebuild.
	extra, _ := kgorecord.New(prefix+schemas.TopicSubmissions, backlog[0])
	if err := prod.ProduceSync(ctx, extra).FirstErr(); err != nil {
		return err
	}
	secs, replayed, err := waitRebuilt(ctx, reg2)
	_ = stop2()
	if err != nil {
		return err
	}
	bench("consolidate_rebuild_seconds", secs, "s")
	bench("consolidate_rebuild_rate", replayed/secs, "records/s")
	bench("consolidate_full_night_start_seconds", float64(o.nightReports)/(replayed/secs), "s")
	logf("rebuilt from %.0f records in %.2fs; a night of %d reports would take %.0fs", replayed, secs, o.nightReports, float64(o.nightReports)/(replayed/secs))
	return nil
}

// night simulates a country big enough for the backlog and the latency phase and returns
// its reports as ingest would have written them, in send order.
func night(o options) (*election.Country, []schemas.Report, error) {
	cfg := simulate.DefaultConfig()
	cfg.Seed = o.seed
	cfg.Country.Provinces = 20
	cfg.Country.Constituencies = 60
	sim, err := simulate.Generate(cfg)
	if err != nil {
		return nil, nil, err
	}
	n, err := sim.Night()
	if err != nil {
		return nil, nil, err
	}
	var out []schemas.Report
	for ev := range n.Events() {
		out = append(out, schemas.Report{
			Submission: ev.Submission, VolunteerID: ev.Volunteer.ID, Org: ev.Volunteer.Org,
			Role: schemas.RoleStation, ReceivedAt: ev.At, Hash: schemas.CanonicalHash(ev.Submission),
		})
		if len(out) >= o.reports+o.rate*int(o.latencyFor/time.Second)+1000 {
			break
		}
	}
	return sim.Country, out, nil
}

func startConsolidator(ctx context.Context, o options, seeds []string, prefix string, country *election.Country, id string, reg *prometheus.Registry) (*consolidate.Consolidator, func() error, error) {
	cfg := consolidate.DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix = seeds, prefix
	cfg.Group, cfg.TransactionalID = prefix+"g", prefix+id
	cfg.MaxPollRecords = o.maxPoll
	cfg.Rules.Country = country
	cfg.Registerer = reg
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := consolidate.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	return c, func() error { cancel(); return <-done }, nil
}

// waitDrained polls the group's committed offsets until they reach the end of the input.
// It returns when the first offsets were committed and when all were.
func waitDrained(ctx context.Context, adm *kadm.Client, prefix string) (first, done time.Time, err error) {
	topic := prefix + schemas.TopicSubmissions
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return first, done, err
	}
	for {
		offs, err := adm.FetchOffsets(ctx, prefix+"g")
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return first, done, err
		}
		now := time.Now()
		total, all := int64(0), true
		ends.Each(func(e kadm.ListedOffset) {
			o, ok := offs.Lookup(topic, e.Partition)
			if ok {
				total += o.At
			}
			if !ok || o.At < e.Offset {
				all = false
			}
		})
		if total > 0 && first.IsZero() {
			first = now
		}
		if all {
			return first, now, nil
		}
		select {
		case <-ctx.Done():
			return first, done, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// latency produces reports at o.rate for o.latencyFor and measures, for each report that
// appears as a source of a station result, the time from its acknowledgement to the result
// being readable.
func latency(ctx context.Context, o options, seeds []string, prefix string, live []schemas.Report, prod *kgo.Client) (p50, p99 float64, n int, err error) {
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(prefix+schemas.TopicStationResults),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return 0, 0, 0, err
	}
	defer cons.Close()
	// Make sure the consumer holds its end offsets before the first report goes out.
	pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	cons.PollRecords(pctx, 1)
	pcancel()

	var mu sync.Mutex
	acked := map[string]time.Time{}
	var lat []float64
	seen := map[string]bool{}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for lctx.Err() == nil {
			fs := cons.PollFetches(lctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				var res schemas.StationResult
				if kgorecord.Decode(r, &res) != nil {
					return
				}
				mu.Lock()
				for _, s := range res.Sources {
					if t, ok := acked[s.SubmissionID]; ok && !seen[s.SubmissionID] {
						seen[s.SubmissionID] = true
						lat = append(lat, float64(now.Sub(t).Microseconds())/1000)
					}
				}
				mu.Unlock()
			})
		}
	}()

	interval := time.Second / time.Duration(o.rate)
	count := min(len(live), o.rate*int(o.latencyFor/time.Second))
	begin := time.Now()
	for i := range count {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		r := live[i]
		r.ReceivedAt = time.Now()
		rec, err := kgorecord.New(prefix+schemas.TopicSubmissions, r)
		if err != nil {
			return 0, 0, 0, err
		}
		id := r.SubmissionID
		prod.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err == nil {
				mu.Lock()
				acked[id] = time.Now()
				mu.Unlock()
			}
		})
	}
	time.Sleep(2 * time.Second) // let the last results through
	lcancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		return 0, 0, 0, errors.New("no station result named a report of the latency phase")
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], len(lat), nil
}

// waitRebuilt waits for the rebuild histogram to record a rebuild with records and returns
// its duration and the records replayed.
func waitRebuilt(ctx context.Context, reg *prometheus.Registry) (secs, records float64, err error) {
	for {
		mfs, err := reg.Gather()
		if err != nil {
			return 0, 0, err
		}
		var h *dto.Histogram
		for _, mf := range mfs {
			switch mf.GetName() {
			case "votestream_consolidate_rebuild_seconds":
				h = mf.GetMetric()[0].GetHistogram()
			case "votestream_consolidate_replayed_records_total":
				records = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		if h != nil && h.GetSampleCount() > 0 && records > 0 {
			return h.GetSampleSum(), records, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
