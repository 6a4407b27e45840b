package console_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"votestream/console"
	"votestream/ingest/token"
	"votestream/schemas"
)

// TestRefusalsForLeads: refused requests to ingest travel refusals.v1 -> the sink ->
// ClickHouse and are listed by the console: a district lead sees those of their own
// constituency, the war room every one (the forged token's too).
func TestRefusalsForLeads(t *testing.T) {
	p := startPipeline(t)
	post := func(tok, path string, body map[string]any, want int) {
		t.Helper()
		b, _ := json.Marshal(body)
		var signed []string
		if path == "/v1/reviews" { // as the console forwards a lead's decision
			signed = p.consoleSigned(path, tok, b)
		}
		if st, rb, _ := do(t, http.MethodPost, p.ingest+path, tok, b, signed...); st != want {
			t.Fatalf("POST %s: %d %s, want %d", path, st, rb, want)
		}
	}
	// C1: a count above the station's 600 eligible voters.
	post(p.volunteer("vol-s01", "OrgA", "S01"), "/v1/submissions", map[string]any{
		"submission_id": uuid.NewString(), "station_id": "S01", "ballot": "constituency", "stage": "final",
		"counted_at": "2023-05-14T18:10:00+07:00", "ballots_cast": 900, "invalid": 0, "no_vote": 0,
		"votes": map[string]int{"1": 900}, "evidence": []string{},
	}, http.StatusUnprocessableEntity)
	// C2: C1's lead tries to decide a station of C2.
	post(p.token(token.Claims{VolunteerID: "lead-C1", Role: schemas.RoleDistrictLead, Constituency: "C1"}), "/v1/reviews", map[string]any{
		"review_id": uuid.NewString(), "station_id": "S21", "ballot": "constituency",
		"accept_submission_id": uuid.NewString(), "reason": "trying my luck",
	}, http.StatusForbidden)
	// Nobody's: a forged token.
	post("not.a.token", "/v1/submissions", map[string]any{"station_id": "S01"}, http.StatusUnauthorized)

	list := func(tok string) []console.Refused {
		t.Helper()
		st, body, _ := do(t, http.MethodGet, p.console+"/v1/refusals", tok, nil)
		if st != http.StatusOK {
			t.Fatalf("GET /v1/refusals: %d %s", st, body)
		}
		var out struct {
			Refusals []console.Refused `json:"refusals"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Refusals
	}
	codes := func(rs []console.Refused) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Code)
		}
		slices.Sort(out)
		return out
	}
	war := p.warRoom()
	waitFor(t, "three refusals in the console", func() bool { return len(list(war)) == 3 })
	if got := codes(list(war)); !slices.Equal(got, []string{"ABOVE_ELIGIBLE", "OUT_OF_SCOPE", "UNAUTHENTICATED"}) {
		t.Errorf("war room sees %v", got)
	}
	c1 := list(p.lead("C1"))
	if len(c1) != 1 || c1[0].Code != "ABOVE_ELIGIBLE" || c1[0].StationID != "S01" || c1[0].VolunteerID != "vol-s01" || c1[0].Org != "OrgA" {
		t.Errorf("C1's lead sees %+v, want only vol-s01's count above eligible at S01", c1)
	}
	c2 := list(p.lead("C2"))
	if len(c2) != 1 || c2[0].Code != "OUT_OF_SCOPE" || c2[0].StationID != "S21" || c2[0].VolunteerID != "lead-C1" || c2[0].Endpoint != "/v1/reviews" {
		t.Errorf("C2's lead sees %+v, want C1's lead's attempt on S21", c2)
	}
	if st, _, _ := do(t, http.MethodGet, p.console+"/v1/refusals", "", nil); st != http.StatusUnauthorized {
		t.Errorf("without a token: %d", st)
	}

	// In the app: C1's lead follows the link from the queue and sees their one refusal.
	ctx := browser(t, 1366, 700)
	var text string
	err := chromedp.Do(ctx,
		chromedp.Navigate(p.console+"/#/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		p.signIn("lead-C1-web", schemas.RoleDistrictLead, "C1"),
		chromedp.WaitVisible(chromedp.CSS("#refusals-link")),
		chromedp.Click(chromedp.CSS("#refusals-link")),
		into(textWith("#refusals", "ABOVE_ELIGIBLE", "vol-s01"), &text),
	)
	if err != nil || !strings.Contains(text, "ABOVE_ELIGIBLE") || !strings.Contains(text, "vol-s01") || strings.Contains(text, "OUT_OF_SCOPE") {
		t.Errorf("C1's lead's refusals page: %q (%v)", text, err)
	}
	err = chromedp.Do(ctx,
		signOut(),
		p.signIn("war-room-web", schemas.RoleWarRoom, ""),
		chromedp.WaitVisible(chromedp.CSS("#refusals-link")), // signing in opens the queue
		chromedp.Click(chromedp.CSS("#refusals-link")),
		into(textWith("#refusals", "UNAUTHENTICATED", "OUT_OF_SCOPE"), &text),
	)
	if err != nil || !strings.Contains(text, "UNAUTHENTICATED") || !strings.Contains(text, "OUT_OF_SCOPE") {
		t.Errorf("war room's refusals page: %q (%v)", text, err)
	}
	shot(t, ctx, "console-refusals.png")
}
