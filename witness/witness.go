// Package witness is the role a partner organisation runs to keep the transparency log
// honest. The log pushes each new checkpoint to it with a consistency proof (C2SP
// tlog-witness, POST /add-checkpoint, when Listen is set); as a fallback it also fetches the
// log's newest checkpoint every Interval and checks the consistency proof from the log's
// tiles. Either way it checks that the checkpoint extends the last one it cosigned, cosigns it
// (C2SP tlog-cosignature) and gives the cosignature to the log (the answer to a push, or a
// post after a fetch), which publishes it. A checkpoint that does not extend
// the last one seen, two of one size with different roots among them, is a fork: the
// witness keeps both notes as evidence, reports it loudly and stops cosigning.
//
// It owns its state file (the last checkpoint it cosigned) and nothing of the log's.
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"votestream/evidencelog/tlog"
	"votestream/internal/httpserve"
)

// Config is what a witness is told. Start from DefaultConfig.
type Config struct {
	// LogURL is the log's public address (the folder holding "checkpoint"); required.
	LogURL string
	// LogKeysFile holds the log's public keys (GET /log.pub, checked out of band); required.
	LogKeysFile string
	// KeyFile is the witness's private key (note format, `votestream witness keygen`);
	// required. Its name is the witness's name in cosignatures.
	KeyFile string
	// StateFile keeps the last checkpoint cosigned; the witness trusts the first one it
	// sees when the file is absent. Default "var/witness/state".
	StateFile string
	// Interval between two fetches. Default 5s.
	Interval time.Duration
	// Post sends each checkpoint cosigned after a fetch to LogURL/cosignature (a pushed
	// checkpoint's cosignature is the answer to the push). Default true.
	Post bool
	// Listen is the HTTP address where the log pushes checkpoints (C2SP tlog-witness: POST
	// /add-checkpoint); "" takes no pushes, fetching only. Default "".
	Listen string
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger; default slog.Default().
	Logger *slog.Logger
	// HTTPClient; default a client with a 30 s timeout.
	HTTPClient *http.Client
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{StateFile: "var/witness/state", Interval: 5 * time.Second, Post: true}
}

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("witness: invalid config")

// Validate reports the first missing or contradictory setting.
func (c Config) Validate() error {
	switch {
	case c.LogURL == "":
		return fmt.Errorf("%w: no log URL", ErrConfig)
	case c.LogKeysFile == "":
		return fmt.Errorf("%w: no file of the log's public keys", ErrConfig)
	case c.KeyFile == "":
		return fmt.Errorf("%w: no witness key file (create one with `votestream witness keygen`)", ErrConfig)
	case c.StateFile == "":
		return fmt.Errorf("%w: no state file", ErrConfig)
	case c.Interval < 100*time.Millisecond:
		return fmt.Errorf("%w: interval %v: want at least 100ms", ErrConfig, c.Interval)
	}
	return nil
}

// Errors of a check.
var (
	// ErrFork: the log signed a checkpoint that does not extend one it signed before.
	ErrFork = errors.New("witness: FORK: the log signed two histories")
	// ErrPost: the log refused or did not take the cosignature.
	ErrPost = errors.New("witness: cosignature not taken by the log")
)

// Witness watches one log. Build it with New; Run it, or call Check.
type Witness struct {
	cfg    Config
	log    *slog.Logger
	logKey []note.Verifier
	signer note.Signer
	src    tlog.Log
	http   *http.Client
	m      metrics

	mu     sync.Mutex       // one check at a time: pushes and fetches change last
	last   *tlog.Checkpoint // last cosigned, nil before the first
	forked error            // the fork found, after which nothing is cosigned
}

type metrics struct {
	cosigned prometheus.Gauge
	checks   *prometheus.CounterVec
	pushes   *prometheus.CounterVec
}

// New reads the keys and the state file.
func New(cfg Config) (*Witness, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Witness{cfg: cfg, log: cfg.Logger, http: cfg.HTTPClient}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.http == nil {
		w.http = &http.Client{Timeout: 30 * time.Second}
	}
	keys, err := tlog.LoadVerifiers(cfg.LogKeysFile)
	if err != nil {
		return nil, err
	}
	if w.logKey, err = tlog.LogVerifiers(keys); err != nil {
		return nil, err
	}
	skey, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("witness: key: %w", err)
	}
	if w.signer, err = tlog.CosignatureSigner(firstKeyLine(string(skey))); err != nil {
		return nil, err
	}
	if w.src, err = tlog.OpenLog(cfg.LogURL); err != nil {
		return nil, err
	}
	if raw, err := os.ReadFile(cfg.StateFile); err == nil {
		if w.last, err = tlog.Open(raw, w.logKey, nil); err != nil {
			return nil, fmt.Errorf("witness: state %s: %w", cfg.StateFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("witness: state: %w", err)
	}
	w.m = metrics{
		cosigned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "votestream_witness_cosigned_size", Help: "Size of the newest checkpoint this witness cosigned."}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "votestream_witness_checks_total",
			Help: "Checkpoints fetched, by outcome: cosigned, unchanged, stale (fetched before a newer one was cosigned), fork, error."}, []string{"outcome"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "votestream_witness_pushes_total",
			Help: "Checkpoints the log pushed (POST /add-checkpoint), by HTTP status answered."}, []string{"code"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(w.m.cosigned, w.m.checks, w.m.pushes)
	}
	return w, nil
}

func firstKeyLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// StateFile is where the witness keeps its last cosigned checkpoint (fork evidence goes
// beside it).
func (w *Witness) StateFile() string { return w.cfg.StateFile }

// Name is the witness's key name, as its cosignatures carry it.
func (w *Witness) Name() string { return w.signer.Name() }

// Run takes pushed checkpoints (when Listen is set) and checks the log every Interval until
// ctx ends (nil) or a fork is found (ErrFork, after the evidence is written). Other failures
// (log unreachable, cosignature refused) are logged and retried at the next tick.
func (w *Witness) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	if w.cfg.Listen != "" {
		hc := httpserve.DefaultConfig()
		hc.Name, hc.Addr, hc.Handler, hc.Logger = "witness", w.cfg.Listen, w.Handler(), w.log
		srv, err := httpserve.New(hc)
		if err != nil {
			return fmt.Errorf("witness: %w", err)
		}
		go func() { served <- srv.Run(ctx) }()
	} else {
		served <- nil
	}
	err := w.poll(ctx)
	cancel()
	if serr := <-served; err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	return err
}

// poll is the fallback: a fetch every Interval.
func (w *Witness) poll(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.forkFound(); err != nil {
			return err
		}
		if _, err := w.Check(ctx); err != nil {
			if errors.Is(err, ErrFork) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			w.log.Warn("witness: check failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Witness) forkFound() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.forked
}

// Check fetches the newest checkpoint, verifies it against the last one cosigned, cosigns
// it and posts the cosignature. It returns the cosigned note (nil when nothing changed).
func (w *Witness) Check(ctx context.Context) ([]byte, error) {
	// The fetch runs without mu, so a push may be cosigned while it is under way; what was
	// cosigned when it started tells a checkpoint fetched too early from the log going back.
	w.mu.Lock()
	var before uint64
	if w.last != nil {
		before = w.last.Size
	}
	w.mu.Unlock()
	raw, err := w.src.ReadCheckpoint(ctx)
	if err != nil {
		w.m.checks.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("witness: fetch checkpoint: %w", err)
	}
	return w.offer(ctx, raw, before)
}

// Offer checks a given signed checkpoint of the log (fetched, or read from checkpoints.v1
// or a newsroom's feed) as Check does.
func (w *Witness) Offer(ctx context.Context, raw []byte) ([]byte, error) {
	return w.offer(ctx, raw, math.MaxUint64)
}

// offer is Offer of a checkpoint fetched when the witness had cosigned up to size before
// (MaxUint64: not fetched by Check). One smaller than the last cosigned but not than before
// was fetched before a newer one was cosigned (a push during the fetch): stale, not the
// log going back, once the log's tiles show the cosigned tree extends it. (A national
// night of `votestream up` stopped on this race, docs/benchmarks.md.)
func (w *Witness) offer(ctx context.Context, raw []byte, before uint64) ([]byte, error) {
	cp, err := tlog.Open(raw, w.logKey, nil)
	if err != nil {
		w.m.checks.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("witness: checkpoint: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.forked != nil {
		return nil, w.forked
	}
	if w.last != nil && cp.Size < w.last.Size && cp.Size >= before {
		if err := w.consistent(ctx, cp, w.last); err != nil {
			if errors.Is(err, ErrFork) {
				w.m.checks.WithLabelValues("fork").Inc()
				w.reportFork(w.last, cp, err)
			} else {
				w.m.checks.WithLabelValues("error").Inc()
			}
			return nil, err
		}
		w.m.checks.WithLabelValues("stale").Inc()
		return nil, nil
	}
	if w.last != nil {
		if err := w.consistent(ctx, w.last, cp); err != nil {
			if errors.Is(err, ErrFork) {
				w.m.checks.WithLabelValues("fork").Inc()
				w.reportFork(w.last, cp, err)
			} else {
				w.m.checks.WithLabelValues("error").Inc()
			}
			return nil, err
		}
		if cp.Size == w.last.Size {
			w.m.checks.WithLabelValues("unchanged").Inc()
			return nil, nil
		}
	}
	signed, err := w.cosign(cp)
	if err != nil {
		return nil, err
	}
	w.m.checks.WithLabelValues("cosigned").Inc()
	if w.cfg.Post {
		if err := w.post(ctx, signed); err != nil {
			return signed, err
		}
	}
	w.log.Info("witness: checkpoint cosigned", "size", cp.Size, "root", fmt.Sprintf("%x", cp.Root))
	return signed, nil
}

// cosign cosigns cp and makes it the state. The state moves before anyone is told: a
// cosignature the log did not take is given again with the next checkpoint, but the witness
// never again accepts a history that contradicts one it signed. Called with mu held.
func (w *Witness) cosign(cp *tlog.Checkpoint) ([]byte, error) {
	signed, err := tlog.Cosign(cp.Raw, w.signer)
	if err != nil {
		return nil, err
	}
	if err := tlog.SaveNote(w.cfg.StateFile, signed); err != nil {
		return nil, fmt.Errorf("witness: state: %w", err)
	}
	w.last = cp
	w.m.cosigned.Set(float64(cp.Size))
	return signed, nil
}

// consistent checks that b extends a; an inconsistency is ErrFork, a proof that cannot be
// fetched is not.
func (w *Witness) consistent(ctx context.Context, a, b *tlog.Checkpoint) error {
	switch {
	case b.Size < a.Size:
		return fmt.Errorf("%w: the log went back from %d leaves to %d", ErrFork, a.Size, b.Size)
	case b.Size == a.Size:
		if a.Root != b.Root {
			return fmt.Errorf("%w: two checkpoints of %d leaves with different roots %x and %x", ErrFork, a.Size, a.Root, b.Root)
		}
		return nil
	}
	path, err := tlog.ConsistencyProof(ctx, w.src, a.Size, b.Size)
	if err != nil {
		return fmt.Errorf("witness: consistency proof %d -> %d: %w", a.Size, b.Size, err)
	}
	if err := tlog.VerifyConsistency(a, b, path); err != nil {
		return fmt.Errorf("%w: %w", ErrFork, err)
	}
	return nil
}

// reportFork writes both notes beside the state file and logs at error level: the evidence
// anyone can check with `votestream verify --old A --new B`. From then on the witness
// cosigns nothing (Run returns the fork). Called with mu held.
func (w *Witness) reportFork(a, b *tlog.Checkpoint, why error) {
	w.forked = why
	stamp := time.Now().UTC().Format("20060102T150405Z")
	base := filepath.Join(filepath.Dir(w.cfg.StateFile), fmt.Sprintf("fork-%s-%d-vs-%d", stamp, a.Size, b.Size))
	errA := tlog.SaveNote(base+"-seen", a.Raw)
	errB := tlog.SaveNote(base+"-new", b.Raw)
	w.log.Error("witness: FORK DETECTED: the log signed a checkpoint that contradicts one this witness cosigned; cosigning stops",
		"origin", b.Origin, "seen_size", a.Size, "new_size", b.Size, "why", why.Error(),
		"evidence", base+"-seen, "+base+"-new", "write_err", errors.Join(errA, errB))
}

func (w *Witness) post(ctx context.Context, signed []byte) error {
	url := strings.TrimSuffix(w.cfg.LogURL, "/") + "/cosignature"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(signed))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPost, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPost, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: %s", ErrPost, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
