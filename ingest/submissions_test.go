package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

var jsonNull = json.RawMessage("null")

func TestSubmissionValidation(t *testing.T) {
	v := validSub()
	cases := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"valid", v.json(), 202, "", ""},
		{"arithmetic inconsistency is accepted", v.with("ballots_cast", 500).json(), 202, "", ""},
		{"counted 4 minutes ahead: clock skew allowed", v.with("counted_at", "2023-05-14T18:04:00+07:00").json(), 202, "", ""},
		{"party-list ballot", v.with("ballot", "partylist", "votes", map[string]int{"31": 200, "7": 150}).json(), 202, "", ""},
		{"keys in any order, votes of 0", `{"votes":{"5":49,"2":120,"1":230,"3":0},"no_vote":4,"invalid":9,"ballots_cast":412,"counted_at":"2023-05-14T10:45:00Z","stage":"final","ballot":"constituency","station_id":"BKK_1_0001","submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b02"}`, 202, "", ""},
		{"with evidence", v.with("evidence", []string{"sha256:" + strings.Repeat("ab", 32)}).json(), 202, "", ""},

		{"empty body", ``, 400, CodeMalformedJSON, ""},
		{"truncated", `{"submission_id":`, 400, CodeMalformedJSON, ""},
		{"not JSON", `submission_id=1`, 400, CodeWrongType, ""},
		{"a string", `"hello"`, 400, CodeWrongType, ""},
		{"null", `null`, 400, CodeWrongType, ""},
		{"trailing data", v.json() + ` {}`, 400, CodeMalformedJSON, ""},
		{"trailing white space that is not JSON's", v.json() + "\v\u00a0", 400, CodeMalformedJSON, ""},
		{"trailing white space", v.json() + " \r\n\t", 202, "", ""},
		{"syntax error inside", `{"station_id": "BKK_1_0001",,}`, 400, CodeMalformedJSON, ""},
		{"volunteer in the body", v.with("volunteer_id", "someone-else").json(), 400, CodeUnknownField, "volunteer_id"},
		{"person in the body", v.with("person", strings.Repeat("ab", 32)).json(), 400, CodeUnknownField, "person"},
		{"field name in another case", strings.Replace(v.json(), `"station_id"`, `"Station_ID"`, 1), 400, CodeUnknownField, "Station_ID"},
		{"field given twice", strings.Replace(v.json(), `"ballots_cast":412`, `"ballots_cast":412,"ballots_cast":41`, 1), 400, CodeMalformedJSON, "ballots_cast"},
		{"vote key given twice", strings.Replace(v.json(), `"votes":{`, `"votes":{"2":7,`, 1), 400, CodeMalformedJSON, "votes.2"},
		{"vote key given twice, once escaped", strings.Replace(v.json(), `"votes":{`, `"votes":{"\u0032":7,`, 1), 400, CodeMalformedJSON, "votes.2"},
		{"escaped field name", strings.Replace(v.json(), `"station_id"`, `"station\u005fid"`, 1), 202, "", ""},
		{"misspelt field", v.with("ballots", 412).json(), 400, CodeUnknownField, "ballots"},
		{"count as a string", v.with("ballots_cast", "412").json(), 400, CodeWrongType, "ballots_cast"},
		{"fractional count", v.with("invalid", 1.5).json(), 400, CodeWrongType, "invalid"},
		{"huge count", strings.Replace(v.json(), `"no_vote":4`, `"no_vote":1e999`, 1), 400, CodeWrongType, "no_vote"},
		{"votes as an array", v.with("votes", []int{230, 120}).json(), 400, CodeWrongType, "votes"},
		{"vote count as a string", v.with("votes", map[string]string{"1": "230"}).json(), 400, CodeWrongType, "votes"},
		{"station id as a number", v.with("station_id", 1).json(), 400, CodeWrongType, "station_id"},
		{"missing counted_at", v.with("counted_at", nil).json(), 400, CodeMissingField, "counted_at"},
		{"missing ballots_cast", v.with("ballots_cast", nil).json(), 400, CodeMissingField, "ballots_cast"},
		{"null votes", v.with("votes", jsonNull).json(), 400, CodeMissingField, "votes"},
		{"missing submission_id", v.with("submission_id", nil).json(), 400, CodeMissingField, "submission_id"},
		{"submission_id not a UUID", v.with("submission_id", "retry-1").json(), 400, CodeInvalidValue, "submission_id"},
		{"station id with a space", v.with("station_id", "BKK 1").json(), 400, CodeInvalidValue, "station_id"},
		{"ballot", v.with("ballot", "senate").json(), 400, CodeInvalidValue, "ballot"},
		{"stage", v.with("stage", "draft").json(), 400, CodeInvalidValue, "stage"},
		{"counted_at not RFC 3339", v.with("counted_at", "14/05/2023 17:45").json(), 400, CodeInvalidValue, "counted_at"},
		{"counted_at without offset", v.with("counted_at", "2023-05-14T17:45:00").json(), 400, CodeInvalidValue, "counted_at"},
		{"negative no_vote", v.with("no_vote", -4).json(), 400, CodeNegativeNumber, "no_vote"},
		{"negative votes", v.with("votes", map[string]int{"1": 230, "2": -1, "5": -3}).json(), 400, CodeNegativeNumber, "votes.2"},
		{"votes key with leading zero", v.with("votes", map[string]int{"01": 230}).json(), 400, CodeInvalidValue, "votes"},
		{"votes key not a number", v.with("votes", map[string]int{"ก": 230}).json(), 400, CodeInvalidValue, "votes"},
		{"count above the schema bound", v.with("ballots_cast", 1000001).json(), 400, CodeInvalidValue, "ballots_cast"},
		{"evidence not a hash", v.with("evidence", []string{"photo.jpg"}).json(), 400, CodeInvalidValue, "evidence.0"},
		{"evidence upper-case hex", v.with("evidence", []string{"sha256:" + strings.Repeat("AB", 32)}).json(), 400, CodeInvalidValue, "evidence.0"},
		{"evidence twice", v.with("evidence", []string{"sha256:" + strings.Repeat("ab", 32), "sha256:" + strings.Repeat("ab", 32)}).json(), 400, CodeInvalidValue, "evidence.1"},

		{"unknown station", v.with("station_id", "BKK_9_0001").json(), 422, CodeUnknownStation, "station_id"},
		{"candidate not in the constituency", v.with("votes", map[string]int{"1": 230, "9": 5, "6": 1}).json(), 422, CodeNotOnBallot, "votes.6"},
		{"party number on the constituency ballot", v.with("votes", map[string]int{"31": 230}).json(), 422, CodeNotOnBallot, "votes.31"},
		{"no such party", v.with("ballot", "partylist", "votes", map[string]int{"4": 10}).json(), 422, CodeNotOnBallot, "votes.4"},
		{"ballots cast above eligible", v.with("ballots_cast", 501).json(), 422, CodeAboveEligible, "ballots_cast"},
		{"ballots cast at eligible", v.with("ballots_cast", 500).json(), 202, "", ""},
		{"votes above eligible", v.with("votes", map[string]int{"1": 501}).json(), 422, CodeAboveEligible, "votes.1"},
		{"counted in the future", v.with("counted_at", "2023-05-14T18:10:00+07:00").json(), 422, CodeCountedAtFuture, "counted_at"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			// A fresh id per case, unless the case is about the id.
			body := strings.Replace(tc.body, "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01", fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a%04d", i), 1)
			r := h.post("/v1/submissions", h.volunteer, body)
			code, field := r.errorCode()
			if r.status != tc.status || code != tc.code || field != tc.field {
				t.Fatalf("got %d %s field %q, want %d %s field %q\n%s", r.status, code, field, tc.status, tc.code, tc.field, r.body)
			}
			if tc.status != 202 && len(h.prod.recs()) != 0 {
				t.Fatal("a refused submission was produced")
			}
			if tc.status != 202 {
				var b errorBody
				if err := json.Unmarshal(r.body, &b); err != nil || b.Error == nil || b.Error.Message == "" {
					t.Fatalf("error body %s: want {\"error\":{\"code\",\"message\"}}", r.body)
				}
			}
		})
	}
}

func TestAcceptedRecord(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TopicPrefix = "t1."; c.EvidenceLogURL = "https://log.example.org/" })
	r := h.post("/v1/submissions", h.volunteer, validSub().json())
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	rc := r.receipt(t)
	recs := h.prod.recs()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Topic != "t1.submissions.v1" || string(rec.Key) != "BKK_1_0001" {
		t.Fatalf("record topic %q key %q", rec.Topic, rec.Key)
	}
	var rep schemas.Report
	if err := kgorecord.Decode(rec, &rep); err != nil {
		t.Fatal(err)
	}
	// Hand-checked: the token says ilaw-0001 of iLaw, a station volunteer; the body's figures
	// are carried as sent; counted_at 17:45 in Bangkok is 10:45 UTC.
	if rep.VolunteerID != "ilaw-0001" || rep.Org != "iLaw" || rep.Role != schemas.RoleStation {
		t.Fatalf("report sender %q %q %q", rep.VolunteerID, rep.Org, rep.Role)
	}
	if rep.BallotsCast != 412 || rep.Invalid != 9 || rep.NoVote != 4 || rep.Votes["1"] != 230 || rep.Votes["2"] != 120 || rep.Votes["5"] != 49 {
		t.Fatalf("figures %+v", rep.Submission)
	}
	if !rep.CountedAt.Equal(time.Date(2023, 5, 14, 10, 45, 0, 0, time.UTC)) || !rep.ReceivedAt.Equal(testNow) {
		t.Fatalf("times %s %s", rep.CountedAt, rep.ReceivedAt)
	}
	if rep.Hash != rc.Hash || rc.SubmissionID != "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01" || !rc.ReceivedAt.Equal(testNow) || rc.Duplicate {
		t.Fatalf("receipt %+v vs report hash %s", rc, rep.Hash)
	}
	if !strings.HasPrefix(rc.Hash, "sha256:") || len(rc.Hash) != 71 {
		t.Fatalf("hash %q", rc.Hash)
	}
	// The receipt names the leaf the transparency log makes of the record Kafka holds.
	if want := schemas.LeafHashHex(schemas.ReportLeaf(&rep)); rc.LeafHash != want || rc.ProofURL != "https://log.example.org/proof/"+want {
		t.Fatalf("receipt leaf %q proof %q, want leaf %s", rc.LeafHash, rc.ProofURL, want)
	}
	for _, hd := range rec.Headers {
		if hd.Key == HeaderFlags {
			t.Fatalf("an in-scope report carries flags %q", hd.Value)
		}
	}
}

// The record names the token's person, and only the token's: a token without one gives a
// record without the key, as before the field existed.
func TestRecordPerson(t *testing.T) {
	hash := strings.Repeat("9f", 32)
	cases := []struct {
		name   string
		person string
		rawKey bool // "person" in the record's JSON
	}{
		{"token with a person", hash, true},
		{"token without one", "", false},
	}
	for k, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tok := issue(t, h.keys, token.Claims{VolunteerID: "WeVis/7", Org: "WeVis", Person: tc.person, Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
			id := fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b1%d", k)
			if r := h.post("/v1/submissions", tok, validSub().with("submission_id", id).json()); r.status != http.StatusAccepted {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			recs := h.prod.recs()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			var rep schemas.Report
			if err := kgorecord.Decode(recs[0], &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Person != tc.person || rep.VolunteerID != "WeVis/7" || rep.Org != "WeVis" {
				t.Fatalf("record sender %q %q person %q, want person %q", rep.VolunteerID, rep.Org, rep.Person, tc.person)
			}
			if got := strings.Contains(string(recs[0].Value), `"person"`); got != tc.rawKey {
				t.Fatalf("record %s: \"person\" present = %v, want %v", recs[0].Value, got, tc.rawKey)
			}
		})
	}
}

func flags(t testing.TB, h *harness) []string {
	t.Helper()
	var out []string
	for _, r := range h.prod.recs() {
		f := ""
		for _, hd := range r.Headers {
			if hd.Key == HeaderFlags {
				f = string(hd.Value)
			}
		}
		out = append(out, f)
	}
	return out
}

func TestScope(t *testing.T) {
	other := validSub().with("station_id", "BKK_1_0002").json()
	elsewhere := validSub().with("station_id", "CNX_1_0001", "votes", map[string]int{"1": 300},
		"submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002").json()

	h := newHarness(t, nil) // SpreadFlag, the default
	if r := h.post("/v1/submissions", h.volunteer, other); r.status != 202 {
		t.Fatalf("flag policy: %d %s", r.status, r.body)
	}
	if got := flags(t, h); len(got) != 1 || got[0] != "SPREAD" {
		t.Fatalf("flag policy: record flags %q, want [SPREAD]", got)
	}

	h = newHarness(t, func(c *Config) { c.SpreadPolicy = SpreadRefuse })
	r := h.post("/v1/submissions", h.volunteer, other)
	if code, _ := r.errorCode(); r.status != 403 || code != CodeOutOfScope {
		t.Fatalf("refuse policy: %d %s", r.status, r.body)
	}
	// A district lead's scope is the constituency; the war room's is everything.
	if r := h.post("/v1/submissions", h.lead, other); r.status != 202 {
		t.Fatalf("lead in own constituency: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/submissions", h.lead, elsewhere); r.status != 403 {
		t.Fatalf("lead elsewhere: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/submissions", h.warRoom, elsewhere); r.status != 202 {
		t.Fatalf("war room: %d %s", r.status, r.body)
	}
	if got := flags(t, h); len(got) != 2 || got[0] != "" || got[1] != "" {
		t.Fatalf("in-scope records flagged: %q", got)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	expired := issue(t, h.staff, token.Claims{VolunteerID: "old", Role: schemas.RoleWarRoom,
		IssuedAt: testNow.Add(-72 * time.Hour), ExpiresAt: testNow.Add(-time.Hour)})
	otherKey, _ := token.NewStaffKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("x", 32))})
	forged := issue(t, otherKey, token.Claims{VolunteerID: "mallory", Role: schemas.RoleWarRoom})
	// What a thief of the volunteers' key would make: a lead's claims, HMAC'd by hand with
	// that key (Issue itself refuses to).
	leadByVolunteerKey := handSigned(testKey, `{"jti":"x","sub":"mallory","org":"o","role":"district_lead","con":"BKK_1","iat":`+
		fmt.Sprint(testNow.Add(-time.Hour).Unix())+`,"exp":`+fmt.Sprint(testNow.Add(time.Hour).Unix())+`}`)
	revokedClaims := token.Claims{TokenID: "lost-phone", VolunteerID: "ilaw-0099", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}}
	revokedTok := issue(t, h.keys, revokedClaims)

	revoked := newHarnessWithRevoked(t, "lost-phone")
	cases := []struct {
		name  string
		h     *harness
		auth  string
		code  string
		state int
	}{
		{"no header", h, "", CodeUnauthenticated, 401},
		{"basic auth", h, "Basic dXNlcjpwYXNz", CodeUnauthenticated, 401},
		{"bearer without token", h, "Bearer ", CodeUnauthenticated, 401},
		{"garbage", h, "Bearer abc.def", CodeUnauthenticated, 401},
		{"forged", h, "Bearer " + forged, CodeUnauthenticated, 401},
		{"lead signed with the volunteers' key", h, "Bearer " + leadByVolunteerKey, CodeUnauthenticated, 401},
		{"lead signed with the staff key", h, "Bearer " + h.lead, "", 202},
		{"expired", h, "Bearer " + expired, CodeTokenExpired, 401},
		{"revoked", revoked, "Bearer " + revokedTok, CodeTokenRevoked, 401},
		{"lower-case scheme", h, "bearer " + h.volunteer, "", 202},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := validSub().with("submission_id", fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a%04d", i)).json()
			r := tc.h.doAuth(tc.auth, req)
			code, _ := r.errorCode()
			if r.status != tc.state || code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, code, tc.state, tc.code, r.body)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func newHarnessWithRevoked(t *testing.T, ids ...string) *harness {
	path := t.TempDir() + "/revoked.txt"
	if err := writeFile(path, strings.Join(ids, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	rev, err := token.LoadRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, nil, WithRevocations(rev))
}

func (h *harness) doAuth(auth, body string) response {
	req, _ := http.NewRequest(http.MethodPost, "/v1/submissions", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := newRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func TestIdempotency(t *testing.T) {
	h := newHarness(t, nil)
	body := validSub().json()
	first := h.post("/v1/submissions", h.volunteer, body)
	if first.status != 202 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	h.clock.Advance(time.Minute)
	// The same submission re-sent, spelled differently (key order, spacing, time zone).
	respelled := `{ "votes": {"5": 49, "1": 230, "2": 120}, "stage": "final", "ballot": "constituency",
		"counted_at": "2023-05-14T10:45:00Z", "ballots_cast": 412, "invalid": 9, "no_vote": 4,
		"station_id": "BKK_1_0001", "submission_id": "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01" }`
	second := h.post("/v1/submissions", h.volunteer, respelled)
	if second.status != 202 {
		t.Fatalf("retry: %d %s", second.status, second.body)
	}
	r1, r2 := first.receipt(t), second.receipt(t)
	if !r2.Duplicate || r2.Hash != r1.Hash || !r2.ReceivedAt.Equal(r1.ReceivedAt) || r2.SubmissionID != r1.SubmissionID {
		t.Fatalf("retry receipt %+v, want the first %+v with duplicate set", r2, r1)
	}
	if n := len(h.prod.recs()); n != 1 {
		t.Fatalf("%d records after a retry, want 1", n)
	}
	changed := validSub().with("ballots_cast", 413).json()
	if r := h.post("/v1/submissions", h.volunteer, changed); r.status != 409 {
		t.Fatalf("changed body: %d %s", r.status, r.body)
	} else if code, _ := r.errorCode(); code != CodeIDConflict {
		t.Fatalf("changed body: code %s", code)
	}
	// The same id and body from another volunteer is not the same submission.
	other := issue(t, h.keys, token.Claims{VolunteerID: "wevis-7", Org: "WeVis", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
	if r := h.post("/v1/submissions", other, body); r.status != 409 {
		t.Fatalf("same id from another volunteer: %d %s", r.status, r.body)
	}
	if n := len(h.prod.recs()); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func TestBatch(t *testing.T) {
	h := newHarness(t, nil)
	id := func(n int) string { return fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a%04d", n) }
	v := validSub()
	all := "[" + v.with("submission_id", id(1)).json() + "," + v.with("submission_id", id(2), "ballot", "partylist", "votes", map[string]int{"7": 300}).json() + "]"
	r := h.post("/v1/submissions", h.volunteer, all)
	if r.status != 202 {
		t.Fatalf("all valid: %d %s", r.status, r.body)
	}
	var b batchBody
	if err := json.Unmarshal(r.body, &b); err != nil || len(b.Results) != 2 || b.Results[0].Receipt == nil || b.Results[1].Receipt.SubmissionID != id(2) {
		t.Fatalf("batch body %s", r.body)
	}

	mixed := "[" + v.with("submission_id", id(3)).json() + "," +
		v.with("submission_id", id(4), "station_id", "NOWHERE").json() + "," +
		`{"oops":1},` +
		v.with("submission_id", id(1)).json() + "," + // a retry of an accepted one
		v.with("submission_id", id(3)).json() + "]" // the same id twice in one batch
	r = h.post("/v1/submissions", h.volunteer, mixed)
	if r.status != http.StatusMultiStatus {
		t.Fatalf("mixed: %d %s", r.status, r.body)
	}
	b = batchBody{}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status int
		code   string
		dup    bool
	}{{202, "", false}, {422, CodeUnknownStation, false}, {400, CodeUnknownField, false}, {202, "", true}, {202, "", true}}
	if len(b.Results) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(b.Results), len(want), r.body)
	}
	for i, w := range want {
		got := b.Results[i]
		code := ""
		if got.Error != nil {
			code = got.Error.Code
		}
		if got.Status != w.status || code != w.code || (got.Receipt != nil && got.Receipt.Duplicate != w.dup) {
			t.Errorf("item %d: %+v, want %+v", i, got, w)
		}
	}
	if n := len(h.prod.recs()); n != 3 {
		t.Fatalf("%d records, want 3 (ids 1, 2, 3 once each)", n)
	}

	var big []sub
	for i := range 101 {
		big = append(big, v.with("submission_id", id(100+i)))
	}
	raw, _ := json.Marshal(big)
	if r := h.post("/v1/submissions", h.volunteer, string(raw)); r.status != 400 {
		t.Fatalf("101 items: %d", r.status)
	} else if code, _ := r.errorCode(); code != CodeBatchTooLarge {
		t.Fatalf("101 items: %s", code)
	}
	if r := h.post("/v1/submissions", h.volunteer, "[]"); r.status != 400 {
		t.Fatalf("empty batch: %d", r.status)
	}
	if r := h.post("/v1/submissions", h.volunteer, "[{},"); r.status != 400 {
		t.Fatalf("broken batch: %d", r.status)
	} else if code, _ := r.errorCode(); code != CodeMalformedJSON {
		t.Fatalf("broken batch: %s", code)
	}
}

func TestBodyLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 2048 })
	big := validSub().with("evidence", []string{strings.Repeat("x", 3000)}).json()
	r := h.post("/v1/submissions", h.volunteer, big)
	if code, _ := r.errorCode(); r.status != 413 || code != CodeBodyTooLarge {
		t.Fatalf("declared length: %d %s", r.status, r.body)
	}
	// Without a Content-Length (chunked), the limit still holds while reading.
	req, _ := http.NewRequest(http.MethodPost, "/v1/submissions", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+h.volunteer)
	rec := newRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("chunked: %d %s", rec.Code, rec.Body)
	}
	r = h.do(http.MethodPost, "/v1/submissions", h.volunteer, "text/plain", []byte(validSub().json()))
	if code, _ := r.errorCode(); r.status != 415 || code != CodeUnsupportedMedia {
		t.Fatalf("text/plain: %d %s", r.status, r.body)
	}
	r = h.do(http.MethodPost, "/v1/submissions", h.volunteer, "application/json; charset=utf-8", []byte(validSub().json()))
	if r.status != 202 {
		t.Fatalf("json with charset: %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RatePerVolunteer = 0.5; c.RateBurst = 3 })
	id := func(n int) string { return fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a%04d", n) }
	for i := range 3 {
		if r := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(i)).json()); r.status != 202 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(3)).json())
	if code, _ := r.errorCode(); r.status != 429 || code != CodeRateLimited {
		t.Fatalf("beyond the burst: %d %s", r.status, r.body)
	}
	// One token comes back every 2 s at 0.5/s.
	if ra := r.header.Get("Retry-After"); ra != "2" {
		t.Fatalf("Retry-After %q, want 2", ra)
	}
	if r := h.post("/v1/submissions", h.lead, validSub().with("submission_id", id(4)).json()); r.status != 202 {
		t.Fatalf("another volunteer is not limited: %d", r.status)
	}
	h.clock.Advance(2 * time.Second)
	if r := h.post("/v1/submissions", h.volunteer, validSub().with("submission_id", id(5)).json()); r.status != 202 {
		t.Fatalf("after the wait: %d %s", r.status, r.body)
	}
}

func TestKafkaFailure(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RetryAfter = 7 * time.Second })
	h.prod.fail = fmt.Errorf("broker down")
	body := validSub().json()
	r := h.post("/v1/submissions", h.volunteer, body)
	if code, _ := r.errorCode(); r.status != 503 || code != CodeKafkaUnavailable || r.header.Get("Retry-After") != "7" {
		t.Fatalf("failed produce: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	// The failed id is forgotten: the retry produces.
	h.prod.fail = nil
	r = h.post("/v1/submissions", h.volunteer, body)
	if r.status != 202 || r.receipt(t).Duplicate || len(h.prod.recs()) != 1 {
		t.Fatalf("retry after failure: %d %s, %d records", r.status, r.body, len(h.prod.recs()))
	}
}

func TestKafkaSlow(t *testing.T) {
	h := newHarness(t, nil)
	h.prod.hold = true
	body := validSub().json()
	r := h.post("/v1/submissions", h.volunteer, body)
	if code, _ := r.errorCode(); r.status != 503 || code != CodeKafkaUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("slow broker: %d %s", r.status, r.body)
	}
	// While the first record is still in flight, a retry waits for it rather than producing
	// a second one; it too times out.
	if r := h.post("/v1/submissions", h.volunteer, body); r.status != 503 {
		t.Fatalf("retry while in flight: %d %s", r.status, r.body)
	}
	// Kafka finally acknowledges the first record: the next retry gets its receipt, and there
	// is still one record.
	h.prod.release()
	r = h.post("/v1/submissions", h.volunteer, body)
	if r.status != 202 || !r.receipt(t).Duplicate {
		t.Fatalf("retry after the late ack: %d %s", r.status, r.body)
	}
	if n := len(h.prod.recs()); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func TestBatchKafkaFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.prod.fail = fmt.Errorf("broker down")
	body := "[" + validSub().json() + "," + validSub().with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002", "station_id", "NOWHERE").json() + "]"
	r := h.post("/v1/submissions", h.volunteer, body)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("batch on a failing broker: %d %s", r.status, r.body)
	}
	var b batchBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Results[0].Status != 503 || b.Results[1].Status != 422 {
		t.Fatalf("batch results %s", r.body)
	}
}

// BenchmarkSubmission is the handler's cost per single-submission request without network
// or Kafka: authentication (cached), decoding, validation, hashing, encoding, dedupe.
func BenchmarkSubmission(b *testing.B) {
	h := newHarness(b, nil)
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = []byte(validSub().with("submission_id", fmt.Sprintf("0b6a3c1e-8d2f-4a57-9e3b-%012d", i)).json())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(bodies) == 0 {
			b.StopTimer()
			h.s.dedupe = newDedupe(time.Hour, 1<<20)
			h.prod.records = nil
			b.StartTimer()
		}
		r := h.do(http.MethodPost, "/v1/submissions", h.volunteer, "application/json", bodies[i%len(bodies)])
		if r.status != 202 {
			b.Fatalf("status %d: %s", r.status, r.body)
		}
	}
}

// A token verified once is remembered; it must still expire on time.
func TestCachedTokenExpires(t *testing.T) {
	h := newHarness(t, nil)
	tok := issue(t, h.staff, token.Claims{VolunteerID: "short", Role: schemas.RoleWarRoom,
		IssuedAt: testNow.Add(-time.Hour), ExpiresAt: testNow.Add(time.Minute)})
	if r := h.post("/v1/submissions", tok, validSub().json()); r.status != 202 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	h.clock.Advance(time.Minute)
	r := h.post("/v1/submissions", tok, validSub().with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002").json())
	if code, _ := r.errorCode(); r.status != 401 || code != CodeTokenExpired {
		t.Fatalf("after expiry: %d %s", r.status, r.body)
	}
}

// handSigned makes a vt1 token under key id k1 with crypto/hmac directly.
func handSigned(key []byte, claims string) string {
	signed := "vt1.k1." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
