// Command evidencelog benchmarks the transparency log writer against the real broker
// (VOTESTREAM_KAFKA, or -kafka), in two phases on fresh topics:
//
//  1. evidencelog_leaves_per_second: a backlog of -backlog distinct reports pre-produced to
//     submissions.v1, drained by one log writer with its defaults: from its start to the
//     signed checkpoint that commits to all of them (Kafka read, leaf built, deduplicated,
//     integrated into the POSIX tiles, offsets committed, checkpoint signed).
//  2. evidencelog_inclusion_p50_ms / _p99_ms at -rate reports/s (open loop, -for long): from
//     the broker's acknowledgement of a report (ingest's 202) to the first signed checkpoint
//     whose tree holds its leaf (found by reading the log's entries afterwards and the
//     checkpoint sizes seen every 20 ms).
//
// The producer, the log writer and the broker share this machine's cores; ingest and the
// other roles do not run. It prints BENCH lines; details go to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/posix"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/evidencelog"
	"votestream/evidencelog/tlog"
	"votestream/internal/kafkaready"
	"votestream/internal/partition"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
)

type options struct {
	seeds   string
	backlog int
	rate    int
	dur     time.Duration
	keep    bool
	cpuProf string
	tmp     string
	cpEvery time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.seeds, "kafka", envOr("VOTESTREAM_KAFKA", "127.0.0.1:29092"), "Kafka seed brokers")
	flag.IntVar(&o.backlog, "backlog", 200_000, "reports in the pre-produced backlog")
	flag.IntVar(&o.rate, "rate", 15_000, "reports per second in the latency phase (three times the national peak)")
	flag.DurationVar(&o.dur, "for", 20*time.Second, "length of the latency phase")
	flag.BoolVar(&o.keep, "keep", false, "keep the log folders (printed) instead of deleting them")
	flag.DurationVar(&o.cpEvery, "checkpoint-interval", evidencelog.DefaultConfig().CheckpointInterval, "the writer's checkpoint interval")
	flag.StringVar(&o.tmp, "tmp", "", "parent folder of the log folders (default the system's temporary folder); a tmpfs such as /dev/shm takes the disk's synchronous writes out")
	flag.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the drain phase (the writer reading a backlog) to this file")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench evidencelog:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func run(o options) error {
	ctx := context.Background()
	seeds := strings.Split(o.seeds, ",")
	tmp, err := os.MkdirTemp(o.tmp, "bench-evidencelog-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	skey, _, err := tlog.GenerateKey("bench.votestream.local/log")
	if err != nil {
		return err
	}
	keyFile := filepath.Join(tmp, "log.key")
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), partition.Opt(), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()

	// Phase 0: Tessera alone, no Kafka: what the storage integrates per second.
	fmt.Fprintf(os.Stderr, "log folders in %s\n", tmp)
	cpu := startCPU()
	if rate, err := tesseraAlone(ctx, filepath.Join(tmp, "alone"), keyFile, o.backlog); err != nil {
		return err
	} else {
		fmt.Printf("BENCH name=evidencelog_tessera_leaves_per_second value=%.0f unit=leaves/s\n", rate)
	}
	cpu.print("tessera_alone")

	// Phase 1: drain a backlog.
	prefix1 := uniquePrefix()
	defer deleteTopics(cl, prefix1)
	if _, err := provision.EnsureTopics(ctx, kadm.NewClient(cl), prefix1); err != nil {
		return err
	}
	if err := kafkaready.WaitTopics(ctx, kadm.NewClient(cl), "bench", nil, provision.TopicNames(prefix1)...); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "producing a backlog of %d reports\n", o.backlog)
	if err := produceN(ctx, cl, prefix1, 0, o.backlog); err != nil {
		return err
	}
	dir1 := filepath.Join(tmp, "drain")
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start := time.Now()
	cpu = startCPU()
	stop, err := startLog(seeds, prefix1, dir1, keyFile, nil, o.cpEvery)
	if err != nil {
		return err
	}
	if err := waitSize(dir1, uint64(o.backlog), 10*time.Minute, nil); err != nil {
		stop()
		return err
	}
	took := time.Since(start)
	stop()
	if o.cpuProf != "" {
		pprof.StopCPUProfile()
	}
	cpu.print("drain")
	fmt.Printf("BENCH name=evidencelog_leaves_per_second value=%.0f unit=leaves/s\n", float64(o.backlog)/took.Seconds())
	fmt.Fprintf(os.Stderr, "drained %d reports into the log in %v\n", o.backlog, took.Round(time.Millisecond))

	// Phase 2: latency at a fixed rate.
	prefix2 := uniquePrefix()
	defer deleteTopics(cl, prefix2)
	if _, err := provision.EnsureTopics(ctx, kadm.NewClient(cl), prefix2); err != nil {
		return err
	}
	if err := kafkaready.WaitTopics(ctx, kadm.NewClient(cl), "bench", nil, provision.TopicNames(prefix2)...); err != nil {
		return err
	}
	dir2 := filepath.Join(tmp, "rate")
	reg := prometheus.NewRegistry()
	stop, err = startLog(seeds, prefix2, dir2, keyFile, reg, o.cpEvery)
	if err != nil {
		return err
	}
	defer stop()
	n := int(float64(o.rate) * o.dur.Seconds())
	acks := make([]time.Time, n) // by report number
	var sizes []sizeAt
	var mu sync.Mutex
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		_ = waitSize(dir2, uint64(n), o.dur+5*time.Minute, func(s sizeAt) {
			mu.Lock()
			sizes = append(sizes, s)
			mu.Unlock()
		})
	}()
	fmt.Fprintf(os.Stderr, "producing %d reports at %d/s\n", n, o.rate)
	cpu = startCPU()
	if err := produceAtRate(ctx, cl, prefix2, n, o.rate, acks); err != nil {
		return err
	}
	<-pollDone
	cpu.print("rate")
	index, err := leafIndex(dir2, uint64(n))
	if err != nil {
		return err
	}
	lat := make([]float64, 0, n)
	for i := range n {
		at := index[reportLeafHash(prefix2, i)]
		k, _ := slices.BinarySearchFunc(sizes, at+1, func(s sizeAt, target uint64) int {
			if s.size < target {
				return -1
			}
			return 1
		})
		if k >= len(sizes) {
			return fmt.Errorf("report %d (leaf %d) never reached a checkpoint", i, at)
		}
		lat = append(lat, sizes[k].at.Sub(acks[i]).Seconds()*1000)
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("BENCH name=evidencelog_inclusion_p50_ms value=%.0f unit=ms\n", q(0.50))
	fmt.Printf("BENCH name=evidencelog_inclusion_p99_ms value=%.0f unit=ms\n", q(0.99))
	fmt.Fprintf(os.Stderr, "inclusion at %d/s: p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d reports\n", o.rate, q(0.5), q(0.99), lat[len(lat)-1], n)
	if err := printStages(reg); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "log folders kept in %s\n", tmp)
	}
	return nil
}

// printStages prints where the latency phase's leaves spent their time, from the writer's
// votestream_evidencelog_stage_seconds: the mean, and the p99 as the upper bound of its
// histogram bucket.
func printStages(reg *prometheus.Registry) error {
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if mf.GetName() != "votestream_evidencelog_stage_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			stage := m.GetLabel()[0].GetValue()
			h := m.GetHistogram()
			if h.GetSampleCount() == 0 {
				continue
			}
			p99 := math.Inf(1)
			for _, b := range h.GetBucket() {
				if float64(b.GetCumulativeCount()) >= 0.99*float64(h.GetSampleCount()) {
					p99 = b.GetUpperBound()
					break
				}
			}
			fmt.Printf("BENCH name=evidencelog_stage_%s_mean_ms value=%.0f unit=ms\n", stage, h.GetSampleSum()/float64(h.GetSampleCount())*1000)
			fmt.Fprintf(os.Stderr, "stage %-10s mean %6.0f ms, p99 <= %v s (%d leaves)\n", stage, h.GetSampleSum()/float64(h.GetSampleCount())*1000, p99, h.GetSampleCount())
		}
	}
	return nil
}

// tesseraAlone appends n report leaves straight to a Tessera POSIX log with the writer's
// default batching and waits for every index: integration alone, as the log writer's
// ceiling.
func tesseraAlone(ctx context.Context, dir, keyFile string, n int) (float64, error) {
	keys, err := tlog.LoadSigners(keyFile)
	if err != nil {
		return 0, err
	}
	d := evidencelog.DefaultConfig()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	driver, err := posix.New(tctx, posix.Config{Path: dir})
	if err != nil {
		return 0, err
	}
	app, shutdown, _, err := tessera.NewAppender(tctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(keys.Primary).WithCheckpointInterval(d.CheckpointInterval).
		WithBatching(d.BatchMaxSize, d.BatchMaxAge))
	if err != nil {
		return 0, err
	}
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = schemas.ReportLeaf(report("alone.", i))
	}
	start := time.Now()
	futures := make([]tessera.IndexFuture, n)
	for i, l := range leaves {
		futures[i] = app.Add(ctx, tessera.NewEntry(l))
	}
	for _, f := range futures {
		if _, err := f(); err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	_ = shutdown(ctx)
	fmt.Fprintf(os.Stderr, "tessera alone: %d leaves integrated in %v\n", n, took.Round(time.Millisecond))
	return float64(n) / took.Seconds(), nil
}

// cpuSample is this process's CPU time and run-queue wait (the sum over its threads of
// /proc/self/task/*/schedstat: time on a CPU, time runnable but waiting for one) at a
// moment: on a loaded machine the wait says how much of a phase went to waiting for a core.
type cpuSample struct {
	at         time.Time
	run, queue time.Duration
}

func startCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(raw), &run, &wait); err == nil {
			s.run += time.Duration(run)
			s.queue += time.Duration(wait)
		}
	}
	return s
}

// print reports the phase since s: wall time, CPU time and run-queue wait of this process
// (threads that ended meanwhile are not counted, so both are lower bounds).
func (s cpuSample) print(phase string) {
	e := startCPU()
	fmt.Fprintf(os.Stderr, "%s: wall %.1f s, on a CPU %.1f s, runnable but waiting for a CPU %.1f s\n", phase,
		e.at.Sub(s.at).Seconds(), (e.run - s.run).Seconds(), (e.queue - s.queue).Seconds())
	fmt.Printf("BENCH name=evidencelog_%s_runqueue_wait_s value=%.1f unit=s\n", phase, (e.queue - s.queue).Seconds())
}

type sizeAt struct {
	size uint64
	at   time.Time
}

func uniquePrefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "bench_evidencelog_" + hex.EncodeToString(b) + "."
}

func deleteTopics(cl *kgo.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, provision.TopicNames(prefix)...)
}

func startLog(seeds []string, prefix, dir, keyFile string, reg prometheus.Registerer, cpEvery time.Duration) (stop func(), err error) {
	cfg := evidencelog.DefaultConfig()
	cfg.CheckpointInterval = cpEvery
	cfg.Seeds, cfg.TopicPrefix, cfg.Dir, cfg.KeyFile, cfg.Listen = seeds, prefix, dir, keyFile, ""
	cfg.Registerer = reg
	// A group (and static member) of its own per run: a writer that just stopped stays a
	// member of its group until its session ends, and a new writer joining under the same
	// instance id could be handed the old topics' assignment.
	cfg.Group = prefix + "evidencelog"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := evidencelog.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "log:", err)
		}
	}, nil
}

func report(prefix string, i int) *schemas.Report {
	sub := schemas.Submission{
		SubmissionID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), StationID: "BKK_1_" + strconv.Itoa(i%9000),
		Ballot: "constituency", Stage: schemas.StageFinal, CountedAt: time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC),
		BallotsCast: 500, Votes: map[string]int{"1": 250, "2": 250},
	}
	return &schemas.Report{Submission: sub, VolunteerID: "vol-" + strconv.Itoa(i), Org: "ilaw", Role: "station",
		ReceivedAt: time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Microsecond), Hash: schemas.CanonicalHash(sub)}
}

func reportLeafHash(prefix string, i int) [32]byte {
	return schemas.LeafHash(schemas.ReportLeaf(report(prefix, i)))
}

func produceN(ctx context.Context, cl *kgo.Client, prefix string, from, n int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := from; i < from+n; i++ {
		rec, err := kgorecord.New(prefix+schemas.TopicSubmissions, report(prefix, i))
		if err != nil {
			return err
		}
		wg.Add(1)
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	return first
}

// produceAtRate produces n reports on a fixed schedule and records each acknowledgement.
func produceAtRate(ctx context.Context, cl *kgo.Client, prefix string, n, rate int, acks []time.Time) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for sent < n {
		<-tick.C
		due := min(n, int(time.Since(start).Seconds()*float64(rate)))
		for ; sent < due; sent++ {
			rec, err := kgorecord.New(prefix+schemas.TopicSubmissions, report(prefix, sent))
			if err != nil {
				return err
			}
			i := sent
			wg.Add(1)
			cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				acks[i] = time.Now()
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
				wg.Done()
			})
		}
	}
	wg.Wait()
	return first
}

// waitSize polls the log's checkpoint every 20 ms until it commits to n leaves, reporting
// each new size.
func waitSize(dir string, n uint64, within time.Duration, seen func(sizeAt)) error {
	deadline := time.Now().Add(within)
	var last uint64
	for {
		size := checkpointSize(dir)
		if size != last {
			last = size
			if seen != nil {
				seen(sizeAt{size, time.Now()})
			}
		}
		if size >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the log reached %d of %d leaves in %v", size, n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkpointSize(dir string) uint64 {
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return 0
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(lines[1], 10, 64)
	return n
}

// leafIndex reads the log's entries and maps each leaf hash to its index.
func leafIndex(dir string, size uint64) (map[[32]byte]uint64, error) {
	lg, err := tlog.OpenLog(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[[32]byte]uint64, size)
	var i uint64
	for ri := range layout.Range(0, size, size) {
		raw, err := lg.ReadEntryBundle(context.Background(), ri.Index, ri.Partial)
		if err != nil {
			return nil, err
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			return nil, err
		}
		for _, e := range eb.Entries[ri.First : ri.First+ri.N] {
			out[schemas.LeafHash(e)] = i
			i++
		}
	}
	return out, nil
}
