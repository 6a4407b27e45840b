package ingest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"votestream/schemas"
)

// FuzzSubmissions sends arbitrary bodies through the whole handler: it must never panic or
// answer 5xx (the fake broker always acknowledges), every refusal must be a JSON error with
// a known code, and every accepted submission must be a record that conforms to report.v1,
// with the sender taken from the token.
func FuzzSubmissions(f *testing.F) {
	v := validSub()
	for _, seed := range []string{
		v.json(),
		v.with("ballot", "partylist", "votes", map[string]int{"31": 200, "7": 150, "1": 3}).json(),
		v.with("evidence", []string{"sha256:" + strings.Repeat("0f", 32)}).json(),
		"[" + v.json() + "," + v.with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002", "station_id", "BKK_1_0002").json() + "]",
		`{"submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","station_id":"BKK_1_0001","ballot":"constituency","stage":"progress","counted_at":"2023-05-14T17:20:00+07:00","ballots_cast":120,"invalid":1,"no_vote":0,"votes":{"1":60,"2":40,"5":19}}`,
		`{"station_id":"BKK_1_0001","votes":{"1":-1}}`,
		`{"ballots_cast":1e999}`,
		`[{"a":1},[],"x",null]`,
		`{"Station_ID":"x","station_id":"y"}`,
		"\xef\xbb\xbf{}",
		``, `[`, `{"votes":{"\u0031":1}}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(h.prod.recs())
		r := h.do(http.MethodPost, "/v1/submissions", h.volunteer, "application/json", body)
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
		if !json.Valid(r.body) {
			t.Fatalf("answer is not JSON: %q", r.body)
		}
		switch r.status {
		case http.StatusAccepted, http.StatusMultiStatus:
		default:
			code, _ := r.errorCode()
			if !knownCode(code) {
				t.Fatalf("status %d with unknown code %q: %s", r.status, code, r.body)
			}
		}
		for _, rec := range h.prod.recs()[before:] {
			var hs []schemas.Header
			for _, hd := range rec.Headers {
				hs = append(hs, schemas.Header(hd))
			}
			if err := schemas.Validate(schemas.SchemaReport, rec.Value); err != nil {
				t.Fatalf("accepted %q but the record breaks report.v1: %v\n%s", body, err, rec.Value)
			}
			var rep schemas.Report
			if err := schemas.Decode(rec.Value, hs, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.VolunteerID != "ilaw-0001" || rep.Hash != schemas.CanonicalHash(rep.Submission) {
				t.Fatalf("record %s", rec.Value)
			}
		}
	})
}

// FuzzLeadEndpoints does the same for reviews and official figures: never 5xx, always a
// known code, and every accepted body becomes exactly one record.
func FuzzLeadEndpoints(f *testing.F) {
	for _, seed := range []string{
		`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"matches the signed form"}`,
		`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f7","station_id":"BKK_1_0002","ballot":"partylist","ballots_cast":420,"invalid":10,"no_vote":5,"votes":{"31":205,"7":200},"reason":"ตัวเลขสลับ"}`,
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000001","station_id":"BKK_1_0001","ballot":"constituency","ballots_cast":412,"invalid":9,"no_vote":4,"votes":{"1":230,"2":120,"5":49}}`,
		`{"official_id":null}`, `[]`, `{"reason":1}`,
	} {
		f.Add([]byte(seed))
	}
	h := newHarness(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		for path, schema := range map[string]string{"/v1/reviews": schemas.SchemaReview, "/v1/official": schemas.SchemaOfficial} {
			before := len(h.prod.recs())
			r := h.do(http.MethodPost, path, h.lead, "application/json", body)
			after := len(h.prod.recs())
			switch {
			case r.status >= 500:
				t.Fatalf("%s: status %d for %q: %s", path, r.status, body, r.body)
			case r.status == http.StatusAccepted:
				if rc := r.receipt(t); after-before > 1 || (after == before && !rc.Duplicate) {
					t.Fatalf("%s: accepted with %d new records: %s", path, after-before, r.body)
				}
				if after > before {
					if err := schemas.Validate(schema, h.prod.recs()[before].Value); err != nil {
						t.Fatalf("%s: accepted %q but the record breaks %s: %v", path, body, schema, err)
					}
				}
			default:
				if code, _ := r.errorCode(); !knownCode(code) || after != before {
					t.Fatalf("%s: status %d code %q, %d new records: %s", path, r.status, code, after-before, r.body)
				}
			}
		}
	})
}

// knownCode reports whether code is one of the API's error codes.
func knownCode(code string) bool {
	_, ok := codeStatus[code]
	return ok
}
