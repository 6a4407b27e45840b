// Command ingest benchmarks the volunteers' endpoint against the real broker
// (VOTESTREAM_KAFKA), in one run of about 30 seconds:
//
//  1. ingest_throughput: accepted submissions per second, one submission per HTTP request
//     (as a phone sends them), closed loop over loopback HTTP with -clients connections;
//  2. ingest_batch_throughput: the same with batches of 100 per request;
//  3. ingest_p50_ms, ingest_p99_ms: latency at a fixed rate (-rate, 5,000/s), open loop,
//     measured from each request's scheduled time so stalls are not hidden, the median of
//     -latency-runs runs (3) after two unmeasured seconds; each run prints where its tail
//     came from: Kafka's acknowledgements (ingest's histogram), this process's GC pauses and
//     goroutine scheduling latency (runtime/metrics), and the load generator's dispatch delay;
//     http_floor_p99_ms: the same rate against the HTTP floor (below);
//  4. bare_producer_throughput: a bare franz-go producer with ingest's producer settings
//     writing the same records (Report JSON with its envelope, keyed by station) as fast as
//     the broker takes them: the physical limit of this machine and broker;
//     bare_producer_sync_throughput: the same records, but -clients goroutines each waiting
//     for its record's acknowledgement before the next, the pattern ingest must follow;
//  5. ingest_over_bare and ingest_over_bare_sync: the ratios, and ingest_batch_over_bare and
//     ingest_batch_over_bare_sync for batches; bare_producer_cpu_per_record_us: this
//     process's CPU per record acknowledged to the asynchronous producer;
//  6. ingest_throughput_wrk: phase 1 again, but driven by wrk (-wrk-threads, -wrk-conns)
//     instead of this program's net/http clients, which cost about as much CPU as ingest's
//     handler: accepted submissions per second by ingest's own counter, cross-checked against
//     the records the topic gained; ingest_wrk_over_bare_sync: its ratio to the sync producer;
//     ingest_cpu_per_submission_us: ingest's CPU (HTTP, auth, validation, producer) per
//     accepted submission. Skipped, with a note, when wrk is not installed (scripts/bench
//     installs it);
//  7. http_floor_throughput_wrk and ingest_over_http_floor (issue 18): the same wrk script,
//     threads, connections and window against a bare net/http server in this process that
//     reads the body and answers a fixed 202, right after phase 6: what ingest reaches of
//     what any Go HTTP endpoint reaches on this machine at this moment. Phases 6 and 7
//     alternate -wrk-rounds times (3) and the medians are printed, so one change in the
//     shared machine's load moves one round, not the ratio; http_floor_cpu_per_request_us
//     is this process's CPU per floor answer, and broker_cpu_per_submission_us the broker's
//     CPU per accepted submission when the seed broker listens on this machine (found by its
//     port in /proc): on shared cores the broker's cost bounds ingest as much as ingest's own.
//
// A phase given a duration of 0 is skipped. The process runs with GOGC=ingest.GCPercent, as
// `votestream ingest` does, unless GOGC is set.
//
// The load generator, the server and the broker share this machine's cores, as a phone
// fleet would not: the ingest figures are a floor. It prints BENCH lines (DESIGN.md §7);
// details go to stderr.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/bench/internal/localproc"
	"votestream/election"
	"votestream/ingest"
	"votestream/ingest/token"
	"votestream/internal/kafkaready"
	"votestream/internal/partition"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
)

type options struct {
	seeds                        string
	single, batch, latency, bare time.Duration
	rate, clients, batchClients  int
	latencyRuns                  int
	wrk                          time.Duration
	wrkThreads, wrkConns         int
	wrkRounds                    int
	linger                       time.Duration
	cpuProfile, wrkProfile       string
	batchProfile                 string
}

func main() {
	var o options
	flag.StringVar(&o.seeds, "kafka", os.Getenv("VOTESTREAM_KAFKA"), "Kafka seed broker (default $VOTESTREAM_KAFKA)")
	flag.DurationVar(&o.single, "throughput", 6*time.Second, "measured duration of the one-per-request phase (after 2s warm-up)")
	flag.DurationVar(&o.batch, "batch", 4*time.Second, "measured duration of the batch phase (after 1s warm-up)")
	flag.DurationVar(&o.latency, "latency", 6*time.Second, "duration of the fixed-rate latency phase")
	flag.DurationVar(&o.bare, "bare", 3*time.Second, "measured duration of each bare producer phase (after 1s warm-up)")
	flag.DurationVar(&o.wrk, "wrk", 6*time.Second, "measured duration of the wrk phase (after 2s warm-up); 0 skips it")
	flag.IntVar(&o.wrkThreads, "wrk-threads", 2, "wrk threads")
	flag.IntVar(&o.wrkConns, "wrk-conns", 128, "wrk connections")
	flag.IntVar(&o.wrkRounds, "wrk-rounds", 3, "rounds of ingest then the floor under wrk; the medians are printed")
	flag.IntVar(&o.latencyRuns, "latency-runs", 3, "runs of the latency phase; the median of their p50 and p99 is printed")
	flag.IntVar(&o.rate, "rate", 5000, "fixed rate of the latency phase, submissions/s")
	flag.IntVar(&o.clients, "clients", 256, "concurrent HTTP clients sending one submission per request")
	flag.IntVar(&o.batchClients, "batch-clients", 16, "concurrent HTTP clients sending batches of 100")
	flag.DurationVar(&o.linger, "linger", ingest.DefaultConfig().Linger, "producer linger (ingest's Config.Linger)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the one-per-request phase to this file")
	flag.StringVar(&o.batchProfile, "batch-cpuprofile", "", "write a CPU profile of the batch phase to this file")
	flag.StringVar(&o.wrkProfile, "wrk-cpuprofile", "", "write a CPU profile of the first wrk round's measured window (ingest alone in this process) to this file")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ingest.GCPercent) // as `votestream ingest` runs
	}
	if o.seeds == "" {
		fmt.Fprintln(os.Stderr, "bench/ingest: set VOTESTREAM_KAFKA or -kafka (scripts/bench does)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ingest:", err)
		os.Exit(1)
	}
}

const (
	provinces         = 50
	perProvince       = 10 // constituencies
	stationsPerConst  = 40 // 20,000 stations
	candidatesInConst = 8
	partiesOnList     = 40
	eligible          = 600
	batchSize         = 100
)

// syntheticCountry is large enough that records spread over every partition and tokens over
// 20,000 volunteers, one station each.
func syntheticCountry() (*election.Country, error) {
	c := &election.Country{}
	for p := range provinces {
		pid := fmt.Sprintf("P%02d", p)
		c.Provinces = append(c.Provinces, election.Province{ID: pid, NameTH: "จังหวัด" + pid, NameEN: pid, Region: "central"})
		for k := range perProvince {
			kid := fmt.Sprintf("%s_%d", pid, k+1)
			c.Constituencies = append(c.Constituencies, election.Constituency{ID: kid, ProvinceID: pid, Number: k + 1,
				EligibleVoters: eligible * stationsPerConst, Stations: stationsPerConst})
			for s := range stationsPerConst {
				c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("%s_%04d", kid, s+1), ConstituencyID: kid,
					Subdistrict: "ตำบล", Number: s + 1, EligibleVoters: eligible})
			}
			for n := range candidatesInConst {
				c.Candidates = append(c.Candidates, election.Candidate{ConstituencyID: kid, No: n + 1, Name: "ผู้สมัคร", PartyNo: n + 1})
			}
		}
	}
	for n := range partiesOnList {
		c.Parties = append(c.Parties, election.Party{No: n + 1, NameTH: "พรรค", NameEN: "Party " + strconv.Itoa(n+1)})
	}
	return c, c.Index()
}

// workload makes submission bodies with unique ids: submission n reports station n mod
// 20,000, sent by that station's volunteer; a batch comes from a district lead and covers
// stations of their constituency.
type workload struct {
	country *election.Country
	tokens  []string // "Bearer …" of station i's volunteer
	leads   []string // "Bearer …" of constituency i's lead
	runID   string
	next    atomic.Int64
	counted string
}

func (w *workload) appendBody(dst []byte, n int64, station int) []byte {
	ballot, votes := "constituency", `{"1":150,"2":120,"3":90,"4":40,"5":20}`
	if n%2 == 1 {
		ballot, votes = "partylist", `{"1":140,"7":130,"12":80,"31":40,"39":30}`
	}
	return fmt.Appendf(dst, `{"submission_id":"%s-0000-4000-8000-%012x","station_id":"%s","ballot":"%s","stage":"final",`+
		`"counted_at":"%s","ballots_cast":450,"invalid":12,"no_vote":8,"votes":%s}`,
		w.runID, n, w.country.Stations[station].ID, ballot, w.counted, votes)
}

// single returns the next one-submission request: its body and token.
func (w *workload) single() ([]byte, string) {
	n := w.next.Add(1)
	station := int(n % int64(len(w.tokens)))
	return w.appendBody(nil, n, station), w.tokens[station]
}

// batch returns the next batch request: batchSize submissions of one constituency.
func (w *workload) batch() ([]byte, string) {
	n := w.next.Add(batchSize)
	k := int((n / batchSize) % int64(len(w.leads)))
	body := []byte{'['}
	for i := range int64(batchSize) {
		if i > 0 {
			body = append(body, ',')
		}
		body = w.appendBody(body, n-i, k*stationsPerConst+int((n-i)%stationsPerConst))
	}
	return append(body, ']'), w.leads[k]
}

type client struct {
	url  string
	http *http.Client
}

func (c *client) post(body []byte, auth string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// closedLoop runs workers that each send a request and wait for its answer, for warm-up
// plus d, and returns accepted items per second over d. per is the items one request carries.
func closedLoop(workers int, warm, d time.Duration, per int, send func() (int, error), profile string) (float64, error) {
	var accepted, refused atomic.Int64
	var counting atomic.Bool
	stopAt := time.Now().Add(warm + d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				code, err := send()
				switch {
				case !counting.Load():
				case err == nil && code == http.StatusAccepted:
					accepted.Add(int64(per))
				default:
					refused.Add(1)
				}
			}
		}()
	}
	time.Sleep(warm)
	counting.Store(true)
	t0 := time.Now()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
	}
	wg.Wait()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(t0)
	fmt.Fprintf(os.Stderr, "#   %d items accepted, %d requests refused in %.1fs with %d clients\n", accepted.Load(), refused.Load(), elapsed.Seconds(), workers)
	return float64(accepted.Load()) / elapsed.Seconds(), nil
}

// fixedRate sends rate requests per second for d from a pool of workers and returns the
// sorted latencies of the accepted ones, each from its scheduled send time.
// The second result is each accepted request's dispatch delay: from its scheduled time to
// the moment a worker of the load generator began sending it (the generator's own share of
// the tail).
func fixedRate(rate int, d time.Duration, send func() (int, error)) ([]time.Duration, []time.Duration, int64) {
	jobs := make(chan time.Time, rate*int(d/time.Second+1))
	var mu sync.Mutex
	var lats, delays []time.Duration
	var refused atomic.Int64
	var wg sync.WaitGroup
	for range 512 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine, myDelays []time.Duration
			for at := range jobs {
				delay := time.Since(at)
				code, err := send()
				if err != nil || code != http.StatusAccepted {
					refused.Add(1)
					continue
				}
				mine, myDelays = append(mine, time.Since(at)), append(myDelays, delay)
			}
			mu.Lock()
			lats, delays = append(lats, mine...), append(delays, myDelays...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	total := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- at
	}
	close(jobs)
	wg.Wait()
	slices.Sort(lats)
	slices.Sort(delays)
	return lats, delays, refused.Load()
}

// waitReady polls url until it answers 200, for at most limit.
func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last: %v)", url, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// median of the runs' figures (the middle one, or the lower middle of an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[(len(s)-1)/2]
}

func percentile(lats []time.Duration, p float64) float64 {
	if len(lats) == 0 {
		return 0
	}
	return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
}

func run(o options) error {
	ctx := context.Background()
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	runID := hex.EncodeToString(rb[:])
	prefix := "bench_ingest_" + runID + "."

	admCl, err := kgo.NewClient(kgo.SeedBrokers(o.seeds))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := provision.EnsureTopics(setupCtx, adm, prefix); err != nil {
		return err
	}
	// Fresh topics have no leader for a moment.
	if err := kafkaready.WaitTopics(setupCtx, adm, "bench", nil, provision.TopicNames(prefix)...); err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, provision.TopicNames(prefix)...)
	}()

	country, err := syntheticCountry()
	if err != nil {
		return err
	}
	keys, err := token.NewKeyring("bench", map[string][]byte{"bench": bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		return err
	}
	now := time.Now()
	w := &workload{country: country, runID: runID, counted: now.Add(-time.Minute).Format(time.RFC3339)}
	for i, st := range country.Stations {
		tok, err := keys.Issue(token.Claims{VolunteerID: fmt.Sprintf("bench/%05d", i), Org: "bench", Role: schemas.RoleStation,
			Stations: []string{st.ID}, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			return err
		}
		w.tokens = append(w.tokens, "Bearer "+tok)
	}
	staffKeys, err := token.NewStaffKeyring("bench", map[string][]byte{"bench": bytes.Repeat([]byte{2}, 32)})
	if err != nil {
		return err
	}
	for _, k := range country.Constituencies {
		tok, err := staffKeys.Issue(token.Claims{VolunteerID: "lead/" + k.ID, Org: "bench", Role: schemas.RoleDistrictLead,
			Constituency: k.ID, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)})
		if err != nil {
			return err
		}
		w.leads = append(w.leads, "Bearer "+tok)
	}

	cfg := ingest.DefaultConfig()
	cfg.Seeds = []string{o.seeds}
	cfg.TopicPrefix = prefix
	cfg.Listen = "127.0.0.1:0"
	cfg.Linger = o.linger
	cfg.EvidenceDir, err = os.MkdirTemp("", "bench-ingest-evidence-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cfg.EvidenceDir)
	reg := prometheus.NewRegistry()
	cfg.Country, cfg.Registry, cfg.Logger = country, reg, slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := ingest.New(cfg, ingest.WithKeyring(keys), ingest.WithStaffKeyring(staffKeys))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(srvCtx, ln) }()
	stopServer := sync.OnceFunc(func() { stopSrv(); <-srvDone })
	defer stopServer()
	c := &client{
		url: "http://" + ln.Addr().String() + "/v1/submissions",
		http: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, DisableCompression: true}},
	}
	single := func() (int, error) { body, auth := w.single(); return c.post(body, auth) }
	// Until its idempotency store is warmed ingest answers 503 STARTING: no phase measures that.
	if err := waitReady(ctx, "http://"+ln.Addr().String()+"/readyz", time.Minute); err != nil {
		return err
	}
	batch := func() (int, error) { body, auth := w.batch(); return c.post(body, auth) }

	// A phase given a duration of 0 is skipped (to profile or repeat one phase alone).
	var singleTP, batchTP float64
	if o.single > 0 {
		fmt.Fprintln(os.Stderr, "# one submission per request")
		if singleTP, err = closedLoop(o.clients, 2*time.Second, o.single, 1, single, o.cpuProfile); err != nil {
			return err
		}
	}
	if o.batch > 0 {
		fmt.Fprintf(os.Stderr, "# batches of %d\n", batchSize)
		if batchTP, err = closedLoop(o.batchClients, time.Second, o.batch, batchSize, batch, o.batchProfile); err != nil {
			return err
		}
	}
	// The latency phase -latency-runs times (the issue asks for the median of three), each
	// with where its tail came from; then the HTTP floor at the same rate for comparison.
	var p50s, p99s []float64
	var floorP99 float64
	if o.latency > 0 {
		// Fresh topics and connections first: two unmeasured seconds at the rate.
		_, _, _ = fixedRate(o.rate, 2*time.Second, single)
		for run := range o.latencyRuns {
			before, err := produceBuckets(reg)
			if err != nil {
				return err
			}
			rt0 := sampleRuntime()
			lats, delays, refused := fixedRate(o.rate, o.latency, single)
			rt1 := sampleRuntime()
			after, err := produceBuckets(reg)
			if err != nil {
				return err
			}
			p50s, p99s = append(p50s, percentile(lats, .5)), append(p99s, percentile(lats, .99))
			fmt.Fprintf(os.Stderr, "# fixed rate %d/s, run %d: %d accepted, %d refused; p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
				o.rate, run+1, len(lats), refused, percentile(lats, .5), percentile(lats, .9), percentile(lats, .99), percentile(lats, 1))
			fmt.Fprintf(os.Stderr, "#   where the tail comes from:\n#   - kafka acknowledgement (producer linger %s + broker), by upper bound: %s\n", o.linger, bucketDiff(before, after))
			fmt.Fprintf(os.Stderr, "#   - this process (ingest and the load generator): %s\n", describeRuntime(rt0, rt1))
			fmt.Fprintf(os.Stderr, "#   - load generator: dispatch delay p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
				percentile(delays, .5), percentile(delays, .99), percentile(delays, 1))
		}
		floor, err := startFloor()
		if err != nil {
			return err
		}
		fc := &client{url: floor.url, http: c.http}
		rt0 := sampleRuntime()
		lats, delays, refused := fixedRate(o.rate, o.latency, func() (int, error) { body, auth := w.single(); return fc.post(body, auth) })
		rt1 := sampleRuntime()
		floor.stop()
		floorP99 = percentile(lats, .99)
		fmt.Fprintf(os.Stderr, "# the HTTP floor at %d/s: %d answered, %d failed; p50 %.2f ms, p99 %.2f ms, max %.2f ms; dispatch delay p99 %.2f ms; %s\n",
			o.rate, len(lats), refused, percentile(lats, .5), floorP99, percentile(lats, 1), percentile(delays, .99), describeRuntime(rt0, rt1))
	}
	var wrkRes *wrkResult
	var floorTP, floorCPU, wrkRatio, brokerCPU float64
	if _, err := exec.LookPath("wrk"); o.wrk > 0 && err != nil {
		fmt.Fprintln(os.Stderr, "# wrk is not installed: skipping the wrk phase (apt-get install wrk)")
	} else if o.wrk > 0 {
		floor, err := startFloor()
		if err != nil {
			return err
		}
		defer floor.stop()
		broker := localproc.ListenerPID(o.seeds)
		if age := localproc.Age(broker); broker != 0 && age < 5*time.Minute {
			fmt.Fprintf(os.Stderr, "# the broker (pid %d) started %s ago: its JVM may still be compiling its hot paths, so ingest's figures are low (issue 18 asks for a broker warmed for two minutes)\n",
				broker, age.Round(time.Second))
		}
		// Ingest and the floor alternate, so a change in the machine's load between two
		// windows moves one round's ratio, not every ratio; the medians are printed.
		var tps, cpus, brokers, floorTPs, floorCPUs, ratios []float64
		for round := range max(o.wrkRounds, 1) {
			fmt.Fprintf(os.Stderr, "# round %d: one submission per request, driven by wrk (%d threads, %d connections)\n", round+1, o.wrkThreads, o.wrkConns)
			r, err := wrkPhase(o, w, round, c.url, prefix+schemas.TopicSubmissions, reg, adm, broker)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "# round %d: the HTTP floor (bare net/http reading the body, a fixed 202), driven by the same wrk script\n", round+1)
			ftp, fcpu, err := wrkFloor(o, w, round, floor)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "#   round %d: ingest %.0f/s, floor %.0f/s, ratio %.3f\n", round+1, r.perSecond, ftp, r.perSecond/ftp)
			tps, cpus, brokers = append(tps, r.perSecond), append(cpus, r.cpuPerItem.Seconds()*1e6), append(brokers, r.brokerPerItem.Seconds()*1e6)
			floorTPs, floorCPUs, ratios = append(floorTPs, ftp), append(floorCPUs, fcpu.Seconds()*1e6), append(ratios, r.perSecond/ftp)
			if broker == 0 {
				brokers = nil
			}
			wrkRes = &r
		}
		wrkRes.perSecond, wrkRes.cpuPerItem = median(tps), time.Duration(median(cpus)*1e3)
		floorTP, floorCPU, wrkRatio, brokerCPU = median(floorTPs), median(floorCPUs), median(ratios), median(brokers)
	}
	stopServer()

	var bareTP, bareSyncTP float64
	var bareCPU time.Duration
	if o.bare > 0 {
		pool, err := reportRecords(w, prefix+schemas.TopicSubmissions)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "# bare producer, asynchronous")
		if bareTP, bareCPU, err = bareAsync(o, cfg, pool); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "# bare producer, %d goroutines each waiting for its acknowledgement\n", o.clients)
		if bareSyncTP, err = bareSync(o, cfg, pool); err != nil {
			return err
		}
	}

	bench := func(name string, v float64, unit string, ok bool) {
		if ok {
			fmt.Printf("BENCH name=%s value=%s unit=%s\n", name, strconv.FormatFloat(v, 'f', -1, 64), unit)
		}
	}
	round := func(v float64, places int) float64 { p := math.Pow(10, float64(places)); return math.Round(v*p) / p }
	bench("ingest_throughput", round(singleTP, 0), "submissions/s", o.single > 0)
	bench("ingest_batch_throughput", round(batchTP, 0), "submissions/s", o.batch > 0)
	bench("ingest_p50_ms", round(median(p50s), 2), "ms", o.latency > 0)
	bench("ingest_p99_ms", round(median(p99s), 2), "ms", o.latency > 0)
	bench("http_floor_p99_ms", round(floorP99, 2), "ms", o.latency > 0)
	bench("bare_producer_throughput", round(bareTP, 0), "records/s", o.bare > 0)
	bench("bare_producer_sync_throughput", round(bareSyncTP, 0), "records/s", o.bare > 0)
	bench("ingest_over_bare", round(singleTP/bareTP, 3), "ratio", o.bare > 0 && o.single > 0)
	bench("ingest_over_bare_sync", round(singleTP/bareSyncTP, 3), "ratio", o.bare > 0 && o.single > 0)
	bench("ingest_batch_over_bare", round(batchTP/bareTP, 3), "ratio", o.bare > 0 && o.batch > 0)
	bench("ingest_batch_over_bare_sync", round(batchTP/bareSyncTP, 3), "ratio", o.bare > 0 && o.batch > 0)
	bench("bare_producer_cpu_per_record_us", round(bareCPU.Seconds()*1e6, 2), "us", o.bare > 0)
	if wrkRes != nil {
		bench("ingest_cpu_per_submission_us", round(wrkRes.cpuPerItem.Seconds()*1e6, 2), "us", true)
		bench("broker_cpu_per_submission_us", round(brokerCPU, 2), "us", brokerCPU > 0)
		bench("http_floor_cpu_per_request_us", round(floorCPU, 2), "us", floorCPU > 0)
		bench("ingest_throughput_wrk", round(wrkRes.perSecond, 0), "submissions/s", true)
		bench("ingest_wrk_over_bare_sync", round(wrkRes.perSecond/bareSyncTP, 3), "ratio", o.bare > 0)
		bench("http_floor_throughput_wrk", round(floorTP, 0), "requests/s", floorTP > 0)
		bench("ingest_over_http_floor", round(wrkRatio, 3), "ratio", floorTP > 0)
	}
	return nil
}

// reportRecords builds records as ingest would (a Report with its envelope, keyed by
// station) before any clock starts, so the bare phases measure the client and broker only.
func reportRecords(w *workload, topic string) ([]*kgo.Record, error) {
	received := time.Now()
	pool := make([]*kgo.Record, 0, 20000)
	for n := int64(1 << 40); len(pool) < cap(pool); n++ {
		station := int(n % int64(len(w.tokens)))
		var sub schemas.Submission
		if err := json.Unmarshal(w.appendBody(nil, n, station), &sub); err != nil {
			return nil, err
		}
		rep := schemas.Report{Submission: sub, VolunteerID: fmt.Sprintf("bench/%05d", station), Org: "bench",
			Role: schemas.RoleStation, ReceivedAt: received, Hash: schemas.CanonicalHash(sub)}
		rec, err := kgorecord.New(topic, rep)
		if err != nil {
			return nil, err
		}
		pool = append(pool, rec)
	}
	return pool, nil
}

func newBareClient(o options, cfg ingest.Config) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(o.seeds), partition.Opt(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords), kgo.ProducerLinger(cfg.Linger))
}

// fresh copies a pooled record: the client owns a record until its promise runs.
func fresh(p *kgo.Record) *kgo.Record {
	return &kgo.Record{Topic: p.Topic, Key: p.Key, Value: p.Value, Headers: p.Headers}
}

// bareAsync returns records acknowledged per second and this process's CPU per record.
func bareAsync(o options, cfg ingest.Config, pool []*kgo.Record) (float64, time.Duration, error) {
	cl, err := newBareClient(o, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	var acked, failed atomic.Int64
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			return
		}
		acked.Add(1)
	}
	ctx := context.Background()
	startCount := time.Now().Add(time.Second)
	stopAt := startCount.Add(o.bare)
	var base int64
	var cpu0 time.Duration
	counted := false
	for i := 0; time.Now().Before(stopAt); i++ {
		if !counted && time.Now().After(startCount) {
			counted, base, cpu0 = true, acked.Load(), selfCPU()
		}
		cl.Produce(ctx, fresh(pool[i%len(pool)]), promise) // blocks while the buffer is full
	}
	n := acked.Load() - base
	cpu := selfCPU() - cpu0
	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = cl.Flush(flushCtx)
	fmt.Fprintf(os.Stderr, "#   %d acknowledged in %.1fs, %d failed\n", n, o.bare.Seconds(), failed.Load())
	if n == 0 {
		return 0, 0, fmt.Errorf("the bare producer had no record acknowledged in %s", o.bare)
	}
	return float64(n) / o.bare.Seconds(), cpu / time.Duration(n), nil
}

func bareSync(o options, cfg ingest.Config, pool []*kgo.Record) (float64, error) {
	cl, err := newBareClient(o, cfg)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var i atomic.Int64
	return closedLoop(o.clients, time.Second, o.bare, 1, func() (int, error) {
		rec := fresh(pool[int(i.Add(1))%len(pool)])
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			return 0, err
		}
		return http.StatusAccepted, nil
	}, "")
}

// produceBuckets reads ingest's produce latency histogram: cumulative counts by upper bound.
func produceBuckets(reg *prometheus.Registry) (map[float64]uint64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[float64]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "votestream_ingest_produce_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, b := range m.GetHistogram().GetBucket() {
				out[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
	}
	return out, nil
}

func bucketDiff(before, after map[float64]uint64) string {
	bounds := slices.Sorted(maps.Keys(after))
	var b bytes.Buffer
	for _, ub := range bounds {
		fmt.Fprintf(&b, "<=%gms:%d ", ub*1000, after[ub]-before[ub])
	}
	return b.String()
}
