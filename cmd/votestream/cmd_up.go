package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/processors/estimate"
	"votestream/schemas"
	"votestream/simulate"
)

// upEnv is what `votestream up` hands to each role it runs in its process.
type upEnv struct {
	seeds           []string
	topicPrefix     string
	clickhouse      clickhouseFlags   // addr "" when no ClickHouse is configured
	dataDir         string            // where roles of this process keep files (evidence, exports)
	country         *election.Country // indexed reference data every role checks against
	countryDir      string
	keysFile        string // token key file ingest verifies with
	staffKeysFile   string // the separate key file of privileged tokens (leads, war room, desk)
	consoleKeysFile string // the key the console signs its forwards to ingest with
	listen          string // ingest's HTTP address
	feedListen      string // the newsroom feed's HTTP address
	logListen       string // the transparency log's HTTP address
	consoleListen   string // the review console's HTTP address
	baselineDir     string // a previous election's results for the estimator ("" none)
	metrics         *prometheus.Registry
}

// upRole is one role `up` runs; start prepares it without blocking.
type upRole struct {
	name  string
	start func(ctx context.Context, env upEnv) (upStarted, error)
}

// upStarted is a prepared role: a line for the table of what is running, its blocking Run
// (returning promptly when ctx is cancelled; nil when the role is off), and the metrics it
// did not register in upEnv.metrics itself.
type upStarted struct {
	name     string // set by up
	describe string
	run      func(context.Context) error
	metrics  []prometheus.Collector
	ready    func() error // nil: the role reports no readiness of its own
}

// upRoles is filled by the role files as roles land, in start order.
var upRoles []upRole

type upFlags struct {
	kf            kafkaFlags
	cf            clickhouseFlags
	dataDir       string
	metrics       string
	ref           string
	keys          string
	staffKeys     string
	consoleKeys   string
	listen        string
	feedListen    string
	logListen     string
	consoleListen string
	simulate      bool
	simSeed       uint64
	simScale      float64
	simSpeed      float64
	simStations   float64
	baseline      string
}

func init() {
	register(&command{
		name:    "up",
		summary: "run every built role in one process (embedded Kafka when --kafka is empty), optionally with a simulated night",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			var f upFlags
			f.kf.register(fs, "")
			f.cf.register(fs, "")
			fs.StringVar(&f.dataDir, "data", "var/up", "folder for this process's files (country, keys, embedded broker data, evidence)")
			fs.StringVar(&f.metrics, "metrics", "127.0.0.1:9100", "address serving Prometheus /metrics and /readyz for the roles; empty disables")
			fs.StringVar(&f.ref, "ref", "", "reference data folder; empty generates a synthetic country into <data>/country (--sim-seed, --sim-scale)")
			fs.StringVar(&f.keys, "keys", "", "token key file; empty uses <data>/keys, created with a fresh key if missing")
			fs.StringVar(&f.staffKeys, "staff-keys", "", "key file of the leads', war room's and desk's tokens, separate from --keys; empty uses <data>/staff-keys, created with a fresh key if missing")
			fs.StringVar(&f.consoleKeys, "console-keys", "", "key file the review console signs decisions for ingest with (ingest then takes a lead's or the war room's decision only through the console); empty uses <data>/console-keys, created with a fresh key if missing")
			fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "ingest's HTTP listen address")
			fs.StringVar(&f.feedListen, "feed-listen", "127.0.0.1:8090", "the newsroom feed's HTTP listen address")
			fs.StringVar(&f.logListen, "log-listen", "127.0.0.1:8095", "the transparency log's HTTP listen address")
			fs.StringVar(&f.consoleListen, "console-listen", "127.0.0.1:8070", "the review console's HTTP listen address")
			fs.BoolVar(&f.simulate, "simulate", false, "replay the simulated election night of the country against ingest")
			fs.StringVar(&f.baseline, "baseline", "", "a previous election's results folder for the estimator (see `estimate --baseline`); `simulated` (without --ref): a previous election of the synthetic country, written once into <country>/previous-election")
			fs.Uint64Var(&f.simSeed, "sim-seed", 1, "seed of the synthetic country and its night")
			fs.Float64Var(&f.simScale, "sim-scale", 0.1, "fraction of a national country to generate, in (0, 1]")
			fs.Float64Var(&f.simStations, "sim-stations-scale", 1, "multiplies every constituency's station count, in (0, 1]")
			fs.Float64Var(&f.simSpeed, "sim-speed", 60, "simulated time per wall-clock time; 0 = as fast as possible")
			return func(ctx context.Context, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				return runUp(ctx, f)
			}
		},
	})
}

func (f upFlags) simConfig() simulate.Config {
	cfg := simulate.DefaultConfig()
	cfg.Seed = f.simSeed
	cfg.Country.Scale, cfg.Country.StationsScale = f.simScale, f.simStations
	return cfg
}

// prepareCountry loads --ref, or writes (once) and loads the synthetic country of the seed.
func prepareCountry(f upFlags) (*election.Country, string, error) {
	dir := f.ref
	if dir == "" {
		dir = filepath.Join(f.dataDir, fmt.Sprintf("country-seed%d-scale%g-stations%g", f.simSeed, f.simScale, f.simStations))
		if _, err := os.Stat(filepath.Join(dir, "stations.csv")); errors.Is(err, os.ErrNotExist) {
			cfg := f.simConfig()
			if err := cfg.Validate(); err != nil {
				return nil, "", fmt.Errorf("%w: %v", errUsage, err)
			}
			slog.Info("generating a synthetic country", "dir", dir, "seed", f.simSeed, "scale", f.simScale)
			if _, _, err := simulate.WriteCountry(cfg, dir); err != nil {
				return nil, "", err
			}
		}
	}
	c, err := election.LoadCountry(os.DirFS(dir))
	if err != nil {
		return nil, "", fmt.Errorf("reference data %s: %w", dir, err)
	}
	if len(c.Stations) == 0 || len(c.Candidates) == 0 {
		return nil, "", fmt.Errorf("%w: %s has no stations or candidates: complete it with `votestream simulate country --ref %s --out DIR` and pass --ref DIR", errUsage, dir, dir)
	}
	return c, dir, nil
}

// prepareKeys returns the key file, creating <data>/keys with a fresh key if none is given.
func prepareKeys(f upFlags) (string, error) {
	if f.keys != "" {
		return f.keys, nil
	}
	path := filepath.Join(f.dataDir, "keys")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return path, appendKey(path, "up1")
	}
	return path, nil
}

// prepareStaffKeys is prepareKeys for the staff key file, <data>/staff-keys.
func prepareStaffKeys(f upFlags) (string, error) {
	if f.staffKeys != "" {
		return f.staffKeys, nil
	}
	path := filepath.Join(f.dataDir, "staff-keys")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return path, appendKey(path, "staff-up1")
	}
	return path, nil
}

// prepareConsoleKeys is prepareKeys for the console key file, <data>/console-keys.
func prepareConsoleKeys(f upFlags) (string, error) {
	if f.consoleKeys != "" {
		return f.consoleKeys, nil
	}
	path := filepath.Join(f.dataDir, "console-keys")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return path, appendKey(path, "console-up1")
	}
	return path, nil
}

func runUp(ctx context.Context, f upFlags) error {
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	country, countryDir, err := prepareCountry(f)
	if err != nil {
		return err
	}
	keys, err := prepareKeys(f)
	if err != nil {
		return err
	}
	staffKeys, err := prepareStaffKeys(f)
	if err != nil {
		return err
	}
	consoleKeys, err := prepareConsoleKeys(f)
	if err != nil {
		return err
	}
	if f.baseline, err = prepareBaseline(f, countryDir); err != nil {
		return err
	}
	env := upEnv{seeds: f.kf.seedList(), topicPrefix: f.kf.topicPrefix, clickhouse: f.cf, dataDir: f.dataDir,
		country: country, countryDir: countryDir, keysFile: keys, staffKeysFile: staffKeys, consoleKeysFile: consoleKeys, listen: f.listen, feedListen: f.feedListen, logListen: f.logListen, consoleListen: f.consoleListen, baselineDir: f.baseline, metrics: newRegistry()}
	broker := "Kafka " + strings.Join(env.seeds, ",")
	if len(env.seeds) == 0 {
		// No broker configured: franz-go's kfake runs transactions and read_committed
		// correctly (DESIGN.md §5), so one process can hold the whole pipeline.
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(f.dataDir, "kfake")))
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		defer cluster.Close()
		env.seeds = cluster.ListenAddrs()
		broker = "embedded Kafka-protocol broker (kfake) " + strings.Join(env.seeds, ",")
	}
	if _, err := ensureTopics(ctx, env.seeds, env.topicPrefix); err != nil {
		return err
	}

	var started []upStarted
	tw := tabwriter.NewWriter(os.Stderr, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "votestream up: running\n")
	fmt.Fprintf(tw, "  country\t%s: %d constituencies, %d stations, %d parties\n", countryDir, len(country.Constituencies), len(country.Stations), len(country.Parties))
	fmt.Fprintf(tw, "  broker\t%s\n", broker)
	if f.cf.addr != "" {
		applied, err := migrateClickHouse(ctx, f.cf, "")
		if err != nil {
			return err
		}
		if err := loadReference(ctx, f.cf, country); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  clickhouse\t%s database %s (%d migrations applied now, reference data loaded)\n", f.cf.addr, f.cf.database, len(applied))
	}
	for _, r := range upRoles {
		st, err := r.start(ctx, env)
		if err != nil {
			tw.Flush()
			return fmt.Errorf("start %s: %w", r.name, err)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", r.name, st.describe)
		if st.run != nil {
			st.name = r.name
			started = append(started, st)
			env.metrics.MustRegister(st.metrics...)
		}
	}
	// The lag of the committing groups that run, as their own commands export it: the
	// pipeline-health dashboard and the lag alerts read it (one collector for both: it owns
	// votestream_kafka_reachable).
	var groups []string
	for _, st := range started {
		switch st.name {
		case "consolidate":
			groups = append(groups, schemas.ConsumerGroup(env.topicPrefix, "consolidate"))
		case "sink":
			groups = append(groups, schemas.ConsumerGroup(env.topicPrefix, "sink"))
		}
	}
	if len(groups) > 0 {
		closeLag, err := registerLag(env.metrics, env.seeds, env.topicPrefix, groups...)
		if err != nil {
			return err
		}
		defer closeLag()
	}
	if f.metrics != "" {
		fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", f.metrics)
	}
	var missing []string
	for _, c := range commands {
		if c.notBuilt {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(tw, "  not built yet\t%s\n", strings.Join(sortedCopy(missing), ", "))
	}
	if f.simulate {
		fmt.Fprintf(tw, "  simulation\tthe night of seed %d replayed against http://%s at %gx\n", f.simSeed, f.listen, f.simSpeed)
	}
	fmt.Fprintf(tw, "Stop with Ctrl-C.\n")
	tw.Flush()

	err = withMetricsReady(ctx, f.metrics, env.metrics, upReady(started), func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		for _, st := range started {
			g.Go(func() error {
				if err := st.run(gctx); err != nil && gctx.Err() == nil {
					return fmt.Errorf("%s: %w", st.name, err)
				}
				return nil
			})
		}
		if f.simulate {
			var replayed atomic.Bool
			g.Go(func() error { return simulateAgainstIngest(gctx, f, env, &replayed) })
			if upLatestEstimate != nil {
				g.Go(func() error {
					printHeadlines(gctx, os.Stdout, env.country, upLatestEstimate, 5*time.Second, replayed.Load)
					return nil
				})
			}
		}
		<-gctx.Done()
		return g.Wait()
	})
	slog.Info("votestream up: stopped")
	return err
}

// simulateAgainstIngest waits until ingest answers, then replays the night. The pipeline
// keeps running after the night so its results can be read.
func simulateAgainstIngest(ctx context.Context, f upFlags, env upEnv, replayed *atomic.Bool) error {
	ring, err := token.LoadKeyring(env.keysFile)
	if err != nil {
		return err
	}
	base := "http://" + env.listen
	if err := waitHTTP(ctx, base+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("simulation: ingest not ready: %w", err)
	}
	// The night of the country ingest loaded: its folder already has the stations, so no
	// scale applies again (Scale with RefDir keeps a fraction of the folder's provinces).
	cfg := f.simConfig()
	cfg.Country.RefDir, cfg.Country.Scale, cfg.Country.StationsScale = env.countryDir, 1, 1
	rc := simulate.DefaultReplayConfig()
	rc.URL, rc.Speed, rc.Progress = base, f.simSpeed, os.Stderr
	rc.ProgressEvery = 5 * time.Second
	rc.Token = volunteerTokens(ring, 24*time.Hour)
	if err := replayNight(ctx, cfg, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("simulation: %w", err)
	}
	replayed.Store(true)
	fmt.Println("== the simulated night has been fully replayed: every report is sent; estimates keep updating as the pipeline catches up (Ctrl-C to stop) ==")
	return nil
}

// printHeadlines prints, every interval, the newest estimate when it changed, as a small
// board (estimate.Board: the top parties with intervals or `too early`, seats with their
// ranges and chance of the most seats, the constituencies' calls), and says once the
// simulated night has been fully replayed (replayed).
func printHeadlines(ctx context.Context, w io.Writer, c *election.Country, latest func() (schemas.Estimate, bool), every time.Duration, replayed func() bool) {
	names := map[int]string{}
	for _, p := range c.Parties {
		names[p.No] = strings.TrimSpace(p.NameTH + " " + p.NameEN)
	}
	name := func(no int) string { return cmp.Or(names[no], strconv.Itoa(no)) }
	t := time.NewTicker(every)
	defer t.Stop()
	last, toldDone := "", false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e, ok := latest()
		done := replayed()
		if !ok || e.EstimateID == last && (!done || toldDone) {
			continue
		}
		last, toldDone = e.EstimateID, done
		var b strings.Builder
		fmt.Fprintf(&b, "── estimate at %s ", e.DataTime.In(simulate.BangkokTime).Format("15:04:05"))
		switch {
		case done && e.SharesState == schemas.StateCount:
			b.WriteString("· the simulated night has been fully replayed and every station is counted ")
		case done:
			b.WriteString("· the simulated night has been fully replayed; the pipeline is catching up ")
		}
		b.WriteString("──\n")
		for _, l := range estimate.Board(e, name, 6) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		fmt.Fprint(w, b.String())
	}
}

// upReady is the readiness of every started role that reports one: the first one waiting
// for a dependency, named.
func upReady(started []upStarted) func() error {
	return func() error {
		for _, st := range started {
			if st.ready == nil {
				continue
			}
			if err := st.ready(); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
		}
		return nil
	}
}

// prepareBaseline resolves --baseline: "simulated" writes (once) the synthetic country's
// previous election next to it.
func prepareBaseline(f upFlags, countryDir string) (string, error) {
	if f.baseline != "simulated" {
		return f.baseline, nil
	}
	if f.ref != "" {
		return "", fmt.Errorf("%w: --baseline simulated needs the synthetic country (no --ref)", errUsage)
	}
	dir := filepath.Join(countryDir, "previous-election")
	if _, err := os.Stat(filepath.Join(dir, "station_votes.csv")); errors.Is(err, os.ErrNotExist) {
		sim, err := simulate.Generate(f.simConfig())
		if err != nil {
			return "", err
		}
		if err := writePrevious(sim, "good", dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}
