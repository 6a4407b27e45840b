package feed

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

// changes asks /v1/feed/changes with query q and decodes a 200 answer.
func changes(t *testing.T, base, q string) ChangesAnswer {
	t.Helper()
	resp, body := get(t, base+"/v1/feed/changes"+q, keyNation)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("changes%s: %d %s", q, resp.StatusCode, body)
	}
	var a ChangesAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("changes%s: %v: %s", q, err, body)
	}
	if !a.Unofficial || a.Attribution == "" {
		t.Fatalf("changes%s without the notice: %s", q, body)
	}
	return a
}

// refusal asks /v1/feed/changes with query q and returns the status and error code.
func refusal(t *testing.T, base, q string) (int, string, string) {
	t.Helper()
	resp, body := get(t, base+"/v1/feed/changes"+q, keyNation)
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("changes%s: %d %s", q, resp.StatusCode, body)
	}
	return resp.StatusCode, e.Error.Code, e.Error.Message
}

func stationsOf(t *testing.T, a ChangesAnswer) []string {
	t.Helper()
	var out []string
	for _, c := range a.Items {
		switch c.Type {
		case EventResult:
			var ev ResultEvent
			if err := json.Unmarshal(c.Data, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev.StationID+":"+ev.Status)
		default:
			var ev EstimateEvent
			if err := json.Unmarshal(c.Data, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, "estimate:"+ev.EstimateID)
		}
	}
	return out
}

func TestChangesCursor(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.RateBurst = 1000 })
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1))
	f.markReady()
	srv := serve(t, f)

	start := changes(t, srv.URL, "")
	if start.NextCursor != f.id(1) || start.Since != "" || len(start.Items) != 0 || start.More ||
		!strings.Contains(start.Start, "since="+f.id(1)) {
		t.Fatalf("start answer %+v", start)
	}
	// Nothing changed yet: the same cursor comes back with no changes.
	if a := changes(t, srv.URL, "?since="+start.NextCursor); a.NextCursor != start.NextCursor || len(a.Items) != 0 || a.More {
		t.Fatalf("no change: %+v", a)
	}

	f.applyResult(res("BKK_1_002", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 2))
	f.applyResult(res("CMI_1_001", pl, 1, prov, fin, 600, 10, 5, map[string]int{"29": 400}, 3))
	f.applyEstimate(estimate("e1", 3, 4, proj("BKK_1", 2, 0.7, schemas.CallLeading)))
	f.applyInputs([]input{{tombstone: [2]string{"BKK_1_001", cons}}})

	a := changes(t, srv.URL, "?since="+start.NextCursor)
	want := "BKK_1_002:provisional CMI_1_001:provisional estimate:e1 BKK_1_001:withdrawn"
	if got := strings.Join(stationsOf(t, a), " "); got != want || a.NextCursor != f.id(5) || a.More || a.Since != start.NextCursor {
		t.Fatalf("changes since start: %s next %s more %v, want %s next %s", got, a.NextCursor, a.More, want, f.id(5))
	}
	if a.Items[0].ID != f.id(2) || a.Items[3].ID != f.id(5) {
		t.Fatalf("change ids %s..%s", a.Items[0].ID, a.Items[3].ID)
	}
	// Pages: limit=3 hands three and says more; the next cursor picks up the fourth.
	p1 := changes(t, srv.URL, "?limit=3&since="+start.NextCursor)
	if len(p1.Items) != 3 || !p1.More || p1.NextCursor != f.id(4) {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := changes(t, srv.URL, "?limit=3&since="+p1.NextCursor)
	if got := strings.Join(stationsOf(t, p2), " "); got != "BKK_1_001:withdrawn" || p2.More || p2.NextCursor != f.id(5) {
		t.Fatalf("page 2: %s %+v", got, p2)
	}
	// A province filter keeps its results and every estimate; the cursor still moves past the rest.
	cmi := changes(t, srv.URL, "?province=CMI&since="+start.NextCursor)
	if got := strings.Join(stationsOf(t, cmi), " "); got != "CMI_1_001:provisional estimate:e1" || cmi.NextCursor != f.id(5) {
		t.Fatalf("province filter: %s next %s", got, cmi.NextCursor)
	}
	// The ETag of the summary (the view's version) is a cursor too.
	resp, _ := get(t, srv.URL+"/v1/feed/summary", keyNation)
	if tag := resp.Header.Get("ETag"); tag != etag(f.id(5)) {
		t.Fatalf("summary ETag %s", tag)
	}
	if a := changes(t, srv.URL, "?since="+f.id(5)); len(a.Items) != 0 || a.NextCursor != f.id(5) {
		t.Fatalf("since the summary: %+v", a)
	}
}

func TestChangesBadCursors(t *testing.T) {
	f := newTestFeed(t, func(c *Config) { c.RateBurst = 1000; c.RingSize, c.ClientLag = 4, 2 })
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250}, 1))
	f.markReady() // the ring starts at 1: change 1 and before are not in it
	srv := serve(t, f)
	for i := range 6 {
		f.applyResult(res("BKK_1_002", cons, int64(i+1), prov, fin, 400, 4, 6, map[string]int{"1": 100 + i}, 2+i))
	}
	// The ring of 4 holds changes 4..7.
	for _, c := range []struct {
		q, code string
		status  int
	}{
		{"?since=hello", CodeBadCursor, 400},
		{"?since=", CodeBadCursor, 400},
		{"?since=" + f.id(3) + "&since=" + f.id(3), CodeBadCursor, 400},
		{"?since=" + f.view.Epoch() + "-007", CodeBadCursor, 400},
		{"?since=" + f.id(99), CodeBadCursor, 400},    // never given out
		{"?since=" + f.id(2), CodeCursorExpired, 410}, // left the ring
		{"?since=" + f.id(0), CodeCursorExpired, 410}, // from before the feed was ready
		{"?since=0badc0de-3", CodeCursorExpired, 410}, // another run's
		{"?since=" + f.id(3) + "&limit=0", CodeInvalidParameter, 400},
		{"?since=" + f.id(3) + "&limit=1001", CodeInvalidParameter, 400},
		{"?since=" + f.id(3) + "&province=XYZ", CodeInvalidParameter, 400},
	} {
		status, code, msg := refusal(t, srv.URL, c.q)
		if status != c.status || code != c.code {
			t.Errorf("changes%s: %d %s, want %d %s (%s)", c.q, status, code, c.status, c.code, msg)
		}
		if (code == CodeBadCursor || code == CodeCursorExpired) && !strings.Contains(msg, "without since") {
			t.Errorf("changes%s: the message does not say how to start over: %s", c.q, msg)
		}
	}
	// The oldest cursor the ring can follow still works.
	if a := changes(t, srv.URL, "?since="+f.id(3)); len(a.Items) != 4 || a.NextCursor != f.id(7) {
		t.Fatalf("since 3: %+v", a)
	}
}

func TestChangesEmbargoedAndLimited(t *testing.T) {
	clock := newFakeClock(pollsClose.Add(-time.Minute))
	f := newTestFeed(t, func(c *Config) { c.Now, c.PollsClose, c.RateLimit, c.RateBurst = clock.Now, pollsClose, 1, 2 })
	f.markReady()
	srv := serve(t, f)
	if status, code, _ := refusal(t, srv.URL, ""); status != 403 || code != CodeEmbargoed {
		t.Fatalf("before polls close: %d %s", status, code)
	}
	clock.Set(pollsClose)
	resp, _ := get(t, srv.URL+"/v1/feed/changes", keyNation)
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit") == "" {
		t.Fatalf("after polls close: %d %v", resp.StatusCode, resp.Header)
	}
	// The minute to polls close refilled the bucket of 2; the 200 above and this one spend
	// it, and the fake clock stands still, so the third is refused.
	if resp, _ = get(t, srv.URL+"/v1/feed/changes", keyNation); resp.StatusCode != 200 {
		t.Fatalf("second request: %d", resp.StatusCode)
	}
	resp, _ = get(t, srv.URL+"/v1/feed/changes", keyNation)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v", resp.StatusCode, resp.Header)
	}
}
