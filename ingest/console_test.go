package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// TestConsoleOnly: with console keys, a lead's or the war room's decision is taken only
// when the review console signed it; a volunteer's submission needs no signature. On the
// real broker: nothing refused reaches reviews.v1, and every refusal is on refusals.v1.
func TestConsoleOnly(t *testing.T) {
	env := testenv.Kafka(t)
	h := kafkaHarness(t, env.Seeds, env.Prefix, nil)
	h.warRoom = issue(t, h.staff, token.Claims{VolunteerID: "wr-01", Org: "war room", Role: schemas.RoleWarRoom})
	review := func(id string) string {
		return `{"review_id":"` + id + `","station_id":"BKK_1_0002","ballot":"constituency",
			"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0001","reason":"the photo matches"}`
	}
	refusedID := "7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e501"
	wantConsoleOnly := func(what string, r response) {
		t.Helper()
		if code, _ := r.errorCode(); r.status != http.StatusForbidden || code != CodeConsoleOnly {
			t.Errorf("%s: %d %s, want 403 %s", what, r.status, r.body, CodeConsoleOnly)
		}
	}
	// signed sends sentBody to /v1/reviews with tok, signed by keys for signedPath and
	// signedBody at the given time.
	signed := func(keys *token.ConsoleKeys, signedPath, tok string, signedBody, sentBody string, at time.Time) response {
		req := httptest.NewRequest(http.MethodPost, "/v1/reviews", bytes.NewReader([]byte(sentBody)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		keys.Sign(req, signedPath, []byte(signedBody), at)
		rec := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(rec, req)
		return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	}
	now := h.clock.Now()

	wantConsoleOnly("a lead's review straight to ingest", h.postDirect("/v1/reviews", h.lead, review(refusedID)))
	official := `{"official_id":"3c9e1f00-aaaa-4bbb-8ccc-000000000001","station_id":"BKK_1_0001","ballot":"constituency",
		"ballots_cast":412,"invalid":9,"no_vote":4,"votes":{"1":230,"2":120,"5":49}}`
	wantConsoleOnly("the war room's official figure straight to ingest", h.postDirect("/v1/official", h.warRoom, official))
	other, err := token.NewConsoleKeys("c1", map[string][]byte{"c1": bytes.Repeat([]byte{0x77}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	wantConsoleOnly("signed with another key", signed(other, "/v1/reviews", h.lead, review(refusedID), review(refusedID), now))
	wantConsoleOnly("signed 10 minutes ago", signed(h.console, "/v1/reviews", h.lead, review(refusedID), review(refusedID), now.Add(-10*time.Minute)))
	wantConsoleOnly("signed over another body", signed(h.console, "/v1/reviews", h.lead, review("7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5ff"), review(refusedID), now))
	wantConsoleOnly("signed for another path", signed(h.console, "/v1/official", h.lead, review(refusedID), review(refusedID), now))
	// A signature the console made for the lead's request does not lend itself to another token.
	req := httptest.NewRequest(http.MethodPost, "/v1/reviews", bytes.NewReader([]byte(review(refusedID))))
	req.Header.Set("Authorization", "Bearer "+h.lead)
	h.console.Sign(req, "/v1/reviews", []byte(review(refusedID)), now)
	req.Header.Set("Authorization", "Bearer "+h.warRoom)
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	wantConsoleOnly("the lead's signature with the war room's token", response{status: rec.Code, body: rec.Body.Bytes()})

	// The same decision through the console: taken, within the allowed skew.
	acceptedID := "7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e502"
	if r := signed(h.console, "/v1/reviews", h.lead, review(acceptedID), review(acceptedID), now.Add(-4*time.Minute)); r.status != http.StatusAccepted {
		t.Fatalf("console-signed review: %d %s", r.status, r.body)
	}
	// A station volunteer's submission needs no console.
	if r := h.postDirect("/v1/submissions", h.volunteer, validSub().json()); r.status != http.StatusAccepted {
		t.Fatalf("volunteer's submission: %d %s", r.status, r.body)
	}

	recs := readAll(t, env, env.Topic(schemas.TopicReviews), func(rs []*kgo.Record) bool {
		for _, r := range rs {
			var rv schemas.Review
			if kgorecord.Decode(r, &rv) == nil && rv.ReviewID == acceptedID {
				return true
			}
		}
		return false
	})
	for _, r := range recs {
		var rv schemas.Review
		if err := kgorecord.Decode(r, &rv); err != nil {
			t.Fatal(err)
		}
		if rv.ReviewID != acceptedID {
			t.Errorf("reviews.v1 holds a refused review %+v", rv)
		}
	}

	const refusals = 7
	refs := readAll(t, env, env.Topic(schemas.TopicRefusals), func(rs []*kgo.Record) bool { return len(rs) >= refusals })
	leads := 0
	for _, r := range refs {
		var ref schemas.Refusal
		if err := kgorecord.Decode(r, &ref); err != nil {
			t.Fatal(err)
		}
		if ref.Code != CodeConsoleOnly || ref.Status != http.StatusForbidden {
			t.Errorf("refusal %+v, want %s", ref, CodeConsoleOnly)
		}
		if ref.VolunteerID == "lead-bkk1" {
			leads++
			if ref.StationID != "BKK_1_0002" || ref.SubmissionID != refusedID || ref.Role != schemas.RoleDistrictLead {
				t.Errorf("lead's refusal %+v", ref)
			}
		}
	}
	if len(refs) != refusals || leads != 5 {
		t.Errorf("%d refusals on refusals.v1 (%d the lead's), want %d (5 the lead's)", len(refs), leads, refusals)
	}
}

// TestNoConsoleKeys: without console keys a staff token alone decides, as before.
func TestNoConsoleKeys(t *testing.T) {
	h := newHarness(t, nil, WithConsoleKeys(nil))
	body := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e503","station_id":"BKK_1_0002","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0001","reason":"the photo matches"}`
	if r := h.postDirect("/v1/reviews", h.lead, body); r.status != http.StatusAccepted {
		t.Fatalf("unsigned review without console keys: %d %s", r.status, r.body)
	}
}

// TestConsoleKeysDisjoint: a console key file that is the staff key file is refused.
func TestConsoleKeysDisjoint(t *testing.T) {
	same, err := token.NewConsoleKeys("s", map[string][]byte{"s": testStaffKey})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Country = testCountry(t)
	cfg.EvidenceDir = t.TempDir()
	if _, err := New(cfg, withProducer(&fakeProducer{}), WithKeyring(testKeyring(t)), WithStaffKeyring(testStaffKeyring(t)), WithConsoleKeys(same)); err == nil {
		t.Fatal("console keys equal to the staff key accepted")
	}
}
