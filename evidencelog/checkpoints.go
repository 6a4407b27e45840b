package evidencelog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/evidencelog/tlog"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// checkpoints archives every checkpoint the log signs (Dir/.votestream/checkpoints/<size>,
// served at /checkpoints/<size>), merges the cosignatures witnesses post into them, and
// produces each to checkpoints.v1.
type checkpoints struct {
	l    *Log
	dir  string
	prod *kgo.Client // nil when not publishing

	mu       sync.Mutex
	latest   *tlog.Checkpoint // newest signed checkpoint, with any cosignatures
	cosigned *tlog.Checkpoint // newest checkpoint with at least one cosignature
}

func newCheckpoints(l *Log) (*checkpoints, error) {
	c := &checkpoints{l: l, dir: filepath.Join(l.cfg.Dir, stateDir, "checkpoints")}
	if l.cfg.PublishCheckpoints {
		var err error
		c.prod, err = kgo.NewClient(
			kgo.SeedBrokers(l.cfg.Seeds...),
			kgo.ClientID("votestream-evidencelog-checkpoints"),
			kgo.DefaultProduceTopic(l.cfg.TopicPrefix+schemas.TopicCheckpoints),
			kgo.RecordDeliveryTimeout(30*time.Second),
		)
		if err != nil {
			return nil, fmt.Errorf("evidencelog: kafka producer: %w", err)
		}
	}
	return c, nil
}

func (c *checkpoints) close() {
	if c.prod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.prod.Flush(ctx)
		c.prod.Close()
	}
}

// watch reads the checkpoint tessera publishes every 100 ms and handles each new one.
func (c *checkpoints) watch(ctx context.Context) error {
	var last []byte
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		raw, err := c.l.reader.ReadCheckpoint(ctx)
		if err == nil && !bytes.Equal(raw, last) {
			if err := c.signed(raw); err != nil {
				return err
			}
			last = raw
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			c.l.log.Warn("evidencelog: read checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// signed handles a checkpoint the log has just published.
func (c *checkpoints) signed(raw []byte) error {
	now := time.Now()
	cp, err := tlog.Open(raw, c.l.logKey, nil)
	if err != nil {
		// Our own key no longer verifies our checkpoint: the key file changed under us.
		return fmt.Errorf("evidencelog: the published checkpoint does not verify: %w", err)
	}
	c.mu.Lock()
	path := filepath.Join(c.dir, strconv.FormatUint(cp.Size, 10))
	if old, err := os.ReadFile(path); err == nil {
		// Republished (same size): keep the cosignatures gathered for it.
		if merged, err := tlog.MergeSignatures(old, raw); err == nil {
			raw = merged
		}
	}
	err = tlog.SaveNote(path, raw)
	if err == nil {
		cp, err = tlog.Open(raw, c.l.logKey, c.l.wits)
	}
	if err == nil {
		c.latest = cp
		if len(cp.Cosigners) > 0 {
			c.cosigned = cp
		}
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("evidencelog: archive checkpoint %d: %w", cp.Size, err)
	}
	c.l.m.checkpoint.Set(float64(cp.Size))
	for _, r := range c.l.inclusion.covered(cp.Size) {
		wait := now.Sub(r.integrated).Seconds()
		for _, at := range r.times {
			c.l.m.inclusion.Observe(now.Sub(at).Seconds())
			c.l.m.stage.WithLabelValues("checkpoint").Observe(wait)
		}
	}
	c.publish(cp)
	for _, p := range c.l.pushers {
		p.offer(cp)
	}
	return nil
}

// ErrCosignature: a posted cosignature the log does not accept.
var ErrCosignature = errors.New("evidencelog: cosignature refused")

// addCosignature merges a witness's cosigned checkpoint into the archived checkpoint of
// that size and returns the merged note. It accepts only a note that the log signed, of a
// checkpoint it archived, with at least one cosignature by a witness it knows.
func (c *checkpoints) addCosignature(body []byte) ([]byte, *tlog.Checkpoint, error) {
	if len(c.l.wits) == 0 {
		return nil, nil, fmt.Errorf("%w: this log accepts no witnesses (no witness key file)", ErrCosignature)
	}
	cp, err := tlog.Open(body, c.l.logKey, c.l.wits)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCosignature, err)
	}
	if len(cp.Cosigners) == 0 {
		return nil, nil, fmt.Errorf("%w: no cosignature by a witness this log knows", ErrCosignature)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	path := filepath.Join(c.dir, strconv.FormatUint(cp.Size, 10))
	old, err := os.ReadFile(path)
	if err != nil {
		// Published a moment ago and not archived yet (watch runs every 100 ms)?
		cur, cerr := c.l.reader.ReadCheckpoint(context.Background())
		if ccp, oerr := tlog.Open(cur, c.l.logKey, nil); cerr != nil || oerr != nil || ccp.Size != cp.Size {
			return nil, nil, fmt.Errorf("%w: this log published no checkpoint of size %d", ErrCosignature, cp.Size)
		}
		old = cur
	}
	merged, err := tlog.MergeSignatures(old, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: it is not the checkpoint this log published at size %d: %w", ErrCosignature, cp.Size, err)
	}
	mcp, err := tlog.Open(merged, c.l.logKey, c.l.wits)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCosignature, err)
	}
	if err := tlog.SaveNote(path, merged); err != nil {
		return nil, nil, fmt.Errorf("evidencelog: archive checkpoint %d: %w", cp.Size, err)
	}
	if c.latest != nil && c.latest.Size == mcp.Size {
		c.latest = mcp
	}
	if c.cosigned == nil || mcp.Size >= c.cosigned.Size {
		c.cosigned = mcp
		c.l.m.cosigned.Set(float64(mcp.Size))
	}
	return merged, mcp, nil
}

// archived returns the archived note of a size (with its cosignatures), or nil.
func (c *checkpoints) archived(size uint64) *tlog.Checkpoint {
	raw, err := os.ReadFile(filepath.Join(c.dir, strconv.FormatUint(size, 10)))
	if err != nil {
		return nil
	}
	cp, err := tlog.Open(raw, c.l.logKey, c.l.wits)
	if err != nil {
		return nil
	}
	return cp
}

func (c *checkpoints) newest() (latest, cosigned *tlog.Checkpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest, c.cosigned
}

// publish produces the checkpoint to checkpoints.v1 without waiting; a failure is logged
// and counted (the next checkpoint follows within the interval).
func (c *checkpoints) publish(cp *tlog.Checkpoint) {
	if c.prod == nil {
		return
	}
	msg := schemas.Checkpoint{
		Origin: cp.Origin, Size: int64(cp.Size), RootHash: base64.StdEncoding.EncodeToString(cp.Root[:]),
		Note: string(cp.Raw), Cosigners: cp.Cosigners, PublishedAt: time.Now().UTC(),
	}
	rec, err := kgorecord.New(c.l.cfg.TopicPrefix+schemas.TopicCheckpoints, msg)
	if err != nil {
		c.l.log.Error("evidencelog: encode checkpoint", "err", err)
		return
	}
	c.prod.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			c.l.m.publishErrors.Inc()
			c.l.log.Warn("evidencelog: checkpoint not produced to Kafka", "size", cp.Size, "err", err)
		}
	})
}
