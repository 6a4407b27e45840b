package ingest

import (
	"testing"

	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func TestReviews(t *testing.T) {
	accept := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"matches the photo of the signed form"}`
	correct := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f7","station_id":"BKK_1_0002","ballot":"partylist",
		"ballots_cast":420,"invalid":10,"no_vote":5,"votes":{"31":205,"7":200},"reason":"volunteer swapped party numbers"}`
	cases := []struct {
		name   string
		who    func(h *harness) string
		body   string
		status int
		code   string
	}{
		{"lead accepts a source", func(h *harness) string { return h.lead }, accept, 202, ""},
		{"lead corrects figures", func(h *harness) string { return h.lead }, correct, 202, ""},
		{"war room anywhere", func(h *harness) string { return h.warRoom }, correct, 202, ""},
		{"station volunteer", func(h *harness) string { return h.volunteer }, accept, 403, CodeForbiddenRole},
		{"lead of another constituency", func(h *harness) string {
			return issue(t, h.staff, token.Claims{VolunteerID: "lead-cnx1", Role: schemas.RoleDistrictLead, Constituency: "CNX_1"})
		}, accept, 403, CodeOutOfScope},
		{"both accept and figures", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","ballots_cast":1,"reason":"x"}`,
			400, CodeInvalidValue},
		{"neither", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","reason":"x"}`,
			400, CodeMissingField},
		{"figures without votes", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","ballots_cast":1,"invalid":0,"no_vote":0,"reason":"x"}`,
			400, CodeMissingField},
		{"no reason", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01"}`,
			400, CodeMissingField},
		{"empty reason", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":""}`,
			400, CodeInvalidValue},
		{"reviewer in the body", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"x","reviewer_id":"boss"}`,
			400, CodeUnknownField},
		{"corrected figures off the ballot", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","ballots_cast":1,"invalid":0,"no_vote":0,"votes":{"31":1},"reason":"x"}`,
			422, CodeNotOnBallot},
		{"lead escalates to the war room", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f8","station_id":"BKK_1_0002","ballot":"constituency","escalate":true,"reason":"both forms look signed; the war room should call the district office"}`,
			202, ""},
		{"escalates and accepts", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","escalate":true,"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"x"}`,
			400, CodeInvalidValue},
		{"escalates out of scope", func(h *harness) string {
			return issue(t, h.staff, token.Claims{VolunteerID: "lead-cnx1", Role: schemas.RoleDistrictLead, Constituency: "CNX_1"})
		}, `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","escalate":true,"reason":"x"}`, 403, CodeOutOfScope},
		{"escalate false is no decision", func(h *harness) string { return h.lead },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency","escalate":false,"reason":"x"}`,
			400, CodeMissingField},
		{"unknown station", func(h *harness) string { return h.warRoom },
			`{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"XX","ballot":"constituency","accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"x"}`,
			422, CodeUnknownStation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			r := h.post("/v1/reviews", tc.who(h), tc.body)
			code, _ := r.errorCode()
			if r.status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s: %s", r.status, code, tc.status, tc.code, r.body)
			}
			recs := h.prod.recs()
			if tc.status != 202 {
				if len(recs) != 0 {
					t.Fatal("refused review produced")
				}
				return
			}
			if len(recs) != 1 || recs[0].Topic != "reviews.v1" || string(recs[0].Key) != "BKK_1_0002" {
				t.Fatalf("records %v", recs)
			}
			var rv schemas.Review
			if err := kgorecord.Decode(recs[0], &rv); err != nil {
				t.Fatal(err)
			}
			if rv.ReviewerID == "" || rv.ReviewerID == "boss" || !rv.ReceivedAt.Equal(testNow) || rv.Reason == "" {
				t.Fatalf("review record %+v", rv)
			}
			rc := r.receipt(t)
			if rc.SubmissionID != rv.ReviewID {
				t.Fatalf("receipt %+v for review %s", rc, rv.ReviewID)
			}
		})
	}
}

func TestReviewIdempotency(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"ok"}`
	r1 := h.post("/v1/reviews", h.lead, body)
	r2 := h.post("/v1/reviews", h.lead, body)
	if r1.status != 202 || r2.status != 202 || !r2.receipt(t).Duplicate || r2.receipt(t).Hash != r1.receipt(t).Hash {
		t.Fatalf("retry: %s / %s", r1.body, r2.body)
	}
	changed := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6","station_id":"BKK_1_0002","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","reason":"changed my mind"}`
	if r := h.post("/v1/reviews", h.lead, changed); r.status != 409 {
		t.Fatalf("changed review under the same id: %d %s", r.status, r.body)
	}
	if n := len(h.prod.recs()); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func TestOfficial(t *testing.T) {
	good := `{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000001","station_id":"BKK_1_0001","ballot":"constituency",
		"ballots_cast":412,"invalid":9,"no_vote":4,"votes":{"1":230,"2":120,"5":49}}`
	h := newHarness(t, nil)
	if r := h.post("/v1/official", h.volunteer, good); r.status != 403 {
		t.Fatalf("station volunteer: %d %s", r.status, r.body)
	}
	r := h.post("/v1/official", h.lead, good)
	if r.status != 202 {
		t.Fatalf("lead: %d %s", r.status, r.body)
	}
	recs := h.prod.recs()
	if len(recs) != 1 || recs[0].Topic != "official.v1" || string(recs[0].Key) != "BKK_1_0001" {
		t.Fatalf("records %v", recs)
	}
	var of schemas.Official
	if err := kgorecord.Decode(recs[0], &of); err != nil {
		t.Fatal(err)
	}
	if of.EnteredBy != "lead-bkk1" || of.Role != schemas.RoleDistrictLead || of.BallotsCast != 412 || of.Votes["5"] != 49 {
		t.Fatalf("official record %+v", of)
	}
	for body, code := range map[string]string{
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000002","station_id":"BKK_1_0001","ballot":"constituency","ballots_cast":412,"invalid":9,"no_vote":4}`:                       CodeMissingField,
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000002","station_id":"BKK_1_0001","ballot":"constituency","ballots_cast":-1,"invalid":9,"no_vote":4,"votes":{}}`:             CodeNegativeNumber,
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000002","station_id":"BKK_1_0001","ballot":"constituency","ballots_cast":501,"invalid":9,"no_vote":4,"votes":{}}`:            CodeAboveEligible,
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000002","station_id":"CNX_1_0001","ballot":"constituency","ballots_cast":1,"invalid":0,"no_vote":0,"votes":{"1":1}}`:         CodeOutOfScope,
		`{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000002","station_id":"BKK_1_0001","ballot":"constituency","ballots_cast":1,"invalid":0,"no_vote":0,"votes":{},"extra":true}`: CodeUnknownField,
	} {
		if r := h.post("/v1/official", h.lead, body); func() string { c, _ := r.errorCode(); return c }() != code {
			t.Errorf("%s: got %d %s, want %s", body, r.status, r.body, code)
		}
	}
}
