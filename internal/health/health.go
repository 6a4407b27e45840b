// Package health tracks whether the services a role depends on (Kafka, ClickHouse, an
// evidence bucket) answer. Each dependency is up or down; a change of state is logged once
// (not once per retry), shown as a Prometheus gauge, and makes the role's readiness false
// while anything is down. Dependency.Wait retries an operation with a backoff.Policy for as
// long as the policy allows (however long, for an unbounded one) while reporting all that:
// the building block of "wait for the dependency, then resume" that every role uses.
//
// The package owns no goroutine and does no I/O of its own beyond logging.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"votestream/internal/backoff"
	"votestream/internal/promreg"
)

// Set is the dependencies of one role. Safe for concurrent use.
type Set struct {
	role    string
	log     *slog.Logger
	up      *prometheus.GaugeVec
	outages *prometheus.CounterVec
	now     func() time.Time

	mu   sync.Mutex
	deps map[string]*Dependency
}

// NewSet prepares the dependency set of role. Its metrics go to reg when not nil:
// votestream_dependency_up{role,dependency} (1 up, 0 down) and
// votestream_dependency_outages_total{role,dependency}. log defaults to slog.Default().
func NewSet(role string, log *slog.Logger, reg prometheus.Registerer) (*Set, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Set{
		role: role, log: log, now: time.Now, deps: map[string]*Dependency{},
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "votestream", Name: "dependency_up",
			Help:        "1 while a service the role needs answers, 0 while the role waits for it.",
			ConstLabels: prometheus.Labels{"role": role},
		}, []string{"dependency"}),
		outages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "votestream", Name: "dependency_outages_total",
			Help:        "Times a service the role needs stopped answering.",
			ConstLabels: prometheus.Labels{"role": role},
		}, []string{"dependency"}),
	}
	if err := promreg.Register(reg, "health "+role, s.up, s.outages); err != nil {
		return nil, err
	}
	return s, nil
}

// Dependency returns the named dependency, created up on first use.
func (s *Set) Dependency(name string) *Dependency {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.deps[name]; d != nil {
		return d
	}
	d := &Dependency{set: s, name: name, up: true}
	s.deps[name] = d
	s.up.WithLabelValues(name).Set(1)
	s.outages.WithLabelValues(name)
	return d
}

// ErrDown is matched (errors.Is) by Ready's error.
var ErrDown = errors.New("health: waiting for a dependency")

// Ready returns nil when every dependency is up, or an error naming those that are down,
// since when and why (sorted by name).
func (s *Set) Ready() error {
	s.mu.Lock()
	names := make([]string, 0, len(s.deps))
	for n := range s.deps {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	var down []string
	for _, n := range names {
		d := s.Dependency(n)
		if up, since, cause := d.State(); !up {
			down = append(down, fmt.Sprintf("%s (down for %v: %v)", n, s.now().Sub(since).Round(time.Second), cause))
		}
	}
	if len(down) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrDown, strings.Join(down, "; "))
}

// FlapWindow: a failure this soon after a recovery is, in the log and the outage count,
// the same outage going on. A dependency coming back (a Kafka cluster electing its leaders,
// the first requests after a restart timing out) often fails again once or twice; the gauge
// and readiness follow every change, but the log says "waiting" and "recovered" once. Should
// such a failure last longer than FlapWindow, it is logged as an outage after all. The
// window runs from the latest recovery, logged or not.
const FlapWindow = 10 * time.Second

// Dependency is one service a role needs. Safe for concurrent use.
type Dependency struct {
	set  *Set
	name string

	mu        sync.Mutex
	up        bool
	since     time.Time // of the current outage
	cause     error     // first error of the current outage
	recovered time.Time // of the last recovery
	quiet     bool      // the current outage is a flap after a recovery, not yet logged
}

// Name returns the dependency's name.
func (d *Dependency) Name() string { return d.name }

// State reports whether the dependency is up and, when it is not, since when and the error
// that began the outage.
func (d *Dependency) State() (up bool, since time.Time, cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.up, d.since, d.cause
}

// Down records a failure. The first one of an outage is logged (a warning naming err) and
// sets the gauge to 0; later ones change nothing until Up. Within FlapWindow of a recovery
// the gauge goes to 0 but the log waits: only a failure still going on FlapWindow later is
// logged (see FlapWindow).
func (d *Dependency) Down(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.set.now()
	if !d.up {
		if d.quiet && now.Sub(d.since) >= FlapWindow {
			d.quiet = false
			d.announceDown(d.cause)
		}
		return
	}
	d.up, d.since, d.cause = false, now, err
	d.set.up.WithLabelValues(d.name).Set(0)
	if !d.recovered.IsZero() && now.Sub(d.recovered) < FlapWindow {
		d.quiet = true
		d.set.log.Debug(d.name+" failed again just after recovering", "role", d.set.role, "dependency", d.name, "err", err)
		return
	}
	d.announceDown(err)
}

func (d *Dependency) announceDown(err error) {
	d.set.outages.WithLabelValues(d.name).Inc()
	d.set.log.Warn("waiting for "+d.name, "role", d.set.role, "dependency", d.name, "err", err)
}

// Up records a success. After an outage it is logged once (with the outage's length) and
// sets the gauge back to 1; otherwise it changes nothing. The end of a flap (see Down) is
// not logged: its recovery was.
func (d *Dependency) Up() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up {
		return
	}
	d.up = true
	d.set.up.WithLabelValues(d.name).Set(1)
	if d.quiet {
		d.quiet, d.recovered = false, d.set.now()
		d.set.log.Debug(d.name+" answers again", "role", d.set.role, "dependency", d.name, "down_for", d.set.now().Sub(d.since).Round(time.Millisecond))
		d.cause = nil
		return
	}
	d.recovered = d.set.now()
	d.set.log.Info(d.name+" recovered", "role", d.set.role, "dependency", d.name,
		"down_for", d.recovered.Sub(d.since).Round(time.Millisecond), "first_err", d.cause)
	d.cause = nil
}

// Wait calls op until it succeeds, with the waits of p, marking the dependency down from the
// first failure and up again on success; each failed try is logged at debug level only. It
// returns nil on success, or what backoff.Retry returns: the context's error, a Permanent
// error (the dependency stays as it was: the service answered, the request was wrong), or,
// for a bounded p, an error wrapping backoff.ErrExhausted with the dependency left down.
func (d *Dependency) Wait(ctx context.Context, p backoff.Policy, op func(context.Context) error) error {
	return backoff.Retry(ctx, p, func(ctx context.Context) error {
		err := op(ctx)
		switch {
		case err == nil:
			d.Up()
		case !backoff.IsPermanent(err) && ctx.Err() == nil:
			d.Down(err)
		}
		return err
	}, func(r backoff.Retrying) {
		d.set.log.Debug("retrying "+d.name, "role", d.set.role, "attempt", r.Attempt, "wait", r.Wait, "err", r.Err)
	})
}
