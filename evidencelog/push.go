package evidencelog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"votestream/evidencelog/tlog"
	"votestream/internal/backoff"
)

// pushCurve bounds the pushes of one checkpoint to one witness: five tries, waits from
// 250 ms doubling to at most 4 s. A witness still away after that gets the next checkpoint
// (with the proof from the size it last cosigned), and fetches checkpoints itself meanwhile.
var pushCurve = backoff.Exponential(250*time.Millisecond, 4*time.Second).Attempts(5)

// pusher pushes the log's new checkpoints to one witness (C2SP tlog-witness: POST
// <url>/add-checkpoint with a consistency proof from the size the witness last cosigned)
// and merges the cosignature it answers into the archived checkpoint, published like any
// other. One goroutine per witness (run), owned by Log.Run.
type pusher struct {
	l      *Log
	url    string // .../add-checkpoint
	name   string // for logs and metrics: the witness's host
	http   *http.Client
	latest chan *tlog.Checkpoint // the newest checkpoint not yet pushed (one slot, newest wins)
	size   uint64                // the size the witness last cosigned, as far as the log knows
}

func newPusher(l *Log, base string) (*pusher, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: witness URL %q: want http(s)://host[/path]", ErrConfig, base)
	}
	return &pusher{
		l: l, url: u.JoinPath("add-checkpoint").String(), name: u.Host,
		http:   &http.Client{Timeout: 10 * time.Second},
		latest: make(chan *tlog.Checkpoint, 1),
	}, nil
}

// offer hands the pusher a new checkpoint, replacing one it has not started on. Only the
// checkpoint watcher calls it (one sender), so the send after the drain never blocks.
func (p *pusher) offer(cp *tlog.Checkpoint) {
	select {
	case p.latest <- cp:
	default:
		select {
		case <-p.latest:
		default:
		}
		p.latest <- cp
	}
}

func (p *pusher) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case cp := <-p.latest:
			p.push(ctx, cp)
		}
	}
}

// errPushRefused: the witness refused the checkpoint for a reason no retry mends.
var errPushRefused = errors.New("refused")

// push tries to have the witness cosign cp, within pushCurve; it gives up early when a newer
// checkpoint is waiting (that one is pushed instead).
func (p *pusher) push(ctx context.Context, cp *tlog.Checkpoint) {
	b := pushCurve.Start()
	for {
		err := p.try(ctx, cp)
		if err == nil {
			p.l.m.pushes.WithLabelValues(p.name, "cosigned").Inc()
			return
		}
		if ctx.Err() != nil {
			return
		}
		var conflict *sizeConflict
		if errors.As(err, &conflict) {
			// The witness last cosigned another size: push again at once from there (it
			// counts as a try, so a witness that keeps changing its mind is bounded too).
			p.size = conflict.size
			p.l.m.pushes.WithLabelValues(p.name, "size_conflict").Inc()
			if _, ok := b.Next(); ok {
				continue
			}
		}
		if errors.Is(err, errPushRefused) {
			p.l.m.pushes.WithLabelValues(p.name, "refused").Inc()
			p.l.log.Error("evidencelog: a witness refused a checkpoint", "witness", p.name, "size", cp.Size, "err", err)
			return
		}
		p.l.m.pushes.WithLabelValues(p.name, "error").Inc()
		wait, ok := b.Next()
		if !ok {
			p.l.log.Warn("evidencelog: checkpoint not pushed to a witness; the next one will be", "witness", p.name, "size", cp.Size, "tries", b.Failed(), "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if len(p.latest) > 0 {
			return // a newer checkpoint supersedes this one
		}
	}
}

type sizeConflict struct{ size uint64 }

func (c *sizeConflict) Error() string {
	return fmt.Sprintf("the witness last cosigned a tree of %d leaves", c.size)
}

// try is one push: the request, the answer, the cosignature merged and published.
func (p *pusher) try(ctx context.Context, cp *tlog.Checkpoint) error {
	if p.size > cp.Size {
		p.size = 0 // cannot be: the witness saw a larger tree of this log; let it say which
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", p.size)
	if p.size > 0 && p.size < cp.Size {
		proof, err := tlog.ConsistencyProof(ctx, p.l.reader, p.size, cp.Size)
		if err != nil {
			return err
		}
		for _, h := range proof {
			body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
	}
	body.WriteString("\n")
	body.Write(cp.Raw) // witnesses ignore signatures by keys they do not know
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &body)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, tlog.MaxNoteBytes))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusConflict && resp.Header.Get("Content-Type") == "text/x.tlog.size":
		n, err := strconv.ParseUint(strings.TrimSpace(string(rb)), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: a 409 whose size %q is not a number", errPushRefused, rb)
		}
		return &sizeConflict{n}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(rb)))
	default:
		return fmt.Errorf("%w: %s: %s", errPushRefused, resp.Status, strings.TrimSpace(string(rb)))
	}
	signed := append(bytes.Clone(cp.Raw), rb...)
	if _, mcp, err := p.l.cps.addCosignature(signed); err != nil {
		return fmt.Errorf("%w: its answer: %w", errPushRefused, err)
	} else {
		p.l.cps.publish(mcp)
	}
	p.size = cp.Size
	return nil
}
