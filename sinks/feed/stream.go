package feed

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// streamRetryMillis is the reconnection delay the stream asks EventSource clients for.
const streamRetryMillis = 2000

// streamBatch bounds the events one read of the ring hands a client.
const streamBatch = 256

// handleEvents serves /v1/feed/events: Server-Sent Events from the ring, resumed after
// Last-Event-ID (header, or ?last_event_id= for clients that cannot set it).
func (f *Feed) handleEvents(w http.ResponseWriter, r *http.Request, newsroom string) {
	filter, err := parseStreamFilter(r.URL.Query(), f.cfg.Country)
	if err != nil {
		f.writeError(w, CodeInvalidParameter, "%v", err)
		return
	}
	if err := f.acquireStream(newsroom); err != nil {
		f.m.refused.WithLabelValues("too_many_streams").Inc()
		w.Header().Set("Retry-After", "5")
		f.writeError(w, CodeTooManyStreams, "newsroom %q already holds %d event streams", newsroom, f.cfg.MaxStreamsPerNewsroom)
		return
	}
	defer f.releaseStream(newsroom)

	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	s := &stream{f: f, w: w, rc: http.NewResponseController(w), ctx: r.Context(), filter: filter,
		epoch: f.view.Epoch()}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and its kin: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if stop := s.takeConn(r); stop != nil {
		defer stop()
	}
	reset := ""
	if f.embargoed() {
		if !s.holdEmbargo() {
			return
		}
		reset = ResetEmbargoLifted
	}
	s.run(lastID, reset)
}

// stream is one client's event stream.
type stream struct {
	f      *Feed
	w      http.ResponseWriter
	rc     *http.ResponseController
	ctx    context.Context
	filter streamFilter
	epoch  string

	buf    []byte
	idSent uint64 // the id of the last id: line written; the client's Last-Event-ID
	// conn, once taken over from net/http (takeConn), gets each flush as one chunk in one
	// write; nil: writes go through the ResponseWriter.
	conn      net.Conn
	chunkHead []byte
	lastWrite time.Time
	sent      []typeCount // events written since the last flush, by type
	published time.Time   // of the newest event in buf, zero when none
}

// run streams until the client leaves, falls behind, or the feed shuts down. A non-empty
// reset starts the stream with a reset of that reason, whatever lastID says.
func (s *stream) run(lastID, reset string) {
	ring, cfg := s.f.ring, s.f.cfg
	newest := ring.Last()
	cursor := newest
	if lastID != "" && reset == "" {
		epoch, seq, ok := parseEventID(lastID)
		if ok && epoch == s.epoch && seq <= newest {
			cursor = seq
		} else {
			reset = "unknown_id" // another process's id (a restart), or not one of ours
		}
	}
	s.buf = append(s.buf, "retry: "+strconv.Itoa(streamRetryMillis)+"\n: votestream feed\n"...)
	if reset == "" {
		s.appendID(cursor)
	}
	s.buf = append(s.buf, '\n')
	if reset != "" {
		s.appendReset(reset, newest)
		cursor = newest
	}
	if !s.flush() {
		return
	}

	// A client resuming from far back may read its way forward; it is held to ClientLag
	// only once it has caught up that far, or it could never resume at all.
	catchingUp := newest-cursor > uint64(cfg.ClientLag)
	first := true
	heartbeat := time.NewTimer(cfg.Heartbeat)
	defer heartbeat.Stop()
	evs := make([]*Event, 0, streamBatch)
	for {
		var wait <-chan struct{}
		var st readStatus
		evs, newest, wait, st = ring.Read(cursor, streamBatch, evs[:0])
		switch st {
		case readClosed:
			return
		case readAhead:
			return // the ring was reset under the client; it reconnects and gets a reset
		case readOverrun:
			if first {
				// The client's last event left the ring between its id check and now.
				s.appendReset("too_old", newest)
				cursor = newest
				if !s.flush() {
					return
				}
				first = false
				continue
			}
			s.f.m.dropped.WithLabelValues("overrun").Inc()
			return
		}
		first = false
		lag := newest - cursor
		if catchingUp && lag <= uint64(cfg.ClientLag) {
			catchingUp = false
		}
		if !catchingUp && lag > uint64(cfg.ClientLag) {
			s.f.m.dropped.WithLabelValues("lagging").Inc()
			return
		}
		if len(evs) == 0 {
			select {
			case <-wait:
			case <-heartbeat.C:
				heartbeat.Reset(cfg.Heartbeat)
				s.appendHeartbeat(cursor)
				if !s.flush() {
					return
				}
			case <-s.ctx.Done():
				return
			case <-s.f.shutdown:
				return
			}
			continue
		}
		for _, ev := range evs {
			if s.filter.match(ev) {
				s.appendEvent(ev)
			}
		}
		cursor = evs[len(evs)-1].ID
		// A filtered client may go a long time without a matching event; its heartbeat
		// still carries the newest id so that it resumes from there, not from the ring's
		// far past.
		if len(s.buf) == 0 && time.Since(s.lastWrite) >= cfg.Heartbeat {
			s.appendHeartbeat(cursor)
		}
		if len(s.buf) > 0 {
			if !s.flush() {
				return
			}
			heartbeat.Reset(cfg.Heartbeat)
		}
	}
}

// typeCount counts one event type's events written since the last flush; the counter of
// the type is looked up once per stream, not once per flush (a fan-out flushes every
// stream for every event).
type typeCount struct {
	typ     string
	n       int
	counter prometheus.Counter
}

// count notes one event of typ in the buffer (a stream sees a handful of types).
func (s *stream) count(typ string) {
	for i := range s.sent {
		if s.sent[i].typ == typ {
			s.sent[i].n++
			return
		}
	}
	s.sent = append(s.sent, typeCount{typ: typ, n: 1})
}

// counted is how many events of typ are in the buffer.
func (s *stream) counted(typ string) int {
	for _, tc := range s.sent {
		if tc.typ == typ {
			return tc.n
		}
	}
	return 0
}

func (s *stream) appendID(id uint64) {
	s.buf = append(s.buf, "id: "...)
	s.buf = append(s.buf, formatEventID(s.epoch, id)...)
	s.buf = append(s.buf, '\n')
	s.idSent = id
}

func (s *stream) appendEvent(ev *Event) {
	s.count(ev.Type)
	if ev.Published.After(s.published) {
		s.published = ev.Published
	}
	if ev.Frame != nil && ev.Epoch == s.epoch {
		s.buf = append(s.buf, ev.Frame...)
		s.idSent = ev.ID
		return
	}
	s.appendID(ev.ID)
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, ev.Type...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, ev.Data...)
	s.buf = append(s.buf, "\n\n"...)
}

// appendReset tells the client that events it asked for are gone: it must refetch what it
// shows from the JSON API, and then keeps reading this stream from id.
func (s *stream) appendReset(reason string, id uint64) {
	eventID := formatEventID(s.epoch, id)
	s.appendID(id)
	s.buf = append(s.buf, "event: reset\ndata: {\"reason\":\""...)
	s.buf = append(s.buf, reason...)
	s.buf = append(s.buf, "\",\"event_id\":\""...)
	s.buf = append(s.buf, eventID...)
	s.buf = append(s.buf, '"')
	if s.f.cfg.TestMode { // the test feed marks every event
		s.buf = append(s.buf, testMarks...)
	}
	s.buf = append(s.buf, "}\n\n"...)
	s.count(EventReset)
}

// appendHeartbeat writes a comment (which clients ignore) and, when events were skipped
// by the filter since the last id sent, an id line: a block with an id and no data moves
// an EventSource's Last-Event-ID without firing an event.
func (s *stream) appendHeartbeat(cursor uint64) {
	s.buf = append(s.buf, ": heartbeat\n"...)
	if cursor != s.idSent {
		s.appendID(cursor)
	}
	s.buf = append(s.buf, '\n')
}

// takeConn takes the connection of an HTTP/1.1 stream over from net/http once the response
// header is out, so that each flush is one write system call (the chunk's size, the events
// and the chunk's end, by writev) rather than up to three: net/http's 2 KiB and 4 KiB
// buffers split an event larger than them, and its Flush writes the chunk's end apart. That
// is most of the feed's work in a fan-out to many streams (docs/benchmarks.md). The
// returned func ends the chunked body and closes the connection; nil when the connection
// stays with net/http (HTTP/2, HTTP/1.0, a writer that cannot hand it over).
func (s *stream) takeConn(r *http.Request) func() {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return nil // HTTP/1.0 has no chunked encoding; HTTP/2 cannot be hijacked
	}
	if err := s.rc.Flush(); err != nil { // the header, with Transfer-Encoding: chunked
		return nil
	}
	conn, _, err := s.rc.Hijack()
	if err != nil {
		return nil
	}
	s.conn = conn
	// net/http no longer tells the handler that the client left: a read of the idle
	// connection does (a stream's client sends nothing more).
	ctx, cancel := context.WithCancel(s.ctx)
	s.ctx = ctx
	var wg sync.WaitGroup
	wg.Go(func() {
		var b [1]byte
		_, _ = conn.Read(b[:])
		cancel()
	})
	return func() {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write([]byte("0\r\n\r\n")) // the end of the chunked body
		conn.Close()
		cancel()
		wg.Wait()
	}
}

// write sends the buffer: as one chunk on a taken-over connection, else through net/http.
func (s *stream) write() error {
	if s.conn != nil {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.f.cfg.WriteTimeout))
		s.chunkHead = strconv.AppendInt(s.chunkHead[:0], int64(len(s.buf)), 16)
		s.chunkHead = append(s.chunkHead, '\r', '\n')
		bufs := net.Buffers{s.chunkHead, s.buf, crlf}
		_, err := bufs.WriteTo(s.conn)
		return err
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.f.cfg.WriteTimeout))
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.rc.Flush()
	}
	return err
}

var crlf = []byte("\r\n")

// flush writes the buffer within WriteTimeout; false when the client is gone or stuck.
func (s *stream) flush() bool {
	if len(s.buf) == 0 {
		return true
	}
	err := s.write()
	s.buf = s.buf[:0]
	if !s.published.IsZero() {
		if err == nil {
			s.f.m.deliveryDelay.Observe(time.Since(s.published).Seconds())
		}
		s.published = time.Time{}
	}
	for i := range s.sent {
		if tc := &s.sent[i]; tc.n > 0 {
			if tc.counter == nil && s.f != nil {
				tc.counter = s.f.m.eventsSent.WithLabelValues(tc.typ)
			}
			if tc.counter != nil {
				tc.counter.Add(float64(tc.n))
			}
			tc.n = 0
		}
	}
	if err != nil {
		if s.ctx.Err() == nil {
			s.f.m.dropped.WithLabelValues("write_failed").Inc()
		}
		return false
	}
	s.lastWrite = time.Now()
	return true
}
