package feed

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"votestream/schemas"
)

func TestAPIRefusals(t *testing.T) {
	f := newTestFeed(t, nil)
	f.markReady()
	srv := serve(t, f)
	tests := []struct {
		name, method, path, auth string
		status                   int
		code                     string
	}{
		{"no key", "GET", "/v1/feed/summary", "", 401, CodeUnauthenticated},
		{"unknown key", "GET", "/v1/feed/summary", "Bearer nobody-0123456789abcdef", 401, CodeUnauthenticated},
		{"key as Basic", "GET", "/v1/feed/summary", "Basic " + keyNation, 401, CodeUnauthenticated},
		{"stream without key", "GET", "/v1/feed/events", "", 401, CodeUnauthenticated},
		{"unknown endpoint", "GET", "/v1/feed/candidates", "Bearer " + keyNation, 404, CodeNotFound},
		{"unknown constituency", "GET", "/v1/feed/constituencies/BKK_9", "Bearer " + keyNation, 404, CodeNotFound},
		{"unknown station", "GET", "/v1/feed/stations/BKK_9_001", "Bearer " + keyNation, 404, CodeNotFound},
		{"empty id", "GET", "/v1/feed/stations/", "Bearer " + keyNation, 404, CodeNotFound},
		{"write", "POST", "/v1/feed/summary", "Bearer " + keyNation, 405, CodeMethodNotAllowed},
		{"delete", "DELETE", "/v1/feed/stations/BKK_1_001", "Bearer " + keyNation, 405, CodeMethodNotAllowed},
		{"unknown province", "GET", "/v1/feed/constituencies?province=XYZ", "Bearer " + keyNation, 400, CodeInvalidParameter},
		{"province twice", "GET", "/v1/feed/constituencies?province=BKK&province=CMI", "Bearer " + keyNation, 400, CodeInvalidParameter},
		{"stream filter unknown", "GET", "/v1/feed/events?constituency=BKK_1,NOPE", "Bearer " + keyNation, 400, CodeInvalidParameter},
		{"stream filter empty id", "GET", "/v1/feed/events?province=", "Bearer " + keyNation, 400, CodeInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body not JSON: %v", err)
			}
			if resp.StatusCode != tt.status || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Fatalf("%d %+v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			switch tt.status {
			case 401:
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Error("no WWW-Authenticate")
				}
			case 405:
				if resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow %q", resp.Header.Get("Allow"))
				}
			}
		})
	}
}

func TestAPINotReady(t *testing.T) {
	f := newTestFeed(t, nil)
	srv := serve(t, f)
	resp, body := get(t, srv.URL+"/v1/feed/summary", keyNation)
	if resp.StatusCode != 503 || !strings.Contains(string(body), CodeNotReady) || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/readyz", ""); resp.StatusCode != 503 {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/healthz", ""); resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	f.markReady()
	if resp, _ := get(t, srv.URL+"/readyz", ""); resp.StatusCode != 200 {
		t.Fatalf("readyz when ready %d", resp.StatusCode)
	}
}

func TestAPIETags(t *testing.T) {
	f := newTestFeed(t, nil)
	f.applyResult(res("BKK_1_001", cons, 1, prov, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1))
	f.markReady()
	srv := serve(t, f)

	paths := []string{"/v1/feed/summary", "/v1/feed/parties", "/v1/feed/constituencies",
		"/v1/feed/constituencies/BKK_1", "/v1/feed/constituencies/CMI_1", "/v1/feed/stations/BKK_1_001"}
	tags := map[string]string{}
	for _, p := range paths {
		resp, body := get(t, srv.URL+p, keyNation)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		var meta Meta
		if err := json.Unmarshal(body, &meta); err != nil {
			t.Fatal(err)
		}
		if want := `W/"` + meta.EventID + `"`; resp.Header.Get("ETag") != want {
			t.Fatalf("%s: ETag %q, body event_id %q", p, resp.Header.Get("ETag"), meta.EventID)
		}
		tags[p] = resp.Header.Get("ETag")
		if resp, _ := get(t, srv.URL+p, keyNation, "If-None-Match", tags[p]); resp.StatusCode != http.StatusNotModified {
			t.Fatalf("%s: %d with its own ETag", p, resp.StatusCode)
		}
	}
	// CMI_1 has nothing yet: version 0. BKK_1 and the station changed at 1.
	if tags["/v1/feed/constituencies/CMI_1"] != `W/"`+f.id(0)+`"` || tags["/v1/feed/stations/BKK_1_001"] != `W/"`+f.id(1)+`"` {
		t.Fatalf("tags %v", tags)
	}

	// A change in CMI_1: the national answers and CMI_1 change; BKK_1 and its station do not.
	f.applyResult(res("CMI_1_001", cons, 1, prov, fin, 600, 10, 5, map[string]int{"1": 400, "2": 150, "3": 35}, 2))
	for _, p := range paths {
		resp, _ := get(t, srv.URL+p, keyNation, "If-None-Match", `"x", `+tags[p])
		unchanged := p == "/v1/feed/constituencies/BKK_1" || p == "/v1/feed/stations/BKK_1_001"
		if unchanged != (resp.StatusCode == http.StatusNotModified) {
			t.Errorf("%s: %d after a change in CMI_1", p, resp.StatusCode)
		}
	}
}

func TestAPIGzip(t *testing.T) {
	f := newTestFeed(t, nil)
	f.markReady()
	srv := serve(t, f)
	_, plain := get(t, srv.URL+"/v1/feed/constituencies", keyNation)
	resp, zipped := get(t, srv.URL+"/v1/feed/constituencies", keyNation, "Accept-Encoding", "br, gzip;q=0.8")
	if len(plain) < gzipMin || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d bytes, encoding %q", len(plain), resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Error("gzipped answer differs")
	}
	if resp, _ := get(t, srv.URL+"/v1/feed/constituencies", keyNation, "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent though refused")
	}
}

// TestAPIAnswers reads the hand-worked night of the view tests through HTTP.
func TestAPIAnswers(t *testing.T) {
	f := newTestFeed(t, nil)
	for _, s := range nightSteps {
		switch {
		case s.sr != nil:
			f.applyResult(*s.sr)
		default:
			f.applyInputs([]input{{tombstone: s.forget}})
		}
	}
	f.applyEstimate(estimate("e1", 12, 12, proj("BKK_2", 1, 1, schemas.CallCalled)))
	f.markReady()
	srv := serve(t, f)

	var sum SummaryAnswer
	_, body := get(t, srv.URL+"/v1/feed/summary", keyNation)
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	// Ten result changes, then the estimate.
	if sum.Version != 11 || sum.Counted.PartyList.StationsReported != 2 || sum.Counted.Constituency.StationsDisputed != 1 ||
		sum.Estimate == nil || sum.Estimate.Recommendations.Called != 1 || sum.Estimate.Recommendations.None != 2 {
		t.Fatalf("summary %s", body)
	}

	var list ConstituenciesAnswer
	_, body = get(t, srv.URL+"/v1/feed/constituencies?province=BKK", keyNation)
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Constituencies) != 2 || list.Constituencies[0].ConstituencyID != "BKK_1" || list.Constituencies[1].ConstituencyID != "BKK_2" {
		t.Fatalf("list %s", body)
	}
	bkk2 := list.Constituencies[1]
	// BKK_2 candidate 1 is วิไล สุขใจ of party 31 (ก้าวไกล); called.
	if bkk2.Leader == nil || bkk2.Leader.Name != "วิไล สุขใจ" || bkk2.Leader.PartyNameTH != "ก้าวไกล" || *bkk2.Recommendation != "called" ||
		bkk2.ProvinceNameTH != "กรุงเทพมหานคร" {
		t.Fatalf("BKK_2 %+v", bkk2)
	}
	// BKK_2's party-list count: H only (31: 120, 29: 60, 7: 15), by party number.
	if g := mustJSON(t, bkk2.PartyListVotes); g != `[{"party_no":7,"votes":15},{"party_no":29,"votes":60},{"party_no":31,"votes":120}]` {
		t.Errorf("party-list votes %s", g)
	}
	if !strings.Contains(string(body), `"leader":null`) { // BKK_1 has no projection in e1
		t.Error("BKK_1 leader should be null")
	}
}
