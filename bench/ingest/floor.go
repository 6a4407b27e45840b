package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"time"
)

// floorReceipt is about the size of ingest's receipt, so both servers write as many bytes.
var floorReceipt = []byte(`{"submission_id":"00000000-0000-4000-8000-000000000000","received_at":"2026-12-07T14:00:00.000000000Z",` +
	`"hash":"0000000000000000000000000000000000000000000000000000000000000000","status":"accepted"}`)

// floorServer is the HTTP floor of issue 18: a bare net/http server in this process that
// reads the whole body and answers a fixed 202, counting the requests it answered. What it
// costs is what any Go HTTP endpoint on this machine costs before it does any work.
type floorServer struct {
	url      string
	answered atomic.Int64
	stop     func()
}

func startFloor() (*floorServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &floorServer{url: "http://" + ln.Addr().String() + "/v1/submissions"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/submissions", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(floorReceipt)
		f.answered.Add(1)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	f.stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return f, nil
}

// wrkFloor runs the wrk phase's script, threads, connections and durations against the
// floor and returns the 202 answers per second over the same measured window, and this
// process's CPU per answer over wrk's run (ingest is idle meanwhile).
func wrkFloor(o options, w *workload, round int, f *floorServer) (perSecond float64, cpuPerAnswer time.Duration, err error) {
	dir, err := os.MkdirTemp("", "bench-ingest-floor-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var lines strings.Builder
	for i, tok := range w.tokens {
		fmt.Fprintf(&lines, "%s\t%s\n", w.country.Stations[i].ID, tok)
	}
	tokens, script := filepath.Join(dir, "tokens.tsv"), filepath.Join(dir, "submit.lua")
	if err := os.WriteFile(tokens, []byte(lines.String()), 0o600); err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, tokens, w.runID+"f", w.counted, o.wrkThreads, round*o.wrkThreads)), 0o600); err != nil {
		return 0, 0, err
	}
	const warm = 2 * time.Second
	total := warm + o.wrk + time.Second
	cmd := exec.Command("wrk", "-t", fmt.Sprint(o.wrkThreads), "-c", fmt.Sprint(o.wrkConns),
		"-d", fmt.Sprintf("%ds", int(total.Seconds())), "--timeout", "30s", "-s", script, f.url)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	all0, self0 := f.answered.Load(), selfCPU()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	time.Sleep(warm)
	a, t0 := f.answered.Load(), time.Now()
	time.Sleep(o.wrk)
	b, elapsed := f.answered.Load(), time.Since(t0)
	if err := cmd.Wait(); err != nil {
		return 0, 0, fmt.Errorf("wrk against the floor: %w", err)
	}
	selfUsed, all := selfCPU()-self0, f.answered.Load()-all0
	if all > 0 {
		cpuPerAnswer = selfUsed / time.Duration(all)
	}
	fmt.Fprintf(os.Stderr, "#   floor: %d answered in the %.1fs window; this process's CPU %.1f µs per answer (load average %s)\n",
		b-a, elapsed.Seconds(), cpuPerAnswer.Seconds()*1e6, loadAvg())
	return float64(b-a) / elapsed.Seconds(), cpuPerAnswer, nil
}

// runtimeSample is what runtime/metrics says about this process's pauses: the stop-the-world
// pauses of the garbage collector and how long runnable goroutines waited for a thread.
type runtimeSample struct {
	gcPauses, schedLat *metrics.Float64Histogram
	gcCycles           uint64
}

func sampleRuntime() runtimeSample {
	s := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}, {Name: "/sched/latencies:seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	var r runtimeSample
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		r.gcPauses = s[0].Value.Float64Histogram()
	}
	if s[1].Value.Kind() == metrics.KindFloat64Histogram {
		r.schedLat = s[1].Value.Float64Histogram()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		r.gcCycles = s[2].Value.Uint64()
	}
	return r
}

// histDiff summarises after minus before: the count, the largest bucket's lower bound seen,
// and the quantile q (upper bound of its bucket), in seconds.
func histDiff(before, after *metrics.Float64Histogram, q float64) (n uint64, quant, maxLow float64) {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return 0, 0, 0
	}
	counts := make([]uint64, len(after.Counts))
	for i := range counts {
		counts[i] = after.Counts[i] - before.Counts[i]
		n += counts[i]
	}
	var seen uint64
	quant = -1
	for i, c := range counts {
		if c == 0 {
			continue
		}
		seen += c
		maxLow = after.Buckets[i]
		if quant < 0 && float64(seen) >= q*float64(n) {
			quant = after.Buckets[i+1]
		}
	}
	return n, max(quant, 0), maxLow
}

func describeRuntime(before, after runtimeSample) string {
	gn, gq, gmax := histDiff(before.gcPauses, after.gcPauses, .99)
	sn, sq, smax := histDiff(before.schedLat, after.schedLat, .99)
	return fmt.Sprintf("%d GC cycles, %d stop-the-world pauses (p99 <= %.2f ms, longest >= %.2f ms); goroutine scheduling latency over %d waits: p99 <= %.2f ms, longest >= %.2f ms",
		after.gcCycles-before.gcCycles, gn, gq*1000, gmax*1000, sn, sq*1000, smax*1000)
}
