package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/backoff"
	"votestream/internal/kafkaread"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// desk is the decision desk's state: the newest estimate, the recommendations it makes,
// and every record of calls.v1, read from Kafka; and the producer of the desk's decisions
// and of the recommendation changes. One console runs the desk (its decisions are
// serialised by mu; two consoles would each check against their own view).
type desk struct {
	seeds   []string
	topics  [2]string // calls, estimates (prefixed)
	country *election.Country
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration // one produce

	prod *kgo.Client

	mu       sync.Mutex
	races    map[string]*raceState
	calls    []schemas.Call // calls.v1 in topic order
	seen     map[string]bool
	estimate *schemas.Estimate
	caughtUp bool
}

func newDesk(cfg Config, log *slog.Logger, now func() time.Time) (*desk, error) {
	prod, err := kgo.NewClient(kgo.SeedBrokers(cfg.Seeds...), kgo.DefaultProduceTopic(cfg.TopicPrefix+schemas.TopicCalls))
	if err != nil {
		return nil, fmt.Errorf("console: desk producer: %w", err)
	}
	d := &desk{seeds: cfg.Seeds, country: cfg.Country, log: log, now: now, timeout: cfg.ForwardTimeout, prod: prod,
		topics: [2]string{cfg.TopicPrefix + schemas.TopicCalls, cfg.TopicPrefix + schemas.TopicEstimates}}
	d.reset()
	return d, nil
}

// reset forgets everything read (before reading the topics again).
func (d *desk) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.races = map[string]*raceState{schemas.RaceNational: {Race: schemas.RaceNational}}
	for _, c := range d.country.Constituencies {
		d.races[c.ID] = &raceState{Race: c.ID}
	}
	d.calls, d.seen, d.estimate, d.caughtUp = nil, map[string]bool{}, nil, false
}

// readCurve is the wait before reading the topics again after the reader failed.
var readCurve = backoff.Exponential(time.Second, 15*time.Second)

// run follows calls.v1 (whole) and estimates.v1 (newest record) until ctx ends; a failed
// read is retried, from the start, after a back-off.
func (d *desk) run(ctx context.Context) error {
	defer d.prod.Close()
	retry := readCurve.Start()
	for {
		err := d.read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("console: desk: reading calls.v1 and estimates.v1 failed; reading again", "err", err)
		wait, _ := retry.Next()
		if backoff.Sleep(ctx, wait) != nil {
			return nil
		}
		d.reset()
	}
}

func (d *desk) read(ctx context.Context) error {
	rd, err := kafkaread.New(kafkaread.Config{
		Seeds:         d.seeds,
		Topics:        []kafkaread.Topic{{Name: d.topics[0]}, {Name: d.topics[1], Newest: 1}},
		Live:          true,
		List:          kafkaread.ListCurve.Within(time.Minute),
		WaitForTopics: true,
		Logger:        d.log,
	})
	if err != nil {
		return err
	}
	defer rd.Close()
	if err := rd.Start(ctx); err != nil {
		return err
	}
	caught := rd.CaughtUp()
	for {
		if caught {
			d.mu.Lock()
			d.caughtUp = true
			d.mu.Unlock()
			d.logRecommendations(ctx)
		}
		b, err := rd.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, kafkaread.ErrClosed) {
			return err
		}
		for _, rec := range b.Records {
			d.take(rec)
		}
		caught = b.CaughtUp
	}
}

// take applies one record of either topic.
func (d *desk) take(rec *kgo.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rec.Topic == d.topics[1] {
		var e schemas.Estimate
		if err := kgorecord.Decode(rec, &e); err != nil {
			d.log.Warn("console: desk: estimate not readable", "offset", rec.Offset, "err", err)
			return
		}
		if d.estimate != nil && schemas.OrderEstimates(&e, d.estimate) != schemas.Newer {
			return
		}
		d.estimate = &e
		for race, r := range recommendations(&e, d.country) {
			if rs := d.races[race]; rs != nil {
				r := r
				rs.Rec = &r
			}
		}
		return
	}
	var c schemas.Call
	if err := kgorecord.Decode(rec, &c); err != nil {
		d.log.Warn("console: desk: call not readable", "offset", rec.Offset, "err", err)
		return
	}
	d.applyLocked(c)
}

// applyLocked folds a call into the state once (a decision is applied when produced and
// comes back from the topic).
func (d *desk) applyLocked(c schemas.Call) {
	if d.seen[c.CallID] {
		return
	}
	d.seen[c.CallID] = true
	d.calls = append(d.calls, c)
	if rs := d.races[c.Race]; rs != nil {
		rs.apply(&d.calls[len(d.calls)-1])
	}
}

// recommendID is the call_id of a recommendation: the same for the same estimate and
// race, so a second console or a retry logs nothing new in ClickHouse.
func recommendID(estimateID, race string) string {
	h := sha256.Sum256([]byte(estimateID + "\x00" + race))
	return "rec-" + hex.EncodeToString(h[:12])
}

// logRecommendations writes a recommend record for every race whose recommendation
// (state or winner) differs from the last one logged. A race the estimator has never
// recommended more than too_early is not logged.
func (d *desk) logRecommendations(ctx context.Context) {
	d.mu.Lock()
	var out []schemas.Call
	now := d.now().UTC()
	for _, c := range append([]election.Constituency{{ID: schemas.RaceNational}}, d.country.Constituencies...) {
		rs := d.races[c.ID]
		if rs == nil || rs.Rec == nil || (rs.Logged != nil && rs.Rec.same(*rs.Logged)) ||
			(rs.Logged == nil && rs.Rec.State == schemas.CallTooEarly) {
			continue
		}
		out = append(out, schemas.Call{CallID: recommendID(rs.Rec.Evidence.EstimateID, rs.Race), Race: rs.Race,
			Action: schemas.ActionRecommend, State: rs.Rec.State, LeaderNo: rs.Rec.LeaderNo, PartyNo: rs.Rec.PartyNo,
			Evidence: rs.Rec.Evidence, By: "estimator", Org: "votestream", Role: "estimator", At: now})
	}
	d.mu.Unlock()
	if len(out) == 0 {
		return
	}
	recs := make([]*kgo.Record, 0, len(out))
	for i := range out {
		r, err := kgorecord.New(d.topics[0], &out[i])
		if err != nil {
			d.log.Error("console: desk: recommendation not encoded", "race", out[i].Race, "err", err)
			return
		}
		recs = append(recs, r)
	}
	pctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.prod.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		// Tried again on the next record read; the ids make a repeat harmless.
		d.log.Warn("console: desk: recommendations not logged", "n", len(recs), "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range out {
		d.applyLocked(c)
	}
}

// decide checks a decision against the protocol, writes it to calls.v1 and applies it.
// Decisions are serialised: the check and the write happen under one lock.
func (d *desk) decide(ctx context.Context, u who, req DecisionRequest) (*schemas.Call, *APIError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.caughtUp {
		return nil, apiErr(CodeNotReady, "", "the desk is still reading the call log; try again in a moment")
	}
	rs := d.races[req.Race]
	if rs == nil {
		return nil, apiErr(CodeNotFound, "race", "no race %q: a constituency id or \"national\"", req.Race)
	}
	if e := checkDecision(rs, req); e != nil {
		return nil, e
	}
	c := schemas.Call{CallID: uuid.NewString(), Race: rs.Race, Action: req.Action,
		By: u.VolunteerID, Org: u.Org, Role: u.Role, At: d.now().UTC(), Reason: strings.TrimSpace(req.Reason)}
	switch {
	case req.Action == schemas.ActionApprove:
		c.State, c.LeaderNo, c.PartyNo, c.Evidence = req.State, rs.Rec.LeaderNo, rs.Rec.PartyNo, rs.Rec.Evidence
	case req.Action == schemas.ActionRetract:
		c.State, c.LeaderNo, c.PartyNo = rs.Standing.State, rs.Standing.LeaderNo, rs.Standing.PartyNo
		c.Evidence = rs.Standing.Evidence
		if rs.Rec != nil {
			c.Evidence = rs.Rec.Evidence // what the desk saw when it took the call back
		}
	case rs.Rec != nil:
		c.Evidence = rs.Rec.Evidence
	}
	rec, err := kgorecord.New(d.topics[0], &c)
	if err == nil {
		err = schemas.Validate(schemas.SchemaCall, rec.Value)
	}
	if err != nil {
		return nil, apiErr(CodeInvalidValue, "", "the decision cannot be recorded: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.prod.ProduceSync(pctx, rec).FirstErr(); err != nil {
		d.log.Error("console: desk: decision not written", "race", c.Race, "action", c.Action, "err", err)
		return nil, apiErr(CodeUpstream, "", "Kafka did not take the decision; nothing was decided: try again")
	}
	d.applyLocked(c)
	d.log.Info("console: desk decision", "race", c.Race, "action", c.Action, "state", c.State, "by", c.By, "call_id", c.CallID)
	return &c, nil
}
