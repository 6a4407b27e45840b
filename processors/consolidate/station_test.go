package consolidate

import (
	"fmt"
	"slices"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

// Figures used below, worked by hand (constituency ballot of S01, 600 eligible voters):
//
//	F1 = 500 cast, 10 invalid, 5 no vote, 1:250 2:150 3:85   (485 + 15 = 500)
//	F2 = 500 cast, 10 invalid, 5 no vote, 1:240 2:160 3:85   (485 + 15 = 500)
//	F3 = 500 cast, 10 invalid, 5 no vote, 1:245 2:155 3:85   (485 + 15 = 500)
//	FA = 500 cast, 10 invalid, 5 no vote, 1:250 2:150 3:95   (495 + 15 = 510: ARITH)
//	FO = 700 cast, 10 invalid, 5 no vote, 1:400 2:200 3:85   (685 + 15 = 700 > 600: OVER_ELIGIBLE)
//	P1 = 200 cast, 4 invalid, 2 no vote, 1:100 2:60 3:34     (194 + 6 = 200), a tally board
//	P2 = 350 cast, 7 invalid, 3 no vote, 1:175 2:105 3:60    (340 + 10 = 350)
const (
	keyF1 = "500/10/5 1:250 2:150 3:85"
	keyF2 = "500/10/5 1:240 2:160 3:85"
	keyF3 = "500/10/5 1:245 2:155 3:85"
	keyFA = "500/10/5 1:250 2:150 3:95"
	keyFO = "700/10/5 1:400 2:200 3:85"
	keyP1 = "200/4/2 1:100 2:60 3:34"
	keyP2 = "350/7/3 1:175 2:105 3:60"
)

const (
	c     = "constituency"
	pl    = "partylist"
	prog  = schemas.StageProgress
	final = schemas.StageFinal
)

func f1(b *rb) *rb { return b.figs(500, 10, 5, 1, 250, 2, 150, 3, 85) }
func f2(b *rb) *rb { return b.figs(500, 10, 5, 1, 240, 2, 160, 3, 85) }
func fA(b *rb) *rb { return b.figs(500, 10, 5, 1, 250, 2, 150, 3, 95) }
func p1(b *rb) *rb { return b.figs(200, 4, 2, 1, 100, 2, 60, 3, 34) }
func p2(b *rb) *rb { return b.figs(350, 7, 3, 1, 175, 2, 105, 3, 60) }

func review(id, by, role string, minute_ int) schemas.Review {
	return schemas.Review{ReviewID: id, StationID: "S01", Ballot: c, Reason: "checked the form photo",
		ReviewerID: by, Role: role, ReceivedAt: minute(minute_)}
}

func TestApply(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	in := func(b *rb) Input { return b.in(t, cc) }
	rev := func(r schemas.Review) Input {
		x, err := NewReview(r, cc)
		if err != nil {
			t.Fatal(err)
		}
		return Input{Review: x}
	}
	off := func(id string, m int, b *rb) Input {
		o, err := NewOfficial(schemas.Official{OfficialID: id, StationID: "S01", Ballot: c,
			BallotsCast: b.r.BallotsCast, Invalid: b.r.Invalid, NoVote: b.r.NoVote, Votes: b.r.Votes,
			EnteredBy: "lead-1", Role: schemas.RoleDistrictLead, ReceivedAt: minute(m)}, cc)
		if err != nil {
			t.Fatal(err)
		}
		return Input{Official: o}
	}
	accept := func(id, by, role string, m int, sub string) Input {
		r := review(id, by, role, m)
		r.AcceptSubmissionID = sub
		return rev(r)
	}
	enter := func(id, by, role string, m int) Input {
		r := review(id, by, role, m)
		r.BallotsCast, r.Invalid, r.NoVote = ip(500), ip(10), ip(5)
		r.Votes = map[string]int{"1": 245, "2": 155, "3": 85}
		return rev(r)
	}

	tests := []struct {
		name      string
		inputs    []Input
		status    schemas.Status
		stage     schemas.Stage
		figures   string
		sources   []string
		codes     []string
		decidedBy string
		versions  int      // results published for S01 constituency, numbered 1..versions
		raised    []string // codes of the anomalies raised, in order
	}{
		{
			name:   "one tally board",
			inputs: []Input{in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10)))},
			status: schemas.StatusProvisional, stage: prog, figures: keyP1, sources: []string{"a1"}, versions: 1,
		},
		{
			name: "re-delivery of a submission id changes nothing",
			inputs: []Input{
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10))),
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10))),
			},
			status: schemas.StatusProvisional, stage: prog, figures: keyP1, sources: []string{"a1"}, versions: 1,
		},
		{
			name: "re-send of the same figures under a new id changes nothing",
			inputs: []Input{
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10)).counted(9)),
				in(p1(report("a2", "S01", c, prog, "alice", "OrgA", 12)).counted(9)),
				in(f1(report("a3", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("a4", "S01", c, final, "alice", "OrgA", 31))),
			},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"a3"}, versions: 2,
		},
		{
			name: "tally boards advance the provisional figure",
			inputs: []Input{
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10))),
				in(p2(report("a2", "S01", c, prog, "alice", "OrgA", 20))),
			},
			status: schemas.StatusProvisional, stage: prog, figures: keyP2, sources: []string{"a2"}, versions: 2,
		},
		{
			name: "the most advanced tally board of any volunteer leads",
			inputs: []Input{
				in(p2(report("a1", "S01", c, prog, "alice", "OrgA", 20))),
				in(p1(report("b1", "S01", c, prog, "bob", "OrgB", 21))),
			},
			status: schemas.StatusProvisional, stage: prog, figures: keyP2, sources: []string{"a1"}, versions: 1,
		},
		{
			name: "a final form supersedes tally boards",
			inputs: []Input{
				in(p2(report("a1", "S01", c, prog, "alice", "OrgA", 20))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 30))),
			},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"b1"}, versions: 2,
		},
		{
			name: "two organisations agreeing corroborate",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"}, versions: 2,
		},
		{
			name: "two volunteers of one organisation are not independent",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgA", 31))),
			},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"a1", "b1"}, versions: 2,
		},
		{
			// Somchai is listed by OrgA and OrgB (one phone, so one person hash) and sends
			// the same form with both tokens: still one source.
			name: "one person through two organisations does not corroborate",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "OrgA/somchai", "OrgA", 30)).person(personP)),
				in(f1(report("b1", "S01", c, final, "OrgB/7", "OrgB", 31)).person(personP)),
			},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"a1", "b1"}, versions: 2,
		},
		{
			name: "two people of two organisations corroborate",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "OrgA/somchai", "OrgA", 30)).person(personP)),
				in(f1(report("b1", "S01", c, final, "OrgB/somsri", "OrgB", 31)).person(personQ)),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"}, versions: 2,
		},
		{
			// Somchai (OrgA and OrgB) and Somsri (OrgA): Somsri for OrgA, Somchai for OrgB
			// are two people of two organisations. v3: Somsri's form adds a source.
			name: "one person of two organisations and another of one corroborate",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "OrgA/somchai", "OrgA", 30)).person(personP)),
				in(f1(report("b1", "S01", c, final, "OrgB/7", "OrgB", 31)).person(personP)),
				in(f1(report("c1", "S01", c, final, "OrgA/somsri", "OrgA", 32)).person(personQ)),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1", "c1"}, versions: 3,
		},
		{
			// F1 from two volunteers of OrgA: one independent source. F2 from Somchai through
			// OrgB and OrgC: also one, not two. Tied, and two volunteers each, so the first
			// seen (F1) leads; counting organisations alone would have shown F2. c1 joins a
			// side without changing what is shown: no new version, no new CONFLICT.
			name: "in a conflict one person's two organisations count once",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("d1", "S01", c, final, "dave", "OrgA", 31))),
				in(f2(report("b1", "S01", c, final, "OrgB/7", "OrgB", 32)).person(personP)),
				in(f2(report("c1", "S01", c, final, "OrgC/somchai", "OrgC", 33)).person(personP)),
			},
			status: schemas.StatusDisputed, stage: final, figures: keyF1, sources: []string{"a1", "d1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			name: "a volunteer's correction replaces their earlier figures",
			inputs: []Input{
				in(fA(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("a2", "S01", c, final, "alice", "OrgA", 40))),
			},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"a2"}, versions: 2,
			raised: []string{"ARITH"},
		},
		{
			name:   "an arithmetic error disputes",
			inputs: []Input{in(fA(report("a1", "S01", c, final, "alice", "OrgA", 30)))},
			status: schemas.StatusDisputed, stage: final, figures: keyFA, sources: []string{"a1"},
			codes: []string{"ARITH"}, versions: 1, raised: []string{"ARITH"},
		},
		{
			name:   "more ballots than eligible voters disputes",
			inputs: []Input{in(report("a1", "S01", c, final, "alice", "OrgA", 30).figs(700, 10, 5, 1, 400, 2, 200, 3, 85))},
			status: schemas.StatusDisputed, stage: final, figures: keyFO, sources: []string{"a1"},
			codes: []string{"OVER_ELIGIBLE"}, versions: 1, raised: []string{"OVER_ELIGIBLE"},
		},
		{
			name: "finals that disagree conflict; a tie keeps the first seen",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
			},
			status: schemas.StatusDisputed, stage: final, figures: keyF1, sources: []string{"a1"},
			codes: []string{"CONFLICT"}, versions: 2, raised: []string{"CONFLICT"},
		},
		{
			// Before the lone-dissent rule this was disputed: one organisation's final took
			// the count of two others away. Now the figures of OrgB and OrgC lead and stand;
			// CONFLICT is raised and stays open, for review.
			name: "in a conflict the figures with more organisations lead; a lone dissent does not dispute them",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("c1", "S01", c, final, "carol", "OrgC", 32))),
			},
			// Two CONFLICT records: the dispute (a1 against b1), then the lone dissent.
			status: schemas.StatusCorroborated, stage: final, figures: keyF2, sources: []string{"b1", "c1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT", "CONFLICT"},
		},
		{
			name: "a lone dissent arriving after the corroboration flags without disputing",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("r1", "S01", c, final, "rex", "OrgR", 32))),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			// Two volunteers of one organisation are one source, in dissent as in agreement.
			name: "two volunteers of one organisation dissenting are a lone dissent",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("r1", "S01", c, final, "rex", "OrgR", 32)).person(personP)),
				in(f2(report("r2", "S01", c, final, "rita", "OrgR", 33)).person(personQ)),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			// One person through the tokens of two organisations is one source too.
			name: "one person dissenting through two organisations is a lone dissent",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("r1", "S01", c, final, "OrgR/rex", "OrgR", 32)).person(personP)),
				in(f2(report("s1", "S01", c, final, "OrgS/rex", "OrgS", 33)).person(personP)),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			// An organisation that corroborates can still be contradicted by one of its own:
			// OrgA is then one dissenting source, and OrgA's alice with OrgB's bob still two.
			name: "a dissent from one organisation of the corroboration is a lone dissent",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("d1", "S01", c, final, "dave", "OrgA", 32))),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			// Somchai corroborates F1 through OrgA and contradicts it through OrgC: without him
			// F1 has one source (Somsri), so the dissent is not against a corroboration.
			name: "a person who corroborates and dissents at once disputes",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "OrgA/somchai", "OrgA", 30)).person(personP)),
				in(f1(report("b1", "S01", c, final, "OrgB/somsri", "OrgB", 31)).person(personQ)),
				in(f2(report("c1", "S01", c, final, "OrgC/somchai", "OrgC", 32)).person(personP)),
			},
			status: schemas.StatusDisputed, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"CONFLICT"},
		},
		{
			name: "two independent sources dissenting dispute corroborated figures",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f1(report("e1", "S01", c, final, "erin", "OrgE", 32))),
				in(f2(report("c1", "S01", c, final, "carol", "OrgC", 33))),
				in(f2(report("d1", "S01", c, final, "dan", "OrgD", 34))),
			},
			status: schemas.StatusDisputed, stage: final, figures: keyF1, sources: []string{"a1", "b1", "e1"},
			// Two CONFLICT records: the lone dissent (c1), then the dispute (d1 joins).
			codes: []string{"CONFLICT"}, versions: 5, raised: []string{"CONFLICT", "CONFLICT"},
		},
		{
			// A dissenter's own errors are theirs: ARITH is raised on their report, but the
			// corroborated figures carry no ARITH and stand.
			name: "a lone dissent with an arithmetic error does not dispute either",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(fA(report("r1", "S01", c, final, "rex", "OrgR", 32))),
			},
			status: schemas.StatusCorroborated, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			codes: []string{"CONFLICT"}, versions: 3, raised: []string{"ARITH", "CONFLICT"},
		},
		{
			// A lone dissent leaves the station in the review queue; a lead's review closes it.
			name: "a review settles a lone dissent",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f1(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				in(f2(report("r1", "S01", c, final, "rex", "OrgR", 32))),
				accept("r-1", "lead-1", schemas.RoleDistrictLead, 50, "a1"),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF1, sources: []string{"a1", "b1"},
			decidedBy: "lead-1", versions: 4, raised: []string{"CONFLICT"},
		},
		{
			name: "a district lead's review accepting one source resolves a conflict",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				accept("r1", "lead-1", schemas.RoleDistrictLead, 50, "b1"),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF2, sources: []string{"b1"},
			decidedBy: "lead-1", versions: 3, raised: []string{"CONFLICT"},
		},
		{
			name: "the war room may enter corrected figures",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				enter("r1", "warroom-2", schemas.RoleWarRoom, 50),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF3, sources: nil,
			decidedBy: "warroom-2", versions: 3, raised: []string{"CONFLICT"},
		},
		{
			name: "a review waits for the submission it accepts",
			inputs: []Input{
				accept("r1", "lead-1", schemas.RoleDistrictLead, 29, "b1"),
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF2, sources: []string{"b1"},
			decidedBy: "lead-1", versions: 2, raised: []string{"CONFLICT"},
		},
		{
			name: "an official figure matching one side resolves a conflict",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				in(f2(report("b1", "S01", c, final, "bob", "OrgB", 31))),
				off("o1", 90, f2(&rb{})),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF2, sources: []string{"b1"},
			decidedBy: "official", versions: 3, raised: []string{"CONFLICT"},
		},
		{
			name: "an official figure matching no final disputes",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				off("o1", 90, f2(&rb{})),
			},
			status: schemas.StatusDisputed, stage: final, figures: keyF2, sources: nil,
			codes: []string{"OFFICIAL_MISMATCH"}, versions: 2, raised: []string{"OFFICIAL_MISMATCH"},
		},
		{
			name: "a review after an official mismatch verifies, the mismatch stays on record",
			inputs: []Input{
				in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30))),
				off("o1", 90, f2(&rb{})),
				accept("r1", "lead-1", schemas.RoleDistrictLead, 95, "a1"),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF1, sources: []string{"a1"},
			codes: []string{"OFFICIAL_MISMATCH"}, decidedBy: "lead-1", versions: 3,
			raised: []string{"OFFICIAL_MISMATCH"}, // the same official against the same figures
		},
		{
			name: "an official figure with only tally boards to compare verifies",
			inputs: []Input{
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 10))),
				off("o1", 90, f1(&rb{})),
			},
			status: schemas.StatusVerified, stage: final, figures: keyF1, sources: nil,
			decidedBy: "official", versions: 2,
		},
		{
			name:   "a count before polls closed is flagged, not disputed",
			inputs: []Input{in(f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).counted(-30))},
			status: schemas.StatusProvisional, stage: final, figures: keyF1, sources: []string{"a1"},
			codes: []string{"EARLY"}, versions: 1, raised: []string{"EARLY"},
		},
		{
			name: "a tally board that goes down is flagged; the higher one still leads",
			inputs: []Input{
				in(p2(report("a1", "S01", c, prog, "alice", "OrgA", 20))),
				in(p1(report("a2", "S01", c, prog, "alice", "OrgA", 25))),
			},
			status: schemas.StatusProvisional, stage: prog, figures: keyP2, sources: []string{"a1"},
			versions: 1, raised: []string{"REGRESSION"},
		},
		{
			name: "a regression on the leading tally board shows on the result",
			inputs: []Input{
				in(p1(report("a1", "S01", c, prog, "alice", "OrgA", 20)).counted(19)),
				in(report("a2", "S01", c, prog, "alice", "OrgA", 25).counted(24).figs(360, 7, 3, 1, 90, 2, 200, 3, 60)),
			},
			status: schemas.StatusProvisional, stage: prog, figures: "360/7/3 1:90 2:200 3:60", sources: []string{"a2"},
			codes: []string{"REGRESSION"}, versions: 2, raised: []string{"REGRESSION"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, out := run(t, rules, tc.inputs...)
			res := last(out, "S01", c)
			if res == nil {
				t.Fatalf("no result published; outputs %v", out)
			}
			if res.Status != tc.status || res.Stage != tc.stage || figuresOf(res) != tc.figures {
				t.Errorf("result %s %s %q, want %s %s %q", res.Status, res.Stage, figuresOf(res), tc.status, tc.stage, tc.figures)
			}
			if got := sourceIDs(res); !slices.Equal(got, tc.sources) {
				t.Errorf("sources %v, want %v", got, tc.sources)
			}
			if !slices.Equal(res.Anomalies, tc.codes) {
				t.Errorf("open codes %v, want %v", res.Anomalies, tc.codes)
			}
			if res.DecidedBy != tc.decidedBy {
				t.Errorf("decided_by %q, want %q", res.DecidedBy, tc.decidedBy)
			}
			var versions []int64
			for _, r := range results(out) {
				versions = append(versions, r.Version)
			}
			for i, v := range versions {
				if v != int64(i+1) {
					t.Errorf("versions %v, want 1..%d", versions, tc.versions)
					break
				}
			}
			if len(versions) != tc.versions {
				t.Errorf("%d results published, want %d", len(versions), tc.versions)
			}
			if got := raised(out); !slices.Equal(got, tc.raised) {
				t.Errorf("raised %v, want %v", got, tc.raised)
			}
			st, _ := l.Station(0, "S01")
			if got, want := len(st.Reports(election.BallotConstituency)), countReports(tc.inputs); got != want {
				t.Errorf("%d reports kept, want %d (every distinct submission)", got, want)
			}
		})
	}
}

// Person hashes of two people, as the roster writes them (64 lower-case hex digits).
const (
	personP = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	personQ = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	personR = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// Hand-worked counts of independent sources: the most reports that can be picked with no two
// from one organisation and no two from one person.
func TestIndependent(t *testing.T) {
	type src struct{ vol, org, person string }
	cases := []struct {
		name string
		srcs []src
		want int
	}{
		{"none", nil, 0},
		{"one", []src{{"a", "OrgA", personP}}, 1},
		{"two organisations, two people", []src{{"a", "OrgA", personP}, {"b", "OrgB", personQ}}, 2},
		{"two organisations, no person known", []src{{"a", "OrgA", ""}, {"b", "OrgB", ""}}, 2},
		{"one organisation, two people", []src{{"a", "OrgA", personP}, {"b", "OrgA", personQ}}, 1},
		{"one person, two organisations", []src{{"a", "OrgA", personP}, {"b", "OrgB", personP}}, 1},
		{"one volunteer id, two organisations", []src{{"a", "OrgA", ""}, {"a", "OrgB", ""}}, 1},
		// A re-issued token under another salt: the volunteer id still ties it to P, and P
		// ties it to b.
		{"one person through a volunteer id and a hash", []src{{"a", "OrgA", personP}, {"a", "OrgB", personR}, {"b", "OrgC", personP}}, 1},
		// P for OrgB, Q for OrgA.
		{"a person of two organisations and one of the first", []src{{"a", "OrgA", personP}, {"b", "OrgB", personP}, {"c", "OrgA", personQ}}, 2},
		// Q takes OrgA first; OrgA is P's only organisation, so Q moves to OrgB.
		{"matching must move an earlier pick", []src{{"q1", "OrgA", personQ}, {"q2", "OrgB", personQ}, {"p", "OrgA", personP}}, 2},
		{"three people, three organisations, one listed twice", []src{{"a", "OrgA", personP}, {"b", "OrgB", personQ}, {"c", "OrgC", personR}, {"d", "OrgC", personP}}, 3},
		// Without an organisation a volunteer stands alone, but is still one person.
		{"volunteers without organisation", []src{{"a", "", ""}, {"b", "", ""}}, 2},
		{"one person, once without organisation", []src{{"a", "", personP}, {"b", "OrgB", personP}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*Report
			for _, s := range tc.srcs {
				rs = append(rs, &Report{VolunteerID: s.vol, Org: s.org, Person: s.person})
			}
			if got := independent(rs); got != tc.want {
				t.Fatalf("independent = %d, want %d", got, tc.want)
			}
		})
	}
}

func countReports(ins []Input) int {
	ids := map[string]bool{}
	for _, in := range ins {
		if in.Report != nil {
			ids[in.Report.SubmissionID] = true
		}
	}
	return len(ids)
}

// Apply must not change the state it was given: a caller keeps it to roll back.
func TestApplyLeavesItsInputAlone(t *testing.T) {
	rules := testRules(t)
	st, _ := rules.NewStation("S01")
	st, _ = rules.Apply(st, f1(report("a1", "S01", c, final, "alice", "OrgA", 30)).in(t, rules.Country))
	before, _ := st.Result(election.BallotConstituency)
	beforeReports := len(st.Reports(election.BallotConstituency))
	next, out := rules.Apply(st, f2(report("b1", "S01", c, final, "bob", "OrgB", 31)).in(t, rules.Country))
	if len(out) == 0 {
		t.Fatal("the conflicting final published nothing")
	}
	after, _ := st.Result(election.BallotConstituency)
	if after.Version != before.Version || len(st.Reports(election.BallotConstituency)) != beforeReports || len(st.raised) != 0 {
		t.Errorf("the old state changed: version %d -> %d, reports %d -> %d, raised %d",
			before.Version, after.Version, beforeReports, len(st.Reports(election.BallotConstituency)), len(st.raised))
	}
	if r, _ := next.Result(election.BallotConstituency); r.Version != 2 || r.Status != schemas.StatusDisputed {
		t.Errorf("new state: version %d status %s, want 2 disputed", r.Version, r.Status)
	}
}

func TestReviewRoles(t *testing.T) {
	cc := testCountry(t)
	for _, tc := range []struct {
		role string
		ok   bool
	}{
		{schemas.RoleDistrictLead, true},
		{schemas.RoleWarRoom, true},
		{schemas.RoleStation, false},
		{"", false},
	} {
		r := review("r1", "x", tc.role, 50)
		r.AcceptSubmissionID = "a1"
		_, err := NewReview(r, cc)
		if (err == nil) != tc.ok {
			t.Errorf("review from %q: err %v, want ok=%v", tc.role, err, tc.ok)
		}
		o := schemas.Official{OfficialID: "o1", StationID: "S01", Ballot: c, BallotsCast: 1, Votes: map[string]int{"1": 1},
			EnteredBy: "x", Role: tc.role, ReceivedAt: minute(50)}
		_, err = NewOfficial(o, cc)
		if (err == nil) != tc.ok {
			t.Errorf("official from %q: err %v, want ok=%v", tc.role, err, tc.ok)
		}
	}
	r := review("r2", "x", schemas.RoleWarRoom, 50)
	r.AcceptSubmissionID = "a1"
	r.BallotsCast = ip(3)
	if _, err := NewReview(r, cc); err == nil {
		t.Error("a review both accepting and entering figures was accepted")
	}
	r = review("r3", "x", schemas.RoleWarRoom, 50)
	r.BallotsCast = ip(3)
	if _, err := NewReview(r, cc); err == nil {
		t.Error("a review with ballots_cast but no invalid or no_vote was accepted")
	}
	r = review("r4", "x", schemas.RoleDistrictLead, 50)
	r.Escalate, r.AcceptSubmissionID = true, "a1"
	if _, err := NewReview(r, cc); err == nil {
		t.Error("a review both escalating and accepting was accepted")
	}
}

// An escalation asks the war room; it decides nothing, so a disputed result stays disputed
// and nothing is published.
func TestEscalationChangesNothing(t *testing.T) {
	rules := testRules(t)
	cc := rules.Country
	var st Station
	for _, b := range []*rb{
		report("s1", "S01", c, schemas.StageFinal, "alice", "OrgA", 30).figs(500, 5, 5, 1, 300, 2, 190),
		report("s2", "S01", c, schemas.StageFinal, "bob", "OrgB", 31).figs(500, 5, 5, 1, 190, 2, 300),
	} {
		st, _ = rules.Apply(st, b.in(t, cc))
	}
	r := review("e1", "lead", schemas.RoleDistrictLead, 40)
	r.Escalate = true
	x, err := NewReview(r, cc)
	if err != nil {
		t.Fatal(err)
	}
	next, out := rules.Apply(st, Input{Review: x})
	if len(out) != 0 {
		t.Fatalf("an escalation published %d outputs; want none", len(out))
	}
	if got, want := fmt.Sprint(next), fmt.Sprint(st); got != want {
		t.Fatalf("an escalation changed the station:\n%s\nwant\n%s", got, want)
	}
}
