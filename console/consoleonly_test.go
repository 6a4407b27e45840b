package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/ingest/token"
	"votestream/schemas"
)

// TestIngestTakesDecisionsFromConsoleOnly: a lead's staff token posted straight to ingest
// (no authenticator code, no console) is refused with CONSOLE_ONLY and nothing reaches
// reviews.v1; the same decision through the console, which signs it, takes effect.
func TestIngestTakesDecisionsFromConsoleOnly(t *testing.T) {
	p := startPipeline(t)
	n := p.playNight()
	reviews := func() int64 {
		ends, err := kadm.NewClient(p.kafka.Client(t)).ListEndOffsets(context.Background(), p.kafka.Topic(schemas.TopicReviews))
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		return total
	}
	lead := p.token(token.Claims{VolunteerID: "lead-C1", Role: schemas.RoleDistrictLead, Constituency: "C1"})
	direct, _ := json.Marshal(map[string]any{"review_id": uuid.NewString(), "station_id": "S01", "ballot": "constituency",
		"accept_submission_id": n.a, "reason": "ภาพ ส.ส. 5/18 ตรงกับตัวเลขของอาสา ก"})
	st, body, _ := do(t, http.MethodPost, p.ingest+"/v1/reviews", lead, direct)
	if st != http.StatusForbidden || !strings.Contains(string(body), `"CONSOLE_ONLY"`) {
		t.Fatalf("a lead's review straight to ingest: %d %s; want 403 CONSOLE_ONLY", st, body)
	}
	// A volunteer's report is not the console's business.
	p.submit(p.volunteer("vol-s02", "OrgA", "S02"), "S02", "constituency", 300, 3, 2, map[string]int{"1": 150, "2": 100, "3": 45})
	if got := reviews(); got != 0 {
		t.Fatalf("%d records in reviews.v1 after the refused review; want 0", got)
	}

	b, _ := json.Marshal(map[string]any{"station_id": "S01", "ballot": "constituency", "action": "accept",
		"submission_id": n.a, "reason": "ภาพ ส.ส. 5/18 ตรงกับตัวเลขของอาสา ก"})
	if st, body, _ := do(t, http.MethodPost, p.console+"/v1/decisions", p.lead("C1"), b); st != http.StatusAccepted {
		t.Fatalf("the same decision through the console: %d %s; want 202 from ingest", st, body)
	}
	waitFor(t, "S01 verified", func() bool { return p.status("S01", "constituency") == "verified" })
	if got := reviews(); got != 1 {
		t.Fatalf("%d records in reviews.v1; want the console's 1", got)
	}
}
