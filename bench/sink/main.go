// Command sink benchmarks the ClickHouse sink against the server's own client (issue 18),
// side by side in one run on the real services (VOTESTREAM_KAFKA, VOTESTREAM_CLICKHOUSE):
//
//  1. -n station results and -n reports are produced to fresh topics (before any clock);
//  2. the sink (sinks/clickhouse, its defaults, in this process) drains them into a fresh
//     database: sink_rows_per_second is the rows it wrote per second, from its start to its
//     rows counter reaching every row (Kafka fetch, JSON decoding and the inserts included);
//  3. the rows it wrote are exported per table as Native files, and clickhouse-client inserts
//     each file into an empty copy of its table (CREATE TABLE … AS …):
//     clickhouse_client_rows_per_second, the process's start and the file's parsing included;
//  4. sink_over_clickhouse_client: the ratio (goal >= 0.7).
//
// Both write the same rows into the same table structure on the same server within a minute
// of each other. Details go to stderr, BENCH lines to stdout.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/bench/internal/localproc"
	"votestream/internal/kafkaready"
	"votestream/internal/partition"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
	sink "votestream/sinks/clickhouse"
)

func main() {
	kafka := flag.String("kafka", os.Getenv("VOTESTREAM_KAFKA"), "Kafka seed broker (default $VOTESTREAM_KAFKA)")
	addr := flag.String("clickhouse", os.Getenv("VOTESTREAM_CLICKHOUSE"), "ClickHouse native address (default $VOTESTREAM_CLICKHOUSE)")
	n := flag.Int("n", 100_000, "station results, and as many reports, to write")
	batch := flag.Int("max-batch", sink.DefaultConfig().MaxBatchRecords, "the sink's MaxBatchRecords (records of one poll)")
	maxInsert := flag.Int("max-insert", sink.DefaultConfig().MaxInsertRecords, "the sink's MaxInsertRecords (records of one insert round under a backlog)")
	client := flag.String("client", "clickhouse-client", "ClickHouse's command-line client (Debian's package; `clickhouse client` elsewhere)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the sink's phase to this file")
	flag.Parse()
	profile = *cpuProfile
	if *kafka == "" || *addr == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "bench/sink: set VOTESTREAM_KAFKA and VOTESTREAM_CLICKHOUSE (scripts/bench does), and -n >= 1")
		os.Exit(2)
	}
	if _, err := exec.LookPath(*client); err != nil {
		fmt.Fprintf(os.Stderr, "bench/sink: %s not found (scripts/services installs clickhouse-client with the server)\n", *client)
		os.Exit(2)
	}
	if err := run(*kafka, *addr, *client, *n, *batch, *maxInsert); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sink:", err)
		os.Exit(1)
	}
}

// profile is the -cpuprofile file, if any.
var profile string

func run(seeds, addr, client string, n, batch, maxInsert int) error {
	ctx := context.Background()
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	id := hex.EncodeToString(rb[:])
	prefix, database := "bench_sink_"+id+".", "bench_sink_"+id
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("# %s load average %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load))[:3], " "))

	kc, err := kgo.NewClient(kgo.SeedBrokers(seeds), partition.Opt(), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := provision.EnsureTopics(setup, adm, prefix); err != nil {
		return err
	}
	if err := kafkaready.WaitTopics(setup, adm, "bench", nil, provision.TopicNames(prefix)...); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, provision.TopicNames(prefix)...)
	}()
	chc := provision.DefaultClickHouseConfig()
	chc.Addr, chc.Database = addr, database
	if _, err := provision.MigrateClickHouseAt(setup, chc); err != nil {
		return err
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, ReadTimeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer conn.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database)
	}()

	fmt.Fprintf(os.Stderr, "# producing %d station results and %d reports\n", n, n)
	if err := produce(ctx, kc, prefix, n); err != nil {
		return err
	}

	// The sink, from its start to its last row.
	reg := prometheus.NewRegistry()
	cfg := sink.DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.ClickHouseAddr, cfg.Database = []string{seeds}, prefix, addr, database
	cfg.Registerer, cfg.Logger, cfg.MaxBatchRecords = reg, slog.New(slog.NewTextHandler(io.Discard, nil)), batch
	cfg.MaxInsertRecords = maxInsert
	// A group of the run's own: the default one is shared with every other sink on the
	// broker, whose joins and leaves would rebalance this one.
	cfg.Group = "bench-sink-" + id
	s, err := sink.New(cfg)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	want := 2 * n
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	server := localproc.ListenerPID(addr)
	start, cpu0, server0 := time.Now(), selfCPU(), localproc.CPU(server)
	go func() { done <- s.Run(runCtx) }()
	var byTable map[string]float64
	var firstRow time.Time
	for {
		byTable = rowsByTable(reg)
		var total float64
		for _, v := range byTable {
			total += v
		}
		if total > 0 && firstRow.IsZero() {
			firstRow = time.Now()
		}
		if total >= float64(want) {
			break
		}
		select {
		case err := <-done:
			stop()
			return fmt.Errorf("the sink stopped after %.0f of %d rows: %v", total, want, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			stop()
			<-done
			return fmt.Errorf("the sink wrote %.0f of %d rows in 10 minutes", total, want)
		}
	}
	sinkTime, sinkCPU, serverSink := time.Since(start), selfCPU()-cpu0, localproc.CPU(server)-server0
	if profile != "" {
		pprof.StopCPUProfile()
	}
	stop()
	<-done
	sinkRate := float64(want) / sinkTime.Seconds()
	fmt.Fprintf(os.Stderr, "# sink (MaxBatchRecords %d, MaxInsertRecords %d): %d rows in %.2fs, the first after %.2fs (joining the group, first fetch and insert) (%v); %s\n",
		batch, maxInsert, want, sinkTime.Seconds(), firstRow.Sub(start).Seconds(), byTable, insertTimes(reg))
	fmt.Fprintf(os.Stderr, "# sink pipeline: %s; %s; %s; %s\n",
		histSummary(reg, "votestream_sink_poll_seconds", "polls waited"), histSummary(reg, "votestream_sink_round_seconds", "insert rounds took"),
		histSummary(reg, "votestream_sink_round_records", "records in rounds"), histSummary(reg, "votestream_sink_commit_seconds", "commits took (overlapping the next round)"))
	fmt.Fprintf(os.Stderr, "# sink: %.2fs of CPU (%.1f µs a row: fetch, JSON decoding, column building, compression)\n",
		sinkCPU.Seconds(), sinkCPU.Seconds()*1e6/float64(want))
	if server != 0 {
		fmt.Fprintf(os.Stderr, "# clickhouse-server (pid %d) during the sink: %.2fs of CPU (%.1f µs a row; other clients' queries and merges included)\n",
			server, serverSink.Seconds(), serverSink.Seconds()*1e6/float64(want))
	}

	// clickhouse-client: the same rows, from Native files, into empty copies.
	dir, err := os.MkdirTemp("", "bench-sink-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	var clientTime, serverClient time.Duration
	var clientRows int
	for _, table := range slices.Sorted(maps.Keys(byTable)) {
		file := filepath.Join(dir, table+".native")
		if err := clientRun(client, host, port, "SELECT * FROM "+database+"."+table+" FORMAT Native", "", file); err != nil {
			return err
		}
		copyT := database + "." + table + "_client"
		if err := conn.Exec(ctx, "CREATE TABLE "+copyT+" AS "+database+"."+table); err != nil {
			return fmt.Errorf("copy of %s: %w", table, err)
		}
		t, s0 := time.Now(), localproc.CPU(server)
		if err := clientRun(client, host, port, "INSERT INTO "+copyT+" FORMAT Native", file, ""); err != nil {
			return err
		}
		took := time.Since(t)
		serverClient += localproc.CPU(server) - s0
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+copyT).Scan(&rows); err != nil {
			return err
		}
		st, _ := os.Stat(file)
		fmt.Fprintf(os.Stderr, "# clickhouse-client: %s, %d rows (%.1f MiB Native) in %.2fs\n", table, rows, float64(st.Size())/(1<<20), took.Seconds())
		clientTime += took
		clientRows += int(rows)
	}
	clientRate := float64(clientRows) / clientTime.Seconds()
	if server != 0 {
		fmt.Fprintf(os.Stderr, "# clickhouse-server during clickhouse-client's inserts: %.2fs of CPU (%.1f µs a row)\n",
			serverClient.Seconds(), serverClient.Seconds()*1e6/float64(clientRows))
	}
	bench := func(name string, v float64, unit string) {
		fmt.Printf("BENCH name=%s value=%s unit=%s\n", name, strconv.FormatFloat(v, 'f', -1, 64), unit)
	}
	bench("sink_rows_per_second", float64(int(sinkRate)), "rows/s")
	bench("sink_rows_per_second_after_first", float64(int(float64(want)/(sinkTime-firstRow.Sub(start)).Seconds())), "rows/s")
	bench("clickhouse_client_rows_per_second", float64(int(clientRate)), "rows/s")
	bench("sink_over_clickhouse_client", float64(int(sinkRate/clientRate*1000+0.5))/1000, "ratio")
	return nil
}

// clientRun runs the client with query, stdin from in and stdout to out when given.
func clientRun(client, host, port, query, in, out string) error {
	cmd := exec.Command(client, "--host", host, "--port", port, "--query", query)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s --query %q: %v: %s", client, query, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// produce writes n station results (distinct stations and versions) and n reports.
func produce(ctx context.Context, kc *kgo.Client, prefix string, n int) error {
	at := time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC)
	errs := make(chan error, 1)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}
	for i := range n {
		station := fmt.Sprintf("P%02d_%d_%04d", i%77, i%400, i)
		cast := 400 + i%200
		res := schemas.StationResult{StationID: station, ConstituencyID: fmt.Sprintf("P%02d_%d", i%77, i%400), Ballot: "partylist", Version: int64(i%3 + 1),
			Status: schemas.StatusProvisional, Stage: schemas.StageFinal, BallotsCast: cast, Invalid: 10, NoVote: 5,
			Votes:     map[string]int{"1": cast / 2, "7": cast / 4, "12": cast/4 - 15},
			Sources:   []schemas.Source{{SubmissionID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), VolunteerID: "v" + strconv.Itoa(i), Org: "o", Stage: schemas.StageFinal, Hash: "sha256:00"}},
			CountedAt: at, UpdatedAt: at.Add(time.Duration(i) * time.Millisecond)}
		rec, err := kgorecord.New(prefix+schemas.TopicStationResults, res)
		if err != nil {
			return err
		}
		kc.Produce(ctx, rec, promise)
		sub := schemas.Submission{SubmissionID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), StationID: station, Ballot: "partylist",
			Stage: schemas.StageFinal, CountedAt: at, BallotsCast: cast, Invalid: 10, NoVote: 5, Votes: res.Votes}
		rep := schemas.Report{Submission: sub, VolunteerID: "v" + strconv.Itoa(i), Org: "o", Role: schemas.RoleStation, ReceivedAt: at, Hash: schemas.CanonicalHash(sub)}
		if rec, err = kgorecord.New(prefix+schemas.TopicSubmissions, rep); err != nil {
			return err
		}
		kc.Produce(ctx, rec, promise)
	}
	if err := kc.Flush(ctx); err != nil {
		return err
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// selfCPU is the user plus system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// insertTimes summarises the sink's insert histogram: inserts and their total seconds.
func insertTimes(reg *prometheus.Registry) string {
	mfs, _ := reg.Gather()
	var n uint64
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "votestream_sink_insert_seconds" {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return fmt.Sprintf("%d inserts took %.2fs in all", n, sum)
}

// histSummary is a histogram's count and sum ("" parts when the sink has no such series).
func histSummary(reg *prometheus.Registry, name, what string) string {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				h := m.GetHistogram()
				return fmt.Sprintf("%d %s %.2f in all", h.GetSampleCount(), what, h.GetSampleSum())
			}
		}
	}
	return name + " absent"
}

// rowsByTable reads the sink's rows counter by table.
func rowsByTable(reg *prometheus.Registry) map[string]float64 {
	out := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "votestream_sink_rows_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
