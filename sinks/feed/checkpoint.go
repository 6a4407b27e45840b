package feed

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// EventCheckpoint: the transparency log's newer signed checkpoint (docs/evidence-log.md),
// so that newsrooms hold, outside our systems, the tree head every report and photo of the
// night is committed to.
const EventCheckpoint = "checkpoint"

// CheckpointView is a signed checkpoint of the transparency log as newsrooms cite it: the
// note is what `votestream verify` checks (with the log's public key and any witnesses').
type CheckpointView struct {
	Origin      string     `json:"origin"`
	Size        int64      `json:"size"`
	RootHash    string     `json:"root_hash"`
	Note        string     `json:"note"`
	Cosigners   []string   `json:"cosigners"`
	PublishedAt *time.Time `json:"published_at"`
}

// CheckpointEvent is the payload of a checkpoint event.
type CheckpointEvent struct {
	Notice
	Checkpoint CheckpointView `json:"checkpoint"`
}

func checkpointView(cp *schemas.Checkpoint) *CheckpointView {
	if cp == nil {
		return nil
	}
	cos := cp.Cosigners
	if cos == nil {
		cos = []string{}
	}
	return &CheckpointView{Origin: cp.Origin, Size: cp.Size, RootHash: cp.RootHash, Note: cp.Note, Cosigners: cos,
		PublishedAt: jsonTime(cp.PublishedAt)}
}

// newerCheckpoint: a larger tree, or the same tree with more witnesses' cosignatures.
func newerCheckpoint(cp, than *schemas.Checkpoint) bool {
	if than == nil {
		return true
	}
	if cp.Origin != than.Origin {
		return cp.PublishedAt.After(than.PublishedAt) // another log (a new key's origin): the newest wins
	}
	return cp.Size > than.Size || cp.Size == than.Size && len(cp.Cosigners) > len(than.Cosigners)
}

// ApplyCheckpoint takes a checkpoint newer than the one held into the summary; false for
// an older one or a repeat.
func (v *View) ApplyCheckpoint(cp schemas.Checkpoint) (Change, bool) {
	if !newerCheckpoint(&cp, v.checkpoint) {
		return Change{}, false
	}
	v.checkpoint = &cp
	v.seq++
	return Change{Seq: v.seq, Type: EventCheckpoint, Payload: &CheckpointEvent{Notice: v.notice, Checkpoint: *checkpointView(&cp)}}, true
}

func (f *Feed) decodeCheckpoint(rec *kgo.Record) (*schemas.Checkpoint, bool) {
	var cp schemas.Checkpoint
	if err := kgorecord.Decode(rec, &cp); err != nil {
		f.m.records.WithLabelValues(schemas.TopicCheckpoints, "rejected").Inc()
		f.warnRejected(err)
		return nil, false
	}
	return &cp, true
}

// checkpointGate passes the log's checkpoints on at most once per interval: the log signs
// one every second while it grows, and each would otherwise change every answer's version
// and wake every stream. The newest one held back is passed on when the interval is up,
// records or not (due says when), so the night's last checkpoint always reaches the feed.
// Owned by the consuming goroutine.
type checkpointGate struct {
	every   time.Duration
	last    time.Time
	pending *schemas.Checkpoint
}

// offer holds cp (when newer than what is held) and returns the checkpoint to apply now, if any.
func (g *checkpointGate) offer(cp *schemas.Checkpoint, now time.Time) *schemas.Checkpoint {
	if g.pending == nil || newerCheckpoint(cp, g.pending) {
		g.pending = cp
	}
	return g.release(now)
}

// release returns the held checkpoint when the interval since the last one passed is up.
func (g *checkpointGate) release(now time.Time) *schemas.Checkpoint {
	if g.pending == nil || now.Sub(g.last) < g.every {
		return nil
	}
	cp := g.pending
	g.pending, g.last = nil, now
	return cp
}

// due is when the held checkpoint may go (zero: nothing is held).
func (g *checkpointGate) due() time.Time {
	if g.pending == nil {
		return time.Time{}
	}
	return g.last.Add(g.every)
}
