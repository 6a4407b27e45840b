// Package kafkaread reads topics the way every reader of votestream's state does:
// read_committed, from the start of each partition (or only its newest records), up to the
// last stable offset each partition had when reading began (the cut), then either stops
// there (an export) or goes on live (estimate, the feed), saying when the cut is reached.
//
// Transaction markers are kept as control records and counted, never handed out: a
// partition whose last records are markers is known to be read to its cut, without the
// "allow two markers" guess a reader that never sees them must make. Listing the cut
// retries with a backoff.Policy; a missing topic is an error at once, or retried like any
// other while a freshly created topic reaches the metadata (Config.WaitForTopics).
//
// What a record means is the reader's business: the key and version rules of
// station-results.v1 live in package schemas (ParseStationResultKey, OrderResults).
package kafkaread

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
)

// ErrTopicMissing: a topic to read does not exist (a wrong prefix, or `votestream migrate`
// not run).
var ErrTopicMissing = errors.New("kafkaread: topic does not exist (run `votestream migrate`)")

// Topic is one topic to read.
type Topic struct {
	// Name is the full topic name, prefix included.
	Name string
	// Newest, when positive, reads only the newest Newest records before the cut of each
	// partition (the latest estimate is all that matters); 0 reads from the start.
	Newest int
}

// Config of a Reader.
type Config struct {
	// Seeds are the Kafka bootstrap brokers. Required.
	Seeds []string
	// Topics to read. Required.
	Topics []Topic
	// Live goes on reading past the cut (a role that follows the topics); false stops each
	// partition at its cut, drops what lies beyond and pauses it (an export).
	Live bool
	// List bounds the tries to list the cut at Start. Required: a Policy with a bound.
	List backoff.Policy
	// WaitForTopics retries a missing topic like any other listing error (a topic created a
	// moment ago may not be in every broker's metadata yet); false fails at once with
	// ErrTopicMissing.
	WaitForTopics bool
	// Logger receives fetch errors (the client retries them) and listing retries. Default
	// slog.Default().
	Logger *slog.Logger
	// ClientOpts are added to the client's options (a logger, a retry curve).
	ClientOpts []kgo.Opt
}

// ListCurve is the wait between tries to list the cut at start: from 250 ms, doubling, at
// most 5 s. Bound it with the role's start timeout: ListCurve.Within(d).
var ListCurve = backoff.Exponential(250*time.Millisecond, 5*time.Second)

// Partition is the range of one partition a Reader reads: [Start, End), End being the last
// stable offset when the cut was listed.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
}

type topicPartition struct {
	topic     string
	partition int32
}

// Reader reads a cut of some topics. Start it once; Poll from one goroutine. CaughtUp,
// Behind, Lag and Cut are safe to call from any goroutine.
type Reader struct {
	cfg Config
	log *slog.Logger
	cl  *kgo.Client

	mu   sync.Mutex
	cut  []Partition
	next map[topicPartition]int64 // the next offset to read, control records counted
	end  map[topicPartition]int64
	open map[topicPartition]bool // not yet at the cut
	lag  map[topicPartition]int64
}

// New checks cfg and creates the client (which connects lazily); nothing is read yet.
func New(cfg Config) (*Reader, error) {
	switch {
	case len(cfg.Seeds) == 0:
		return nil, errors.New("kafkaread: no seed brokers")
	case len(cfg.Topics) == 0:
		return nil, errors.New("kafkaread: no topics")
	case !cfg.List.Bounded():
		return nil, errors.New("kafkaread: the listing policy has no bound")
	}
	if err := cfg.List.Validate(); err != nil {
		return nil, fmt.Errorf("kafkaread: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Seeds...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come through as control records, so the reader can tell that
		// it has reached the cut even when the last thing there is a marker, which a
		// consumer otherwise never sees.
		kgo.KeepControlRecords(),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafkaread: kafka client: %w", err)
	}
	return &Reader{cfg: cfg, log: log, cl: cl, next: map[topicPartition]int64{}, end: map[topicPartition]int64{},
		open: map[topicPartition]bool{}, lag: map[topicPartition]int64{}}, nil
}

// Close closes the client. Safe after a failed Start.
func (r *Reader) Close() { r.cl.Close() }

// Client returns the reader's client, for a role that also produces (dead letters, its
// output) through the same connections.
func (r *Reader) Client() *kgo.Client { return r.cl }

// Start lists the cut, retrying within Config.List, and begins reading every partition from
// its start. It returns ErrTopicMissing (unless WaitForTopics), the context's error, or an
// error wrapping backoff.ErrExhausted with the last listing error.
func (r *Reader) Start(ctx context.Context) error {
	var cut []Partition
	err := backoff.Retry(ctx, r.cfg.List, func(ctx context.Context) error {
		var err error
		cut, err = r.listCut(ctx)
		if errors.Is(err, ErrTopicMissing) && !r.cfg.WaitForTopics {
			return backoff.Permanent(err)
		}
		return err
	}, func(rt backoff.Retrying) {
		r.log.Warn("cannot list topic offsets yet; retrying", "attempt", rt.Attempt, "retry_in", rt.Wait, "err", rt.Err)
	})
	if err != nil {
		if errors.Is(err, ErrTopicMissing) {
			return err
		}
		return fmt.Errorf("kafkaread: list offsets: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = cut
	consume := map[string]map[int32]kgo.Offset{}
	for _, c := range cut {
		tp := topicPartition{c.Topic, c.Partition}
		r.end[tp] = c.End
		if c.Start < c.End {
			r.open[tp] = true
		} else if !r.cfg.Live {
			continue // nothing to read before the cut
		}
		r.next[tp] = c.Start
		if consume[c.Topic] == nil {
			consume[c.Topic] = map[int32]kgo.Offset{}
		}
		consume[c.Topic][c.Partition] = kgo.NewOffset().At(c.Start)
	}
	r.cl.AddConsumePartitions(consume)
	return nil
}

// listCut lists, once, every partition's start and last stable offset.
func (r *Reader) listCut(ctx context.Context) ([]Partition, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	names := make([]string, len(r.cfg.Topics))
	for i, t := range r.cfg.Topics {
		names[i] = t.Name
	}
	adm := kadm.NewClient(r.cl)
	first, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	// The last stable offset: what a read_committed reader can see now.
	stable, err := adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return nil, err
	}
	byTP := map[topicPartition]*Partition{}
	var bad error
	check := func(o kadm.ListedOffset) bool {
		switch {
		case o.Err == nil:
			return true
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			// kadm lists a missing topic as partition -1 with this error.
			bad = fmt.Errorf("%w: %s", ErrTopicMissing, o.Topic)
		case bad == nil:
			bad = fmt.Errorf("%s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
		return false
	}
	stable.Each(func(o kadm.ListedOffset) {
		if check(o) {
			byTP[topicPartition{o.Topic, o.Partition}] = &Partition{Topic: o.Topic, Partition: o.Partition, End: o.Offset}
		}
	})
	first.Each(func(o kadm.ListedOffset) {
		if c := byTP[topicPartition{o.Topic, o.Partition}]; check(o) && c != nil {
			c.Start = o.Offset
		}
	})
	if bad != nil {
		return nil, bad
	}
	cut := make([]Partition, 0, len(byTP))
	for _, c := range byTP {
		for _, t := range r.cfg.Topics {
			if t.Name == c.Topic && t.Newest > 0 {
				c.Start = max(c.Start, c.End-int64(t.Newest))
			}
		}
		cut = append(cut, *c)
	}
	for _, name := range names {
		if !slices.ContainsFunc(cut, func(c Partition) bool { return c.Topic == name }) {
			return nil, fmt.Errorf("%w: %s", ErrTopicMissing, name)
		}
	}
	slices.SortFunc(cut, func(a, b Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return cut, nil
}

// Cut returns the ranges Start listed, sorted by topic and partition.
func (r *Reader) Cut() []Partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cut)
}

// Batch is what one Poll brought.
type Batch struct {
	// Records are the data records, in offset order per partition; control records are
	// counted, never returned. Without Live, records at or past the cut are left out.
	Records []*kgo.Record
	// Read is how many records the poll brought, control records and, when live, records
	// past the cut included: zero means the broker sent nothing.
	Read int
	// CaughtUp: every partition has been read to its cut, as of this batch.
	CaughtUp bool
}

// ErrClosed: Poll after the client was closed.
var ErrClosed = errors.New("kafkaread: client closed")

// Poll waits for records (until ctx ends: a caller that wants to notice silence gives ctx a
// timeout) and returns them. Fetch errors are logged (the client retries them). It returns
// the context's error when ctx ended with nothing read, ErrClosed once the client is closed.
func (r *Reader) Poll(ctx context.Context) (Batch, error) {
	fetches := r.cl.PollFetches(ctx)
	if fetches.IsClientClosed() {
		return Batch{}, ErrClosed
	}
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			r.log.Warn("fetch error; the client retries", "topic", topic, "partition", p, "err", err)
		}
	})
	var b Batch
	r.mu.Lock()
	defer r.mu.Unlock()
	var finished map[string][]int32
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		tp := topicPartition{p.Topic, p.Partition}
		for _, rec := range p.Records {
			if !r.cfg.Live && !r.open[tp] {
				break // finished earlier; fetched before the pause took hold
			}
			b.Read++
			if !r.cfg.Live && rec.Offset >= r.end[tp] {
				// Past the cut, and records come in offset order: nothing before the cut is
				// left, even where compaction left a gap just before it.
				r.next[tp] = r.end[tp]
				break
			}
			r.next[tp] = max(r.next[tp], rec.Offset+1)
			if !rec.Attrs.IsControl() {
				b.Records = append(b.Records, rec)
			}
		}
		if r.open[tp] && r.next[tp] >= r.end[tp] {
			delete(r.open, tp)
			if !r.cfg.Live {
				if finished == nil {
					finished = map[string][]int32{}
				}
				finished[tp.topic] = append(finished[tp.topic], tp.partition)
			}
		}
		if p.Err == nil && p.LastStableOffset >= 0 {
			r.lag[tp] = max(0, p.LastStableOffset-r.next[tp])
		}
	})
	if finished != nil {
		// Stop fetching what this read will not use.
		r.cl.PauseFetchPartitions(finished)
	}
	b.CaughtUp = len(r.open) == 0
	if b.Read == 0 && ctx.Err() != nil {
		return b, ctx.Err()
	}
	return b, nil
}

// CaughtUp reports whether every partition has been read to its cut.
func (r *Reader) CaughtUp() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open) == 0
}

// Behind lists the partitions short of their cut, as "topic[p] at next of end", sorted.
func (r *Reader) Behind() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.open))
	for tp := range r.open {
		out = append(out, fmt.Sprintf("%s[%d] at %d of %d", tp.topic, tp.partition, r.next[tp], r.end[tp]))
	}
	slices.Sort(out)
	return out
}

// Lag returns, per topic, the records behind the last stable offset summed over partitions,
// as of each partition's last fetch.
func (r *Reader) Lag() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for tp, n := range r.lag {
		out[tp.topic] += n
	}
	return out
}

// Ping asks the broker for the topics' end offsets once (at most 15 s): nil when it answers.
func (r *Reader) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	names := make([]string, len(r.cfg.Topics))
	for i, t := range r.cfg.Topics {
		names[i] = t.Name
	}
	_, err := kadm.NewClient(r.cl).ListEndOffsets(ctx, names...)
	return err
}
