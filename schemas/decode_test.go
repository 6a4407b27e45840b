package schemas_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"votestream/schemas"
)

func TestDecodeSubmission(t *testing.T) {
	good, _ := json.Marshal(sampleSubmission())
	got, err := schemas.DecodeSubmission(good)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleSubmission()) {
		t.Errorf("got %#v", got)
	}

	bad := []struct {
		name    string
		body    string
		keyword string
	}{
		{"empty body", ``, "json"},
		{"not JSON", `ballots_cast=512`, "json"},
		{"an array", `[]`, "type"},
		{"two documents", string(good) + ` {}`, "json"},
		{"trailing garbage", string(good) + `x`, "json"},
		{"unknown field", strings.Replace(string(good), `"ballot"`, `"org":"x","ballot"`, 1), "additionalProperties"},
		{"volunteer in the body", strings.Replace(string(good), `"ballot"`, `"volunteer_id":"v","ballot"`, 1), "additionalProperties"},
		// The schema calls 1e2 an integer; Go's int cannot take it: refused all the same.
		{"exponent", strings.Replace(string(good), `"invalid":9`, `"invalid":9e0`, 1), "type"},
		{"leap second", strings.Replace(string(good), `"counted_at":"2023-05-14T10:52:00Z"`, `"counted_at":"2016-12-31T23:59:60Z"`, 1), "json"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := schemas.DecodeSubmission([]byte(c.body))
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("want a *ValidationError wrapping ErrInvalid, got %v", err)
			}
			if ve.Keyword != c.keyword {
				t.Errorf("keyword %q, want %q: %v", ve.Keyword, c.keyword, err)
			}
		})
	}

	huge := `{"submission_id":"` + strings.Repeat(" ", schemas.MaxBodyBytes) + `"}`
	if _, err := schemas.DecodeSubmission([]byte(huge)); !errors.Is(err, schemas.ErrTooLarge) || !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("oversized body: %v, want ErrTooLarge wrapping ErrInvalid", err)
	}
}

func TestDecodeRequests(t *testing.T) {
	body, _ := json.Marshal(reviewRequest())
	r, err := schemas.DecodeReviewRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.BallotsCast == nil || *r.BallotsCast != 512 || r.Votes["7"] != 89 || r.ReviewerID != "" {
		t.Errorf("review decoded as %#v", r)
	}
	withToken := strings.Replace(string(body), `{`, `{"role":"war_room",`, 1)
	if _, err := schemas.DecodeReviewRequest([]byte(withToken)); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("a body that sets its own role: %v, want ErrInvalid", err)
	}

	body, _ = json.Marshal(officialRequest())
	o, err := schemas.DecodeOfficialRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if o.BallotsCast != 512 || o.Votes["31"] != 240 || o.EnteredBy != "" {
		t.Errorf("official decoded as %#v", o)
	}
}

// FuzzDecodeSubmission: whatever a volunteer sends, the decoder never panics, and what it
// accepts re-encodes to a document it accepts again, with the same canonical hash.
func FuzzDecodeSubmission(f *testing.F) {
	good, _ := json.Marshal(sampleSubmission())
	seeds := []string{
		string(good),
		`{"submission_id":"0b7d5a1c-8e2f-4f3a-b6c9-1d2e3f4a5b6c","station_id":"CMI_3_0117","ballot":"partylist","stage":"progress","counted_at":"2023-05-14T17:41:09+07:00","ballots_cast":233,"invalid":3,"no_vote":1,"votes":{"31":120,"29":61,"22":40,"1":8}}`,
		`{"submission_id":"0b7d5a1c-8e2f-4f3a-b6c9-1d2e3f4a5b6c","station_id":"UBN_1_0003","ballot":"constituency","stage":"final","counted_at":"2023-05-14T11:02:00.250Z","ballots_cast":0,"invalid":0,"no_vote":0,"votes":{},"evidence":[]}`,
		`{"votes":{"07":1}}`,
		`{"ballots_cast":1e400}`,
		`{"counted_at":"2023-13-45T99:99:99Z"}`,
		`{"station_id":"\u0000\ud800"}`,
		`[{"a":1}]`,
		`null`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := schemas.DecodeSubmission(body)
		if err != nil {
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("accepted %q but cannot re-encode: %v", body, err)
		}
		s2, err := schemas.DecodeSubmission(again)
		if err != nil {
			t.Fatalf("accepted %q but not its re-encoding %s: %v", body, again, err)
		}
		if h1, h2 := schemas.CanonicalHash(s), schemas.CanonicalHash(s2); h1 != h2 {
			t.Fatalf("hash changed over a re-encoding: %s vs %s", h1, h2)
		}
	})
}
