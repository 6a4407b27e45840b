package feed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"votestream/internal/httpserve"
)

// CodeEmbargoed: 403 before polls close; the body's lifts_at says when results open.
const CodeEmbargoed = "EMBARGOED"

// EventEmbargo is the event an embargoed stream sends once, first.
const EventEmbargo = "embargo"

// ResetEmbargoLifted is the reason of the reset a stream opened during the embargo gets
// when it lifts: nothing before it was sent, so fetch everything, then read on.
const ResetEmbargoLifted = "embargo_lifted"

// embargoError is the error body of an embargoed answer.
type embargoError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	LiftsAt time.Time `json:"lifts_at"`
}

// EmbargoEvent is the data of the `embargo` event.
type EmbargoEvent struct {
	LiftsAt time.Time `json:"lifts_at"`
	Message string    `json:"message"`
	Notice
}

// now reads the feed's clock.
func (f *Feed) now() time.Time { return f.cfg.Now() }

// embargoed reports whether results are still under embargo (polls have not closed).
func (f *Feed) embargoed() bool { return f.now().Before(f.cfg.PollsClose) }

func (f *Feed) liftsAt() time.Time { return f.cfg.PollsClose.In(bangkok) }

func (f *Feed) embargoMessage() string {
	return fmt.Sprintf("results are embargoed until polls close at %s (Thai time)", f.liftsAt().Format(time.RFC3339))
}

// writeEmbargoed answers 403 EMBARGOED with the time the embargo lifts, in the body and as
// Retry-After.
func (f *Feed) writeEmbargoed(w http.ResponseWriter) {
	wait := f.cfg.PollsClose.Sub(f.now())
	w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	f.setWriteDeadline(w)
	httpserve.WriteJSON(w, http.StatusForbidden, struct {
		Error embargoError `json:"error"`
		Notice
	}{embargoError{Code: CodeEmbargoed, Message: f.embargoMessage(), LiftsAt: f.liftsAt()}, f.view.notice})
}

// holdEmbargo keeps a stream opened before polls close: the `embargo` event, then only
// heartbeats, until the embargo lifts (true) or the stream ends (false). It checks the clock
// at each heartbeat and wakes at the lifting time itself.
func (s *stream) holdEmbargo() bool {
	f := s.f
	data, _ := json.Marshal(EmbargoEvent{LiftsAt: f.liftsAt(), Message: f.embargoMessage(), Notice: f.view.notice})
	s.buf = append(s.buf, "retry: "+strconv.Itoa(streamRetryMillis)+"\n: votestream feed\n\nevent: "+EventEmbargo+"\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	s.count(EventEmbargo)
	if !s.flush() {
		return false
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if !f.embargoed() {
			return true
		}
		timer.Reset(min(f.cfg.Heartbeat, f.cfg.PollsClose.Sub(f.now())))
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			return false
		case <-f.shutdown:
			return false
		}
		if !f.embargoed() {
			return true
		}
		s.buf = append(s.buf, ": heartbeat\n\n"...)
		if !s.flush() {
			return false
		}
	}
}
