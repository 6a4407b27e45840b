// Command bench measures how long the live data source takes to read a night from Kafka
// before its panels are complete (what a Grafana restart mid-night costs), and the memory
// the night then holds. It writes a synthetic night to a fresh topic set on the broker
// named by VOTESTREAM_KAFKA (national-sized estimates: 70 parties, 400 constituencies of 8
// candidates; station results; anomalies), starts a data source on it, waits until it has
// caught up, and prints
//
//	BENCH name=plugin_catchup_records value=<records per second> unit=records/s
//	BENCH name=plugin_catchup_bytes value=<MiB of record values per second> unit=MiB/s
//	BENCH name=plugin_catchup_seconds value=<seconds for the whole night written> unit=s
//	BENCH name=plugin_heap value=<MiB held after catch-up> unit=MiB
//
// The topics are deleted at the end. scripts/bench runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	sdklog "github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/dashboards/plugin"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
)

func main() {
	estimates := flag.Int("estimates", 600, "estimate runs to write (one every few seconds: 600 is about half an hour)")
	results := flag.Int("results", 40000, "station results to write")
	anomalies := flag.Int("anomalies", 4000, "anomalies to write")
	flag.Parse()
	log.SetFlags(0)
	brokers := os.Getenv("VOTESTREAM_KAFKA")
	if brokers == "" {
		log.Fatal("bench: VOTESTREAM_KAFKA is not set (scripts/bench sets it)")
	}
	if err := run(strings.Split(brokers, ","), *estimates, *results, *anomalies); err != nil {
		log.Fatal(err)
	}
}

func run(seeds []string, nEstimates, nResults, nAnomalies int) error {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	prefix := fmt.Sprintf("bench_plugin_%d.", time.Now().UnixNano())
	if _, err := provision.EnsureTopics(ctx, adm, prefix); err != nil {
		return err
	}
	defer func() { _, _ = adm.DeleteTopics(context.Background(), provision.TopicNames(prefix)...) }()

	start := time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	var bytes int64
	produce := func(topic string, v any) error {
		rec, err := kgorecord.New(prefix+topic, v)
		if err != nil {
			return err
		}
		bytes += int64(len(rec.Value))
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				log.Fatalf("bench: produce: %v", err)
			}
		})
		return nil
	}
	for i := range nEstimates {
		if err := produce(schemas.TopicEstimates, estimate(i, start.Add(time.Duration(i)*3*time.Second))); err != nil {
			return err
		}
	}
	for i := range nResults {
		r := schemas.StationResult{
			StationID: "S" + strconv.Itoa(i/2), ConstituencyID: "C" + strconv.Itoa(i%400), Ballot: []string{"constituency", "partylist"}[i%2],
			Version: 1, Status: schemas.StatusProvisional, Stage: schemas.StageProgress, BallotsCast: 500, Votes: map[string]int{"1": 200, "2": 150, "3": 100},
			Sources:   []schemas.Source{{SubmissionID: "sub" + strconv.Itoa(i), VolunteerID: "v" + strconv.Itoa(i), Org: "org", Stage: schemas.StageProgress, Hash: "h"}},
			CountedAt: start, UpdatedAt: start.Add(time.Duration(i) * time.Millisecond),
		}
		if err := produce(schemas.TopicStationResults, r); err != nil {
			return err
		}
	}
	for i := range nAnomalies {
		a := schemas.Anomaly{AnomalyID: "a" + strconv.Itoa(i), Code: schemas.AnomalyCodes[i%len(schemas.AnomalyCodes)], Severity: schemas.SeveritySoft,
			StationID: "S" + strconv.Itoa(i*7%(nResults/2+1)), ConstituencyID: "C" + strconv.Itoa(i%400), Message: "bench", DetectedAt: start}
		if err := produce(schemas.TopicAnomalies, a); err != nil {
			return err
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	total := nEstimates + nResults + nAnomalies
	fmt.Fprintf(os.Stderr, "# wrote %d records, %.1f MiB of values, under %s\n", total, float64(bytes)/(1<<20), prefix)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	src, err := plugin.NewSource(plugin.Settings{Brokers: seeds, TopicPrefix: prefix, MaxHistory: plugin.DefaultMaxHistory, AnomalyRefresh: 30 * time.Second}, sdklog.New())
	if err != nil {
		return err
	}
	defer src.Close()
	deadline := time.After(10 * time.Minute)
	for {
		changed := src.Changed()
		p := src.Progress()
		if p.CaughtUp {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("not caught up after 10 minutes: %+v", p)
		}
	}
	took := time.Since(t0)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	p := src.Progress()
	fmt.Fprintf(os.Stderr, "# caught up in %s: %d estimates, %d results, %d anomalies held\n", took.Round(time.Millisecond), p.Estimates, p.Results, p.Anomalies)
	fmt.Printf("BENCH name=plugin_catchup_records value=%.0f unit=records/s\n", float64(total)/took.Seconds())
	fmt.Printf("BENCH name=plugin_catchup_bytes value=%.1f unit=MiB/s\n", float64(bytes)/(1<<20)/took.Seconds())
	fmt.Printf("BENCH name=plugin_catchup_seconds value=%.2f unit=s\n", took.Seconds())
	fmt.Printf("BENCH name=plugin_heap value=%.1f unit=MiB\n", float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
	return nil
}

// estimate is a national-sized run: 70 parties, 400 constituencies of 8 candidates.
func estimate(i int, at time.Time) schemas.Estimate {
	e := schemas.Estimate{
		EstimateID: "e" + strconv.Itoa(i), DataTime: at, ComputedAt: at.Add(time.Second),
		StationsReported: i * 100, StationsTotal: 95000, EligibleReported: int64(i) * 50000, EligibleTotal: 52000000,
	}
	for p := 1; p <= 70; p++ {
		s := 1.0 / float64(p+1) / 3
		e.Parties = append(e.Parties, schemas.PartyEstimate{PartyNo: p, Share: s, ShareLo: s * 0.95, ShareHi: s * 1.05, Seats: 70 - p, CountedVotes: int64(i * p), ProjectedVotes: int64(i * p * 3)})
	}
	for c := range 400 {
		ce := schemas.ConstituencyEstimate{ConstituencyID: "C" + strconv.Itoa(c), LeaderNo: 1 + c%8, WinProbability: 0.7, Call: schemas.CallLeading, StationsReported: i % 240, StationsTotal: 240}
		for k := 1; k <= 8; k++ {
			ce.Candidates = append(ce.Candidates, schemas.CandidateEstimate{CandidateNo: k, CountedVotes: int64(i * k), ProjectedVotes: int64(i * k * 2)})
		}
		e.Constituencies = append(e.Constituencies, ce)
	}
	return e
}
