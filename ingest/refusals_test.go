package ingest

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// The per-source limit: refusalBurst at once, then one per refusalEvery; the next record
// published carries how many were left out.
func TestRefusalSampling(t *testing.T) {
	var l refusalLog
	now := time.Unix(1_700_000_000, 0)
	published := 0
	for range refusalBurst + 7 {
		if ok, sup := l.admit("addr:1.2.3.4", now); ok {
			published++
			if sup != 0 {
				t.Errorf("suppressed %d within the burst", sup)
			}
		}
	}
	if published != refusalBurst {
		t.Fatalf("published %d of a burst, want %d", published, refusalBurst)
	}
	if ok, _ := l.admit("volunteer:other", now); !ok {
		t.Errorf("another source was held back by the first one's limit")
	}
	ok, sup := l.admit("addr:1.2.3.4", now.Add(refusalEvery))
	if !ok || sup != 7 {
		t.Errorf("after %s: published %v with suppressed %d, want true and 7", refusalEvery, ok, sup)
	}
	// The global limit holds whatever the number of sources.
	var g refusalLog
	n := 0
	for i := range 2 * refusalsBurst {
		if ok, _ := g.admit("addr:"+string(rune('a'+i%26))+string(rune('a'+i/26)), now); ok {
			n++
		}
	}
	if n != refusalsBurst {
		t.Errorf("%d sources published %d at once, want the global burst %d", 2*refusalsBurst, n, refusalsBurst)
	}
}

// TestRefusalsInKafka: refused requests reach refusals.v1 on the real broker, with who,
// what and where, and a flood of bad tokens from one address publishes only a burst.
func TestRefusalsInKafka(t *testing.T) {
	env := testenv.Kafka(t)
	h := kafkaHarness(t, env.Seeds, env.Prefix, nil)

	for range 30 {
		if r := h.post("/v1/submissions", "forged.token.here", validSub().json()); r.status != http.StatusUnauthorized {
			t.Fatalf("forged token: %d %s", r.status, r.body)
		}
	}
	tooMany := validSub().with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0042", "ballots_cast", 900, "votes", map[string]int{"1": 887})
	if r := h.post("/v1/submissions", h.volunteer, tooMany.json()); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("above eligible: %d %s", r.status, r.body)
	}
	review := `{"review_id":"7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f7","station_id":"BKK_2_0001","ballot":"constituency",
		"accept_submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0001","reason":"not my constituency"}`
	if r := h.post("/v1/reviews", h.lead, review); r.status != http.StatusForbidden {
		t.Fatalf("review out of scope: %d %s", r.status, r.body)
	}
	if r := h.post("/v1/reviews", h.volunteer, review); r.status != http.StatusForbidden {
		t.Fatalf("review by a station volunteer: %d %s", r.status, r.body)
	}

	published := int(testutil.ToFloat64(h.s.metrics.refusals.WithLabelValues("published")))
	if want := refusalBurst + 3; published != want {
		t.Fatalf("published %d refusals, want %d (a burst of the flood and three others)", published, want)
	}
	if got := testutil.ToFloat64(h.s.metrics.refusals.WithLabelValues("suppressed")); got != 30-refusalBurst {
		t.Errorf("suppressed %v, want %d", got, 30-refusalBurst)
	}
	recs := readAll(t, env, env.Topic(schemas.TopicRefusals), func(rs []*kgo.Record) bool { return len(rs) >= published })
	var codes []string
	for _, rec := range recs {
		var ref schemas.Refusal
		if err := kgorecord.Decode(rec, &ref); err != nil {
			t.Fatal(err)
		}
		if err := schemas.Validate(schemas.SchemaRefusal, rec.Value); err != nil {
			t.Errorf("record breaks refusal.v1: %v", err)
		}
		if string(rec.Key) != schemas.RefusalKey(&ref) {
			t.Errorf("key %q for %+v", rec.Key, ref)
		}
		codes = append(codes, ref.Code)
		switch ref.Code {
		case CodeUnauthenticated:
			if ref.VolunteerID != "" || ref.StationID != "" || ref.Endpoint != "/v1/submissions" {
				t.Errorf("forged token: %+v", ref)
			}
		case CodeAboveEligible:
			if ref.VolunteerID != "ilaw-0001" || ref.StationID != "BKK_1_0001" || ref.ConstituencyID != "BKK_1" ||
				ref.SubmissionID != "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0042" || ref.Status != 422 || ref.Field == "" {
				t.Errorf("above eligible: %+v", ref)
			}
		case CodeOutOfScope:
			if ref.VolunteerID != "lead-bkk1" || ref.Role != schemas.RoleDistrictLead || ref.StationID != "BKK_2_0001" ||
				ref.ConstituencyID != "BKK_2" || ref.SubmissionID != "7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f7" || ref.Endpoint != "/v1/reviews" {
				t.Errorf("review out of scope: %+v", ref)
			}
		case CodeForbiddenRole:
			if ref.VolunteerID != "ilaw-0001" || ref.Role != schemas.RoleStation {
				t.Errorf("review by a volunteer: %+v", ref)
			}
		}
	}
	slices.Sort(codes)
	want := []string{CodeAboveEligible, CodeForbiddenRole, CodeOutOfScope}
	for range refusalBurst {
		want = append(want, CodeUnauthenticated)
	}
	slices.Sort(want)
	if !slices.Equal(codes, want) {
		t.Errorf("refusals.v1 holds %v, want %v", codes, want)
	}
}
