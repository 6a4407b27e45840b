package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"votestream/schemas"
)

// startUp runs the night's pipeline as ONE `votestream up` process (-up): every role in it
// (ingest, consolidate, estimate, sink, feed, console, the transparency log and its witness)
// under up's default soft memory limit, on a fresh topic prefix and database as the
// per-role pipeline. The stages are followed through up's one metrics listener; each lag
// is its own consumer group's.
func startUp(ctx context.Context, o options, bin, dir, countryDir, keysFile, id string) (*pipeline, error) {
	pl := &pipeline{o: o, bin: bin, prefix: "bench_night_" + id + ".", database: "bench_night_" + id}
	for _, role := range []string{"consolidate", "sink", "evidencelog"} {
		pl.groups = append(pl.groups, schemas.ConsumerGroup(pl.prefix, role))
	}
	fmt.Fprintf(os.Stderr, "# one `votestream up` process; topic prefix %s, database %s\n", pl.prefix, pl.database)
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	logPort, err := freePortPair()
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	pl.ingestAddr, pl.feedAddr = addr(ports[0]), addr(ports[1])
	metrics := addr(ports[2])
	data := filepath.Join(dir, "up-"+id)
	args := []string{"up", "--kafka", o.kafka, "--topic-prefix", pl.prefix,
		"--clickhouse", o.clickhouse, "--database", pl.database,
		"--data", data, "--ref", countryDir, "--keys", keysFile,
		"--listen", pl.ingestAddr, "--feed-listen", pl.feedAddr, "--metrics", metrics,
		"--console-listen", addr(ports[3]), "--log-listen", addr(logPort)}
	p, err := startProc(dir, bin, "up-"+id, metrics, args)
	if err != nil {
		return nil, err
	}
	p.name = "up"
	pl.procs = []*proc{p}
	if err := waitReady(ctx, p, "http://"+metrics+"/readyz", 3*time.Minute); err != nil {
		pl.close()
		return nil, err
	}
	group := func(role string) string { return `group="` + schemas.ConsumerGroup(pl.prefix, role) + `"` }
	pl.stages = []*stage{
		{name: "ingest", proc: p, counters: []string{"votestream_ingest_items_total"}},
		{name: "consolidate", proc: p, counters: []string{"votestream_consolidate_records_total", "votestream_consolidate_results_total"}, lag: "votestream_kafka_consumer_lag_records", lagLabel: group("consolidate")},
		{name: "estimate", proc: p, counters: []string{"votestream_estimate_records_total", "votestream_estimate_published_total"}},
		{name: "sink", proc: p, counters: []string{"votestream_sink_rows_total"}, lag: "votestream_kafka_consumer_lag_records", lagLabel: group("sink")},
		{name: "feed", proc: p, counters: []string{"votestream_feed_records_total"}, lag: "votestream_feed_consume_lag_records"},
	}
	fmt.Fprintln(os.Stderr, "# votestream up is ready")
	return pl, nil
}

// heapLoop pulls a heap profile (live objects as of the last collection, by allocation
// site) from p's metrics listener every `every` until ctx ends, as dir/<role>-heap-<n>.pprof,
// with the process's RSS and heap in use at that moment in the name's log line.
func heapLoop(ctx context.Context, dir string, p *proc, every time.Duration) {
	t0 := time.Now()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metrics+"/debug/pprof/heap", nil)
		if err != nil {
			return
		}
		body, err := getBody(req)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "# heap profile of %s: %v\n", p.name, err)
			}
			return
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-heap-%03d.pprof", p.name, n))
		_ = os.WriteFile(name, body, 0o644)
		fmt.Fprintf(os.Stderr, "# %5.0fs heap profile %s (RSS now %.0f MiB)\n", time.Since(t0).Seconds(), filepath.Base(name), p.status("VmRSS")/(1<<20))
	}
}

func getBody(req *http.Request) ([]byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return b, nil
}
