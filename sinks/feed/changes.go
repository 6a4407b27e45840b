package feed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Error codes of the change cursor.
const (
	CodeBadCursor     = "BAD_CURSOR"     // 400: since is not a cursor this feed gave out
	CodeCursorExpired = "CURSOR_EXPIRED" // 410: the cursor's changes are gone (too old, or another run of the feed)
)

// Limits of one /v1/feed/changes answer.
const (
	changesDefaultLimit = 500
	changesMaxLimit     = 1000
)

// startOver is the way back after a cursor the feed cannot follow, said in every refusal.
const startOver = "start over: GET /v1/feed/changes without since for a fresh cursor, then re-read /v1/feed/summary and /v1/feed/constituencies"

// ChangesAnswer is the answer of /v1/feed/changes: the changes after the cursor asked
// about, oldest first, and the cursor to ask with next (as the AP's nextrequest).
type ChangesAnswer struct {
	Since      string       `json:"since,omitempty"` // the cursor asked about; absent on the start answer
	NextCursor string       `json:"next_cursor"`
	More       bool         `json:"more"` // more changes wait after next_cursor: ask again at once
	Items      []ChangeItem `json:"changes"`
	Start      string       `json:"start,omitempty"` // how to begin; on the start answer only
	Notice
}

// ChangeItem is one change: the event of the stream with that id.
type ChangeItem struct {
	ID   string          `json:"id"`
	Type string          `json:"type"` // result (a withdrawn result has status withdrawn) or estimate
	Data json.RawMessage `json:"data"`
}

// cursorStatus says what a decoded cursor is worth.
type cursorStatus int

const (
	cursorOK        cursorStatus = iota
	cursorMalformed              // not a cursor at all
	cursorOtherRun               // a cursor of another run of the feed (it restarted)
)

// parseCursor decodes since (the event id format "<epoch>-<seq>") for the view of epoch.
func parseCursor(since, epoch string) (uint64, cursorStatus) {
	e, seq, ok := parseEventID(since)
	switch {
	case !ok:
		return 0, cursorMalformed
	case e != epoch:
		return 0, cursorOtherRun
	}
	return seq, cursorOK
}

// parseChangesLimit reads the optional ?limit=N.
func parseChangesLimit(q url.Values) (int, error) {
	vs := q["limit"]
	switch {
	case len(vs) == 0:
		return changesDefaultLimit, nil
	case len(vs) > 1:
		return 0, &paramError{"limit", "given more than once"}
	}
	n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
	if err != nil || n < 1 || n > changesMaxLimit {
		return 0, &paramError{"limit", fmt.Sprintf("want a whole number from 1 to %d", changesMaxLimit)}
	}
	return n, nil
}

// handleChanges serves /v1/feed/changes: the changes after ?since=CURSOR from the ring of
// the stream (the cursor is an event id), or without since the cursor of now.
func (f *Feed) handleChanges(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	filter, err := parseStreamFilter(q, f.cfg.Country)
	if err != nil {
		f.writeError(w, CodeInvalidParameter, "%v", err)
		return
	}
	limit, err := parseChangesLimit(q)
	if err != nil {
		f.writeError(w, CodeInvalidParameter, "%v", err)
		return
	}
	since := q["since"]
	if len(since) > 1 {
		f.writeError(w, CodeBadCursor, "since is given more than once; %s", startOver)
		return
	}
	epoch := f.view.Epoch()
	a := ChangesAnswer{Items: []ChangeItem{}, Notice: f.view.notice}
	if len(since) == 0 {
		// The ring's newest id is the view's version whenever mu is held (see Feed.mu), so
		// whatever a snapshot read after this shows, the changes after it include the rest.
		f.mu.RLock()
		a.NextCursor = formatEventID(epoch, f.ring.Last())
		f.mu.RUnlock()
		a.Start = "Read the current state (/v1/feed/summary, /v1/feed/constituencies, and the stations you need), " +
			"then GET /v1/feed/changes?since=" + a.NextCursor + " and keep asking with each answer's next_cursor. " +
			"Apply every change in order: each carries the whole state after it, so the ones that repeat what you read are harmless."
		f.writeChanges(w, r, &a)
		return
	}
	a.Since = since[0]
	seq, st := parseCursor(since[0], epoch)
	switch st {
	case cursorMalformed:
		f.writeError(w, CodeBadCursor, "since %q is not a cursor of this feed; %s", truncate(since[0], 40), startOver)
		return
	case cursorOtherRun:
		f.m.cursorRefused.WithLabelValues("other_run").Inc()
		f.writeExpired(w, since[0], "was given out by an earlier run of the feed, which has restarted")
		return
	}
	cursor, examined := seq, 0
	buf := make([]*Event, 0, streamBatch)
scan:
	for len(a.Items) < limit {
		var newest uint64
		var rs readStatus
		buf, newest, _, rs = f.ring.Read(cursor, streamBatch, buf[:0])
		switch rs {
		case readClosed:
			f.writeError(w, CodeNotReady, "the feed is shutting down; retry shortly")
			return
		case readAhead:
			if examined == 0 {
				f.writeError(w, CodeBadCursor, "since %q is ahead of every change this feed has made; %s", truncate(since[0], 40), startOver)
				return
			}
		case readOverrun:
			if examined > 0 {
				// The ring turned over while this answer was read: hand what was found;
				// the next request says whether the rest is still there.
				a.More = true
				break scan
			}
			f.m.cursorRefused.WithLabelValues("too_old").Inc()
			f.writeExpired(w, since[0], "is older than the changes the feed still holds")
			return
		}
		for _, ev := range buf {
			cursor = ev.ID
			examined++
			if filter.match(ev) {
				a.Items = append(a.Items, ChangeItem{ID: formatEventID(epoch, ev.ID), Type: ev.Type, Data: ev.Data})
				if len(a.Items) == limit {
					break
				}
			}
		}
		a.More = cursor < newest
		if len(buf) == 0 || !a.More {
			break
		}
	}
	a.NextCursor = formatEventID(epoch, cursor)
	f.writeChanges(w, r, &a)
}

func (f *Feed) writeExpired(w http.ResponseWriter, since, why string) {
	f.writeError(w, CodeCursorExpired, "the cursor %q %s; %s", truncate(since, 40), why, startOver)
}

func (f *Feed) writeChanges(w http.ResponseWriter, r *http.Request, a *ChangesAnswer) {
	body, err := json.Marshal(a)
	if err != nil {
		f.log.Error("feed: changes not encoded", "err", err)
		f.writeError(w, CodeInternal, "the answer could not be encoded")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	f.writeAnswer(w, r, &cachedAnswer{body: append(body, '\n')})
	f.m.changesServed.Add(float64(len(a.Items)))
}
