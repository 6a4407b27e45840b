package consolidate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// publishedAnomalies is the set of anomaly ids on anomalies.v1 (committed records only),
// read back whenever state is rebuilt and kept up to date with what this process commits.
// The transaction path publishes an anomaly only if its id is not in the set, which makes
// the topic hold each id once even though a rebuilt state has forgotten the verdicts a
// replay does not retrace: outliers raised and cleared again along the way, cross-partition
// flags a previous owner already published (docs/consolidation.md §4).
//
// Only the owner of a station's partition raises anomalies about it, and a new owner reads
// the set after the previous owner's last transaction committed (its offsets are committed
// in that transaction), so the check cannot race with another process for one id.
// Not safe for concurrent use.
type publishedAnomalies struct {
	topic   string
	ids     map[string]struct{}
	next    map[int32]int64 // next offset to read back, per partition
	pending []string        // ids produced in the open transaction
}

func newPublishedAnomalies(topic string) *publishedAnomalies {
	return &publishedAnomalies{topic: topic, ids: map[string]struct{}{}, next: map[int32]int64{}}
}

// claim reports whether id may be published in the open transaction: false when it is on
// the topic or already claimed in this transaction.
func (p *publishedAnomalies) claim(id string) bool {
	if _, ok := p.ids[id]; ok {
		return false
	}
	p.ids[id] = struct{}{}
	p.pending = append(p.pending, id)
	return true
}

// has reports whether id is on the topic (or claimed in the open transaction).
func (p *publishedAnomalies) has(id string) bool { _, ok := p.ids[id]; return ok }

// commit keeps the ids of the transaction that committed; rollback forgets them.
func (p *publishedAnomalies) commit() { p.pending = p.pending[:0] }

func (p *publishedAnomalies) rollback() {
	for _, id := range p.pending {
		delete(p.ids, id)
	}
	p.pending = p.pending[:0]
}

// catchUp reads the topic from where the last catch-up stopped up to each partition's last
// stable offset now. Transaction markers are kept as control records so that a partition
// ending in one is known to be read to its end.
func (p *publishedAnomalies) catchUp(ctx context.Context, seeds []string, log *slog.Logger) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, fmt.Errorf("consolidate: anomaly read-back client: %w", err)
	}
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, p.topic) // read_committed: the LSO
	cl.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("consolidate: anomaly read-back: list offsets of %s: %w", p.topic, err)
	}
	end := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > p.next[o.Partition] {
			end[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(p.next[o.Partition])
		}
	})
	if len(from) == 0 {
		return 0, nil
	}
	rc, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.WithLogger(kgoLogger{log}),
	)
	if err != nil {
		return 0, fmt.Errorf("consolidate: anomaly read-back client: %w", err)
	}
	defer rc.Close()
	n := 0
	for len(end) > 0 {
		fetches := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var fetchErr error
		fetches.EachError(func(topic string, part int32, err error) {
			fetchErr = fmt.Errorf("consolidate: anomaly read-back %s[%d]: %w", topic, part, err)
		})
		if fetchErr != nil {
			return n, fetchErr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			e, ok := end[r.Partition]
			if !ok || r.Offset >= e {
				return
			}
			p.next[r.Partition] = r.Offset + 1
			if r.Offset+1 >= e {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			// Only the id matters; a record whose id cannot be read was never ours to repeat.
			var a struct {
				ID string `json:"anomaly_id"`
			}
			if json.Unmarshal(r.Value, &a) == nil && a.ID != "" {
				p.ids[a.ID] = struct{}{}
				n++
			}
		})
	}
	return n, nil
}
