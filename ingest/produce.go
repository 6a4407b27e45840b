package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/partition"
	"votestream/schemas"
)

// producer is the part of *kgo.Client ingest uses; tests substitute a fake.
type producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Ping(ctx context.Context) error
	BufferedProduceRecords() int64
	Flush(ctx context.Context) error
	Close()
}

// newKafkaProducer builds the producer: acks from all in-sync replicas and idempotent writes
// (franz-go's defaults, stated here so nobody turns them off by accident), a bounded buffer,
// and the constituency partitioner: every station of a constituency on one partition of the
// report topics (internal/partition), so one consolidator sees the whole constituency.
func newKafkaProducer(cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Seeds...),
		partition.OptLookup(stationConstituency(cfg.Country)),
		kgo.ClientID("votestream-ingest"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.ProducerLinger(cfg.Linger),
		// Connection attempts to a dead broker must fail well inside ProduceTimeout.
		kgo.DialTimeout(min(cfg.ProduceTimeout, 5*time.Second)),
	}, opts...)...)
}

// stationConstituency looks a station's constituency up in the reference data, so the
// partitioner does not depend on the form of station ids.
func stationConstituency(c *election.Country) func(string) (string, bool) {
	if c == nil {
		return nil
	}
	return func(id string) (string, bool) {
		st, ok := c.StationByID(id)
		return st.ConstituencyID, ok
	}
}

// pending is one record on its way to Kafka, or a retry waiting for its first sending.
type pending struct {
	key     string // dedupe key: kind and id
	entry   *dedupeEntry
	state   dedupeState
	record  *kgo.Record // produced only when state is dedupeNew
	receipt schemas.Receipt
	flagged bool // accepted out of scope, with the SPREAD flag
}

// outcome is what one pending record came to.
type outcome struct {
	receipt schemas.Receipt
	err     *APIError
}

// commit produces the new records among ps and waits until every one of ps is settled or
// ProduceTimeout has passed, whichever is first. It never waits longer: a record still in
// flight at the deadline gets 503, and its entry settles later when Kafka answers, so the
// client's retry then gets the receipt (if it was written) or produces again (if not).
//
// The produce context is not the request's: a client that hangs up must not cancel records
// that other requests share a batch with (franz-go fails a whole partition batch when its
// first record's context ends).
func (s *Server) commit(kind string, ps []*pending) []outcome {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ProduceTimeout)
	defer cancel()
	for _, p := range ps {
		if p.state != dedupeNew {
			continue
		}
		start := time.Now()
		s.prod.Produce(ctx, p.record, func(r *kgo.Record, err error) {
			s.metrics.observeProduce(kind, start)
			if err != nil {
				s.warnProduce(err)
			} else {
				s.kafka.Up()
			}
			s.dedupe.settle(p.key, p.entry, p.receipt, err)
		})
	}
	out := make([]outcome, len(ps))
	for i, p := range ps {
		select {
		case <-p.entry.done:
		case <-ctx.Done():
		}
		select {
		case <-p.entry.done:
			if p.entry.ok {
				out[i].receipt = p.entry.receipt
				out[i].receipt.Duplicate = p.state != dedupeNew
				out[i].receipt.ProofURL = s.proofURL(out[i].receipt.LeafHash)
				continue
			}
		default:
		}
		s.kafka.Down(fmt.Errorf("not acknowledged within %s", s.cfg.ProduceTimeout))
		out[i].err = apiErr(CodeKafkaUnavailable, "",
			"not stored: Kafka did not acknowledge within %s; retry with the same id after the Retry-After delay", s.cfg.ProduceTimeout)
	}
	return out
}

// proofURL is where the transparency log serves the inclusion proof of a leaf, or "".
func (s *Server) proofURL(leafHash string) string {
	if leafHash == "" || s.cfg.EvidenceLogURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.EvidenceLogURL, "/") + "/proof/" + leafHash
}

// warnProduce marks Kafka down (one "waiting for kafka" line per outage) and logs produce
// failures at debug level at most once every 10 seconds: an outage fails thousands of
// records a second, and the metrics count them all.
func (s *Server) warnProduce(err error) {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		s.kafka.Down(err) // a record the caller gave up on is not news of Kafka
	}
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(10*time.Second) || !s.lastWarn.CompareAndSwap(last, now) {
		s.suppressed.Add(1)
		return
	}
	s.log.Debug("kafka produce failed; answering 503", "err", err, "suppressed_since_last", s.suppressed.Swap(0))
}

// warnState is embedded in Server for warnProduce.
type warnState struct {
	lastWarn   atomic.Int64
	suppressed atomic.Int64
}
