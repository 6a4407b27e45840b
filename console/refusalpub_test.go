package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/console"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// TestConsoleRefusalsOnKafka: the console's own refusals (a wrong sign-in code, a lead
// opening another constituency's station, a lead uploading official figures) go on
// refusals.v1 like ingest's, under /console/..., without the token, the code or the
// session; the sink stores them and the war room lists them with ingest's, a lead those
// of their constituency.
func TestConsoleRefusalsOnKafka(t *testing.T) {
	p := startPipeline(t)
	tok := p.enrol("lead-wrong-code", schemas.RoleDistrictLead, "C1")
	code := p.code("lead-wrong-code")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	st, body, _ := p.login(tok, wrong)
	var answer struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if st != http.StatusUnauthorized || json.Unmarshal(body, &answer) != nil || answer.Error.Code == "" {
		t.Fatalf("wrong code: %d %s; want 401 with a code", st, body)
	}
	lead1 := p.lead("C1")
	if st, body, _ := do(t, http.MethodGet, p.console+"/v1/stations/S21", lead1, nil); st != http.StatusForbidden {
		t.Fatalf("C1's lead opening S21: %d %s; want 403", st, body)
	}
	if st, body, _ := do(t, http.MethodPost, p.console+"/v1/official/csv", lead1, []byte("station_id\n")); st != http.StatusForbidden {
		t.Fatalf("a lead uploading official figures: %d %s; want 403", st, body)
	}

	// On the topic: three records from the console, no secret in any.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka.Seeds...), kgo.ConsumeTopics(p.kafka.Prefix+schemas.TopicRefusals),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []schemas.Refusal
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(recs) < 3 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			for _, secret := range []string{tok, code, wrong, lead1} {
				if strings.Contains(string(r.Value), secret) {
					t.Errorf("refusal record carries a secret (%q): %s", secret, r.Value)
				}
			}
			var x schemas.Refusal
			if err := kgorecord.Decode(r, &x); err != nil {
				t.Errorf("refusal record: %v", err)
				return
			}
			if strings.HasPrefix(x.Endpoint, "/console/") {
				recs = append(recs, x)
			}
		})
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Endpoint+" "+r.Code+" "+r.VolunteerID+" "+r.StationID+" "+r.ConstituencyID)
	}
	slices.Sort(got)
	want := []string{
		"/console/v1/official/csv FORBIDDEN_ROLE lead-C1  C1",
		"/console/v1/session " + answer.Error.Code + " lead-wrong-code  C1",
		"/console/v1/stations/S21 OUT_OF_SCOPE lead-C1 S21 C2",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("console refusals on refusals.v1:\n got %q\nwant %q", got, want)
	}

	// Through the sink to the war room's list, and the C2 lead's (the station is theirs).
	list := func(tok string) []console.Refused {
		t.Helper()
		st, body, _ := do(t, http.MethodGet, p.console+"/v1/refusals", tok, nil)
		var out struct {
			Refusals []console.Refused `json:"refusals"`
		}
		if st != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("GET /v1/refusals: %d %s", st, body)
		}
		return out.Refusals
	}
	war := p.warRoom()
	waitFor(t, "the console's three refusals in the war room's list", func() bool {
		n := 0
		for _, r := range list(war) {
			if strings.HasPrefix(r.Endpoint, "/console/") {
				n++
			}
		}
		return n >= 3
	})
	c2 := list(p.lead("C2"))
	if !slices.ContainsFunc(c2, func(r console.Refused) bool {
		return r.Endpoint == "/console/v1/stations/S21" && r.VolunteerID == "lead-C1" && r.Role == schemas.RoleDistrictLead
	}) {
		t.Errorf("C2's lead does not see C1's lead opening S21: %+v", c2)
	}
}
