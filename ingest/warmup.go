package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// warmDedupe fills the dedupe store with the submissions accepted in the last DedupeTTL, read
// back from the submissions topic, so that a phone retrying across an ingest restart still
// gets its first receipt and makes no second record. Serve runs it while submissions are
// refused with 503 STARTING: no submission can race it. It never fails the start: on a Kafka error, or when
// WarmupTimeout passes, it keeps what it read, logs a warning and returns (availability
// first; consolidate still drops a duplicate downstream). WarmupTimeout 0 skips it.
//
// Only submissions are read back. Reviews and official figures are rare, and their records
// do not carry the hash their receipts give: that hash is taken over the message before
// ingest sets reviewer_id (or entered_by), role and received_at.
func (s *Server) warmDedupe(ctx context.Context) {
	if s.cfg.WarmupTimeout <= 0 {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WarmupTimeout)
	defer cancel()
	now := s.now()
	w, err := s.readSubmissions(ctx, now)
	ids := s.dedupe.rememberSubmissions(w.subs, now)
	took := time.Since(start)
	s.metrics.warmupIDs.Set(float64(ids))
	s.metrics.warmupSeconds.Set(took.Seconds())
	attrs := []any{"ids", ids, "records", w.records, "undecodable", w.undecodable,
		"since", now.Add(-s.cfg.DedupeTTL).UTC().Format(time.RFC3339), "took", took.Round(time.Millisecond)}
	if err != nil {
		s.log.Warn("ingest: dedupe store only partly warmed from Kafka; starting anyway (consolidate still drops duplicates)",
			append(attrs, "err", err)...)
		return
	}
	s.log.Info("ingest: dedupe store warmed from Kafka", attrs...)
}

// warmSubmission is what the dedupe store needs of one record of the submissions topic.
type warmSubmission struct {
	key, hash, volunteer string
	leafHash             string // the report's leaf in the transparency log, for its receipt
	receivedAt           time.Time
}

// rememberSubmissions stores subs (in any order) as settled entries and returns how many it
// stored. Every partition is read in order, but the partitions interleave in time: it
// sorts by received_at first, so that the store's queue stays in time order (see remember)
// and, when an id was produced twice, the first acceptance is the one remembered.
func (d *dedupe) rememberSubmissions(subs []warmSubmission, now time.Time) int {
	slices.SortStableFunc(subs, func(a, b warmSubmission) int { return a.receivedAt.Compare(b.receivedAt) })
	n := 0
	for _, ws := range subs {
		receipt := schemas.Receipt{SubmissionID: ws.key[len("submission/"):], Hash: ws.hash, ReceivedAt: ws.receivedAt, LeafHash: ws.leafHash}
		if d.remember(ws.key, ws.hash, ws.volunteer, receipt, ws.receivedAt, now) {
			n++
		}
	}
	return n
}

// warmRead is what readSubmissions found; it is filled as far as the read got, also when it
// returns an error.
type warmRead struct {
	subs        []warmSubmission
	records     int // records read
	undecodable int // records skipped: not a report.v1, or without an id or a hash
}

// readSubmissions reads the submissions topic from the first offsets at or after
// now - DedupeTTL up to the end offsets taken when it starts, partition by partition, with a
// client of its own (no group: nothing is committed). Records produced meanwhile by other
// ingest processes are not waited for.
//
// It counts a partition done when it has read the record just before the end offset. The
// topic is written only by ingest's idempotent, non-transactional producer, so its offsets
// have no gaps; a transaction marker at the end of a partition would hold the read until
// the context ends.
func (s *Server) readSubmissions(ctx context.Context, now time.Time) (warmRead, error) {
	var w warmRead
	topic := s.cfg.TopicPrefix + schemas.TopicSubmissions
	base := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.Seeds...),
		kgo.ClientID("votestream-ingest-warmup"),
		kgo.DialTimeout(min(s.cfg.WarmupTimeout, 5*time.Second)),
	}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return w, fmt.Errorf("kafka client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	// The end offsets bound the read: what other ingest processes produce from now on is
	// not waited for. A partition with nothing in the window lists its start at the end.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		admCl.Close()
		return w, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListOffsetsAfterMilli(ctx, now.Add(-s.cfg.DedupeTTL).UnixMilli(), topic)
	if err == nil {
		err = starts.Error()
	}
	admCl.Close()
	if err != nil {
		return w, fmt.Errorf("offsets of %s after %s: %w", topic, now.Add(-s.cfg.DedupeTTL).UTC().Format(time.RFC3339), err)
	}

	// The store keeps at most DedupeMaxEntries ids, the newest: read no more than each
	// partition's share of them (keys spread evenly over partitions), so the read is bounded
	// and, if it is cut short, what it has is not the oldest part of the window.
	partitions := 0
	ends.Each(func(kadm.ListedOffset) { partitions++ })
	share := int64(s.cfg.DedupeMaxEntries/max(partitions, 1) + 1)
	from := map[int32]kgo.Offset{}
	end := map[int32]int64{} // partitions still to read, to their end offsets
	ends.Each(func(e kadm.ListedOffset) {
		if st, ok := starts.Lookup(e.Topic, e.Partition); ok && st.Offset >= 0 && st.Offset < e.Offset {
			from[e.Partition] = kgo.NewOffset().At(max(st.Offset, e.Offset-share))
			end[e.Partition] = e.Offset
		}
	})
	if len(end) == 0 {
		return w, nil
	}

	cl, err := kgo.NewClient(append(base, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return w, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return w, fmt.Errorf("reading %s: %d partitions unfinished: %w", topic, len(end), err)
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, err error) {
			if fetchErr == nil {
				fetchErr = fmt.Errorf("reading %s[%d]: %w", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := end[r.Partition]
			if !ok || r.Offset >= last {
				return
			}
			w.records++
			if ws, ok := decodeWarm(r); ok {
				w.subs = append(w.subs, ws)
			} else {
				w.undecodable++
			}
			if r.Offset == last-1 {
				delete(end, r.Partition)
			}
		})
		if fetchErr != nil {
			return w, fetchErr
		}
	}
	return w, nil
}

// warmReport is the part of a report.v1 the dedupe store needs: decoding only these fields
// skips the votes map and the rest of the submission.
type warmReport struct {
	SubmissionID string        `json:"submission_id"`
	StationID    string        `json:"station_id"`
	Ballot       string        `json:"ballot"`
	Stage        schemas.Stage `json:"stage"`
	VolunteerID  string        `json:"volunteer_id"`
	ReceivedAt   time.Time     `json:"received_at"`
	Hash         string        `json:"hash"`
}

var errNotReport = errors.New("ingest: not a report.v1 record")

// decodeWarm reads one record of the submissions topic. The strings it returns are
// encoding/json's own copies, so the store does not keep the record's buffer alive.
func decodeWarm(r *kgo.Record) (warmSubmission, bool) {
	var rep warmReport
	if err := decodeReportFields(r, &rep); err != nil || rep.SubmissionID == "" || rep.Hash == "" {
		return warmSubmission{}, false
	}
	leaf := schemas.ReportLeaf(&schemas.Report{
		Submission: schemas.Submission{SubmissionID: rep.SubmissionID, StationID: rep.StationID, Ballot: rep.Ballot, Stage: rep.Stage},
		ReceivedAt: rep.ReceivedAt, Hash: rep.Hash,
	})
	return warmSubmission{
		key: "submission/" + rep.SubmissionID, hash: rep.Hash, volunteer: rep.VolunteerID,
		leafHash: schemas.LeafHashHex(leaf), receivedAt: rep.ReceivedAt,
	}, true
}

// decodeReportFields checks the envelope as kgorecord.Decode does for a schemas.Report and
// decodes the value into the smaller rep.
func decodeReportFields(r *kgo.Record, rep *warmReport) error {
	name, err := schemas.RecordSchema(kgorecord.FromHeaders(r.Headers))
	if err != nil {
		return err
	}
	if name != schemas.SchemaReport {
		return fmt.Errorf("%w: %s", errNotReport, name)
	}
	return json.Unmarshal(r.Value, rep)
}
