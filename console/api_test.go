package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/console"
	"votestream/schemas"
)

func keys(pg console.Page) []string {
	var out []string
	for _, it := range pg.Items {
		out = append(out, it.Key)
	}
	return out
}

func TestQueueEvidenceAndDecisions(t *testing.T) {
	p := startPipeline(t)
	n := p.playNight()
	war, lead1, lead2 := p.warRoom(), p.lead("C1"), p.lead("C2")

	t.Run("scope", func(t *testing.T) {
		_, pg, _ := p.queue(war, "")
		if got := keys(pg); !slices.Contains(got, "S01/constituency") || !slices.Contains(got, "S21/constituency") || slices.Contains(got, "S02/constituency") {
			t.Fatalf("war room queue = %v; want S01 and S21 disputed, not the corroborated S02", got)
		}
		_, pg, _ = p.queue(lead1, "")
		if got := keys(pg); !slices.Equal(got, []string{"S01/constituency"}) || pg.Total != 1 {
			t.Fatalf("C1 lead's queue = %v (total %d); want only S01", got, pg.Total)
		}
		st, _, body := p.queue(lead1, "?constituency=C2")
		if st != http.StatusForbidden || !strings.Contains(string(body), "OUT_OF_SCOPE") {
			t.Fatalf("C1 lead asking for C2: %d %s; want 403 OUT_OF_SCOPE", st, body)
		}
		// The refusal is recorded: who, role, what, why.
		if l := p.logs.String(); !strings.Contains(l, `msg="console: refused" who=lead-C1 role=district_lead`) ||
			!strings.Contains(l, `what="GET /v1/queue" code=OUT_OF_SCOPE`) {
			t.Fatalf("console log lacks the refusal:\n%s", l)
		}
		// A volunteer's token opens nothing: the console has no volunteers' key.
		st, _, body = p.queue(p.volunteer("vol-x", "x", "S01"), "")
		if st != http.StatusUnauthorized || !strings.Contains(string(body), "UNAUTHENTICATED") {
			t.Fatalf("station volunteer: %d %s; want 401 UNAUTHENTICATED", st, body)
		}
		if st, _, _ := p.queue("", ""); st != http.StatusUnauthorized {
			t.Fatalf("no token: %d; want 401", st)
		}
		if st, _, _ := p.queue(war, "?code=NOPE"); st != http.StatusBadRequest {
			t.Fatalf("unknown code: %d; want 400", st)
		}
	})

	t.Run("areas", func(t *testing.T) {
		var got struct {
			Areas []console.Area `json:"areas"`
		}
		st, body, _ := do(t, http.MethodGet, p.console+"/v1/queue/areas", war, nil)
		if st != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("areas: %d %s", st, body)
		}
		if len(got.Areas) != 2 || got.Areas[0].Items != 1 || got.Areas[0].Disputed != 1 || got.Areas[0].Codes[schemas.AnomalyConflict] != 1 {
			t.Fatalf("war room areas = %+v; want ลุมพินี (C1) and บางรัก (C2), one disputed CONFLICT item each", got.Areas)
		}
		st, body, _ = do(t, http.MethodGet, p.console+"/v1/queue/areas", lead1, nil)
		if json.Unmarshal(body, &got) != nil || len(got.Areas) != 1 || got.Areas[0].Subdistrict != "ลุมพินี" || got.Areas[0].ConstituencyID != "C1" {
			t.Fatalf("C1 lead's areas: %d %s; want ลุมพินี of C1 alone", st, body)
		}
		_, pg, _ := p.queue(lead1, "?subdistrict="+url.QueryEscape("ลุมพินี"))
		if !slices.Equal(keys(pg), []string{"S01/constituency"}) {
			t.Fatalf("C1 lead's ลุมพินี items = %v; want S01", keys(pg))
		}
		_, pg, _ = p.queue(lead1, "?subdistrict="+url.QueryEscape("บางรัก"))
		if pg.Total != 0 {
			t.Fatalf("C1 lead asking for บางรัก (a C2 subdistrict) got %v; want nothing", keys(pg))
		}
		if st, _, body := p.queue(war, "?subdistrict="+url.QueryEscape("บางรัก")); st != http.StatusBadRequest || !strings.Contains(string(body), "subdistrict") {
			t.Fatalf("subdistrict without a constituency: %d %s; want 400 on subdistrict", st, body)
		}
	})

	t.Run("item", func(t *testing.T) {
		_, pg, _ := p.queue(lead1, "")
		it := pg.Items[0]
		if it.Status != "disputed" || !slices.Contains(it.Codes, schemas.AnomalyConflict) || it.ConstituencyName != "กรุงเทพมหานคร เขต 1" {
			t.Fatalf("item = %+v; want disputed with CONFLICT in กรุงเทพมหานคร เขต 1", it)
		}
		if len(it.Flags) == 0 || it.Flags[0].Message == "" {
			t.Fatalf("item has no explained anomaly: %+v", it.Flags)
		}
		bySub := map[string]console.Source{}
		for _, s := range it.Sources {
			bySub[s.SubmissionID] = s
		}
		a, b := bySub[n.a], bySub[n.b]
		if a.Votes["1"] != 310 || b.Votes["1"] != 190 || a.Org == b.Org || a.Stage != "final" {
			t.Fatalf("sources side by side = %+v; want vol-a's 310 and vol-b's 190 for candidate 1", it.Sources)
		}
		// S01 is disputed, so C1's race is S02 alone (250 vs 200): vol-a's figures keep
		// candidate 1 ahead by 250+310-200-190 = 170, vol-b's put candidate 2 ahead by 510-440 = 70.
		if a.IfRight == nil || a.IfRight.Leader != "1" || a.IfRight.Margin != 170 {
			t.Fatalf("vol-a if right = %+v; want candidate 1 by 170", a.IfRight)
		}
		if b.IfRight == nil || b.IfRight.Leader != "2" || b.IfRight.Margin != 70 || !strings.Contains(b.IfRight.LeaderName, "สมหญิง") {
			t.Fatalf("vol-b if right = %+v; want candidate 2 (สมหญิง) by 70", b.IfRight)
		}
		// Both also reported S02, corroborated: one settled report each, which agreed.
		if a.Track == nil || a.Track.Volunteer != (console.Record{Agreed: 1, Reports: 1}) || b.Track == nil || b.Track.Org != (console.Record{Agreed: 1, Reports: 1}) {
			t.Fatalf("track records = %+v, %+v; want 1 of 1 agreed for each", a.Track, b.Track)
		}
		if !slices.Contains(it.Evidence, n.refA) || !slices.Contains(it.Evidence, n.refB) {
			t.Fatalf("evidence = %v; want both photos", it.Evidence)
		}
		// Disputed (figures contested: class 4) and sources naming different leaders: the
		// highest stake, and no source with a poor record (one settled report each).
		if it.Priority != 499 {
			t.Fatalf("priority = %d (%v); want 499 (class 4, leaders differ)", it.Priority, it.Why)
		}
	})

	t.Run("pages", func(t *testing.T) {
		_, p1, _ := p.queue(war, "?limit=1")
		if len(p1.Items) != 1 || p1.NextCursor == "" || p1.Total != 2 {
			t.Fatalf("page 1 = %v next %q total %d", keys(p1), p1.NextCursor, p1.Total)
		}
		_, p2, _ := p.queue(war, "?limit=1&cursor="+p1.NextCursor)
		if len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].Key == p1.Items[0].Key {
			t.Fatalf("page 2 = %v next %q; want the other item and no next page", keys(p2), p2.NextCursor)
		}
		if st, _, _ := p.queue(war, "?cursor=garbage"); st != http.StatusBadRequest {
			t.Fatalf("bad cursor: %d; want 400", st)
		}
		_, f, _ := p.queue(war, "?constituency=C2&status=disputed&code=CONFLICT")
		if !slices.Equal(keys(f), []string{"S21/constituency"}) {
			t.Fatalf("filtered = %v; want S21", keys(f))
		}
		_, f, _ = p.queue(war, "?status=flagged")
		if f.Total != 0 {
			t.Fatalf("flagged (not disputed) = %v; want none", keys(f))
		}
	})

	t.Run("evidence", func(t *testing.T) {
		st, body, h := do(t, http.MethodGet, p.console+"/v1/evidence/"+n.refA, lead1, nil)
		if st != http.StatusOK || string(body) != string(n.imgA) {
			t.Fatalf("lead of S01 reading its photo: %d (%d bytes)", st, len(body))
		}
		if h.Get("Content-Type") != "image/png" || !strings.Contains(h.Get("Cache-Control"), "max-age=31536000") || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Fatalf("headers = %v; want image/png and a year's immutable cache", h)
		}
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/"+n.refA, lead2, nil); st != http.StatusForbidden {
			t.Fatalf("C2 lead reading C1's photo: %d; want 403", st)
		}
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/"+n.refC2, war, nil); st != http.StatusOK {
			t.Fatalf("war room reading C2's photo: %d; want 200", st)
		}
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/"+n.refA, p.volunteer("vol-a", "x", "S01"), nil); st != http.StatusUnauthorized {
			t.Fatalf("station volunteer reading a photo: %d; want 401", st)
		}
		missing := "sha256:" + strings.Repeat("ab", 32)
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/"+missing, war, nil); st != http.StatusNotFound {
			t.Fatalf("war room, unknown photo: %d; want 404", st)
		}
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/"+missing, lead1, nil); st != http.StatusForbidden {
			t.Fatalf("lead, unknown photo: %d; want 403 (no hint whether it exists)", st)
		}
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/evidence/sha256:XYZ", war, nil); st != http.StatusBadRequest {
			t.Fatalf("malformed ref: %d; want 400", st)
		}
	})

	t.Run("station", func(t *testing.T) {
		if st, _, _ := do(t, http.MethodGet, p.console+"/v1/stations/S01", lead2, nil); st != http.StatusForbidden {
			t.Fatalf("C2 lead opening S01: %d; want 403", st)
		}
		st, body, _ := do(t, http.MethodGet, p.console+"/v1/stations/S01", lead1, nil)
		var v console.StationView
		if st != http.StatusOK || json.Unmarshal(body, &v) != nil {
			t.Fatalf("station page: %d %s", st, body)
		}
		b := v.Ballots[0]
		if b.Ballot != "constituency" || b.Status != "disputed" || len(b.Reports) != 2 || b.Open == nil || len(v.Candidates) != 3 {
			t.Fatalf("station page = %+v", v)
		}
	})

	t.Run("decide", func(t *testing.T) {
		dec := func(tok string, d map[string]any) (int, string) {
			b, _ := json.Marshal(d)
			st, body, _ := do(t, http.MethodPost, p.console+"/v1/decisions", tok, b)
			return st, string(body)
		}
		if st, body := dec(lead1, map[string]any{"station_id": "S01", "ballot": "constituency", "action": "accept", "submission_id": n.a}); st != http.StatusBadRequest || !strings.Contains(body, "reason") {
			t.Fatalf("decision without a reason: %d %s; want 400 naming reason", st, body)
		}
		if st, body := dec(lead2, map[string]any{"station_id": "S01", "ballot": "constituency", "action": "accept", "submission_id": n.a, "reason": "x"}); st != http.StatusForbidden {
			t.Fatalf("C2 lead deciding on S01: %d %s; want 403", st, body)
		}
		// C2's lead escalates S21: it stays disputed and open, marked for the war room.
		if st, body := dec(lead2, map[string]any{"station_id": "S21", "ballot": "constituency", "action": "escalate", "reason": "ใบ ส.ส. 5/18 สองใบลงชื่อทั้งคู่"}); st != http.StatusAccepted {
			t.Fatalf("escalation: %d %s; want 202", st, body)
		}
		waitFor(t, "S21 escalated in the war room's queue", func() bool {
			_, pg, _ := p.queue(war, "?status=escalated")
			return len(pg.Items) == 1 && pg.Items[0].StationID == "S21" && pg.Items[0].Escalated.By == "lead-C2" &&
				strings.Contains(pg.Items[0].Escalated.Reason, "5/18")
		})
		if s := p.status("S21", "constituency"); s != "disputed" {
			t.Fatalf("S21 after an escalation: %s; want still disputed", s)
		}
		st, body := dec(lead1, map[string]any{"station_id": "S01", "ballot": "constituency", "action": "accept",
			"submission_id": n.a, "reason": "ภาพ ส.ส. 5/18 ตรงกับตัวเลขของอาสา ก"})
		if st != http.StatusAccepted {
			t.Fatalf("lead's decision: %d %s; want 202 from ingest", st, body)
		}
		waitFor(t, "S01 verified", func() bool { return p.status("S01", "constituency") == "verified" })
		waitFor(t, "S01 out of the queue", func() bool {
			_, pg, _ := p.queue(lead1, "")
			return pg.Total == 0
		})
		// The log: the war room sees both decisions (C2's escalation, C1's acceptance); C1's
		// lead sees only C1's.
		logOf := func(tok string) []console.LoggedDecision {
			st, body, _ := do(t, http.MethodGet, p.console+"/v1/decisions", tok, nil)
			var l struct {
				Decisions []console.LoggedDecision `json:"decisions"`
			}
			if st != http.StatusOK || json.Unmarshal(body, &l) != nil {
				t.Fatalf("decision log: %d %s", st, body)
			}
			return l.Decisions
		}
		waitFor(t, "both decisions in the reviews table", func() bool { return len(logOf(war)) == 2 })
		// Both came within the same second (received_at is to the second): order aside.
		l := logOf(war)
		slices.SortFunc(l, func(a, b console.LoggedDecision) int { return strings.Compare(a.StationID, b.StationID) })
		if len(l) != 2 || l[0].StationID != "S01" || l[0].ReviewerID != "lead-C1" || l[0].Escalate || !l[1].Escalate || l[1].StationID != "S21" || l[1].ConstituencyID != "C2" {
			t.Fatalf("war room's log = %+v; want S01's acceptance and S21's escalation", l)
		}
		if l := logOf(lead1); len(l) != 1 || l[0].StationID != "S01" || l[0].AcceptSubmissionID != n.a {
			t.Fatalf("C1 lead's log = %+v; want only S01's decision", l)
		}
		var reviewer, reason string
		row := p.ch.Conn.QueryRow(context.Background(), fmt.Sprintf("SELECT reviewer_id, reason FROM `%s`.reviews WHERE station_id = 'S01'", p.ch.Database))
		if err := row.Scan(&reviewer, &reason); err != nil || reviewer != "lead-C1" || !strings.Contains(reason, "5/18") {
			t.Fatalf("audit row: %q %q %v; want lead-C1 with the reason", reviewer, reason, err)
		}
	})
}

func TestOfficialCSVUpload(t *testing.T) {
	p := startPipeline(t)
	p.playNight()
	war, lead1 := p.warRoom(), p.lead("C1")
	upload := func(tok, name, csv string) (int, []byte) {
		st, body, _ := do(t, http.MethodPost, p.console+"/v1/official/csv?name="+name, tok, []byte(csv), "Content-Type", "text/csv")
		return st, body
	}
	officialRecords := func() int64 {
		ends, err := kadm.NewClient(p.kafka.Client(t)).ListEndOffsets(context.Background(), p.kafka.Topic(schemas.TopicOfficial))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	head := "station_id,ballot,ballots_cast,invalid,no_vote,number,votes\n"
	bad := head +
		"S01,constituency,560,6,4,1,310\n" +
		"S01,constituency,560,6,4,2,190\n" +
		"S01,constituency,560,6,4,3,50\n" +
		"S99,constituency,10,0,0,1,10\n" + // line 5: unknown station
		"S02,constituency,500,5,5,9,10\n" + // line 6: no candidate 9
		"S21,constituency,400,2,3,1,abc\n" // line 7: not a number
	st, body := upload(war, "ecexport.csv", bad)
	var e struct {
		Error console.APIError `json:"error"`
	}
	if st != http.StatusUnprocessableEntity || json.Unmarshal(body, &e) != nil || e.Error.Code != "BAD_CSV" {
		t.Fatalf("bad CSV: %d %s; want 422 BAD_CSV", st, body)
	}
	for _, want := range []string{"ecexport.csv:5:", "ecexport.csv:6:", "ecexport.csv:7:"} {
		if !slices.ContainsFunc(e.Error.Lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("errors %q lack %s", e.Error.Lines, want)
		}
	}
	if n := officialRecords(); n != 0 {
		t.Fatalf("%d official records produced from a refused file; want none", n)
	}
	if st, _ := upload(lead1, "x.csv", head+"S01,constituency,560,6,4,1,500\n"); st != http.StatusForbidden {
		t.Fatalf("lead uploading a CSV: %d; want 403", st)
	}

	good := head +
		"S01,constituency,560,6,4,1,310\n" +
		"S01,constituency,560,6,4,2,190\n" +
		"S01,constituency,560,6,4,3,50\n" +
		"S02,constituency,500,5,5,1,250\n" +
		"S02,constituency,500,5,5,2,190\n" + // differs from the corroborated 200
		"S02,constituency,500,5,5,3,50\n"
	st, body = upload(war, "ecexport.csv", good)
	var sum console.UploadSummary
	if st != http.StatusAccepted || json.Unmarshal(body, &sum) != nil || sum.Override == nil {
		t.Fatalf("good CSV: %d %s; want 202 with a pending override", st, body)
	}
	// S01's consolidated figures (disputed) are vol-a's, which the official figure confirms;
	// S02's corroborated figures are off by 10 for candidates 2 and 3.
	if sum.Rows != 2 || sum.Applied != 0 || sum.Matches != 1 || len(sum.Mismatches) != 1 || sum.Mismatches[0].StationID != "S02" {
		t.Fatalf("summary = %+v; want 2 rows pending, S01 matching, S02 a mismatch", sum)
	}
	// One approver is not enough: nothing is sent, and the uploader cannot approve it.
	if n := officialRecords(); n != 0 {
		t.Fatalf("%d official records before a second approver; want 0", n)
	}
	approve := func(tok, id string) (int, console.Override) {
		st, body, _ := do(t, http.MethodPost, p.console+"/v1/overrides/"+id+"/approve", tok, []byte(`{"reason":"checked against the EC export"}`))
		var o console.Override
		_ = json.Unmarshal(body, &o)
		return st, o
	}
	if st, _ := approve(war, sum.Override.ID); st != http.StatusForbidden {
		t.Fatalf("the uploader approving their own import: %d; want 403 SAME_PERSON", st)
	}
	if st, _ := approve(lead1, sum.Override.ID); st != http.StatusForbidden {
		t.Fatalf("a lead approving: %d; want 403", st)
	}
	if n := officialRecords(); n != 0 {
		t.Fatalf("%d official records after refused approvals; want 0", n)
	}
	war2 := p.warRoom2()
	if st, o := approve(war2, sum.Override.ID); st != http.StatusOK || o.State != console.OverrideApplied || o.DecidedBy != "war-room-2" || o.RequestedBy != "war-room-1" {
		t.Fatalf("second approver: %d %+v; want 200 applied, requested by war-room-1, approved by war-room-2", st, o)
	}
	if n := officialRecords(); n != 2 {
		t.Fatalf("%d official records; want 2", n)
	}
	if st, _ := approve(war2, sum.Override.ID); st != http.StatusConflict {
		t.Fatalf("approving twice: %d; want 409", st)
	}
	// Both names are in ClickHouse's audit.
	var both uint64
	if err := p.ch.Conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM `%s`.staff_actions WHERE override_id = ? AND requested_by = 'war-room-1' AND approved_by = 'war-room-2'", p.ch.Database), sum.Override.ID).Scan(&both); err != nil || both == 0 {
		t.Fatalf("staff_actions rows with both names: %d (%v)", both, err)
	}
	// The same file again is a retry: ingest recognises the ids, nothing is doubled.
	if st, body = upload(war, "ecexport.csv", good); st != http.StatusAccepted || json.Unmarshal(body, &sum) != nil {
		t.Fatalf("re-upload: %d %s", st, body)
	}
	if st, _ := approve(war2, sum.Override.ID); st != http.StatusOK {
		t.Fatalf("approving the re-upload: %d", st)
	}
	if n := officialRecords(); n != 2 {
		t.Fatalf("%d official records after sending the same file twice; want 2", n)
	}
	waitFor(t, "S01 verified by the official figure", func() bool { return p.status("S01", "constituency") == "verified" })
}

// Figures no volunteer sent, entered by the war room itself: pending, not applied with one
// person's say, not approvable by the same person, withdrawn by a rejection, and applied
// once a second member approves, with both names on the review.
func TestOverrideNeedsTwoPeople(t *testing.T) {
	p := startPipeline(t)
	p.playNight()
	war, war2, lead1 := p.warRoom(), p.warRoom2(), p.lead("C1")
	correct := func(tok string, votes map[string]int) (int, console.Override) {
		b, _ := json.Marshal(map[string]any{"station_id": "S21", "ballot": "constituency", "action": "correct",
			"reason": "นับใหม่ต่อหน้าผู้สังเกตการณ์", "figures": map[string]any{"ballots_cast": 400, "invalid": 2, "no_vote": 3, "votes": votes}})
		st, body, _ := do(t, http.MethodPost, p.console+"/v1/decisions", tok, b)
		var v struct {
			Override console.Override `json:"override"`
		}
		_ = json.Unmarshal(body, &v)
		return st, v.Override
	}
	decide := func(tok, id, verb string) (int, console.Override) {
		st, body, _ := do(t, http.MethodPost, p.console+"/v1/overrides/"+id+"/"+verb, tok, nil)
		var o console.Override
		_ = json.Unmarshal(body, &o)
		return st, o
	}
	reviews := func() int64 {
		ends, err := kadm.NewClient(p.kafka.Client(t)).ListEndOffsets(context.Background(), p.kafka.Topic(schemas.TopicReviews))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	// Figures that are one volunteer's report (S01's source a) need no second person: they
	// go to ingest at once, as before.
	b, _ := json.Marshal(map[string]any{"station_id": "S01", "ballot": "constituency", "action": "correct", "reason": "ตรงกับภาพของอาสา ก",
		"figures": map[string]any{"ballots_cast": 560, "invalid": 6, "no_vote": 4, "votes": map[string]int{"1": 310, "2": 190, "3": 50}}})
	if st, body, _ := do(t, http.MethodPost, p.console+"/v1/decisions", lead1, b); st != http.StatusAccepted || strings.Contains(string(body), "override") {
		t.Fatalf("sourced figures: %d %s; want 202 from ingest, no override", st, body)
	}
	waitFor(t, "the sourced correction in reviews.v1", func() bool { return reviews() == 1 })
	unsourced := map[string]int{"1": 190, "2": 205}
	st, o := correct(war, unsourced)
	if st != http.StatusAccepted || o.State != console.OverridePending || o.Kind != console.KindUnsourcedFigures {
		t.Fatalf("unsourced figures: %d %+v; want 202 pending %s", st, o, console.KindUnsourcedFigures)
	}
	if st, _ := decide(war, o.ID, "approve"); st != http.StatusForbidden {
		t.Fatalf("the requester approving: %d; want 403", st)
	}
	if st, _ := decide(lead1, o.ID, "approve"); st != http.StatusForbidden {
		t.Fatalf("a lead approving: %d; want 403", st)
	}
	if n := reviews(); n != 1 {
		t.Fatalf("%d reviews after an override with one person's say; want only the earlier 1", n)
	}
	if st, r := decide(war2, o.ID, "reject"); st != http.StatusOK || r.State != console.OverrideRejected {
		t.Fatalf("reject: %d %+v", st, r)
	}
	if st, _ := decide(war2, o.ID, "approve"); st != http.StatusConflict {
		t.Fatalf("approving a rejected override: %d; want 409", st)
	}
	st, o = correct(war, unsourced)
	if st != http.StatusAccepted {
		t.Fatalf("second request: %d", st)
	}
	// The list shows it to the war room, with the requester.
	st, body, _ := do(t, http.MethodGet, p.console+"/v1/overrides", war2, nil)
	if st != http.StatusOK || !strings.Contains(string(body), o.ID) || !strings.Contains(string(body), `"requested_by":"war-room-1"`) {
		t.Fatalf("pending list: %d %s", st, body)
	}
	if st, r := decide(war2, o.ID, "approve"); st != http.StatusOK || r.State != console.OverrideApplied {
		t.Fatalf("second person's approval: %d %+v", st, r)
	}
	waitFor(t, "S21 verified with the approved figures", func() bool { return p.status("S21", "constituency") == "verified" })
	// The status and the review row come from two topics and two sink rounds: wait for the row.
	var reviewer, reason string
	var err error
	waitFor(t, "S21's review row in ClickHouse", func() bool {
		row := p.ch.Conn.QueryRow(context.Background(), fmt.Sprintf("SELECT reviewer_id, reason FROM `%s`.reviews WHERE station_id = 'S21'", p.ch.Database))
		err = row.Scan(&reviewer, &reason)
		return err == nil
	})
	if err != nil || reviewer != "war-room-2" || !strings.Contains(reason, "requested by war-room-1, approved by war-room-2") {
		t.Fatalf("review: %q %q (%v); want war-room-2 with both names in the reason", reviewer, reason, err)
	}
}
