package simulate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"votestream/election"
	"votestream/schemas"
)

func newNight(t *testing.T, cfg Config) (*Simulation, *Night) {
	t.Helper()
	s, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Night()
	if err != nil {
		t.Fatal(err)
	}
	return s, n
}

func noFaults(c *Config) {
	c.Night.Faults = FaultRates{}
	c.Night.DropoutRate = 0
}

func wireVotes(tl election.Tally) map[string]int {
	out := map[string]int{}
	for no, v := range tl.Votes {
		if v > 0 {
			out[strconv.Itoa(no)] = v
		}
	}
	return out
}

func sameVotes(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func consistent(s schemas.Submission) bool {
	sum := s.Invalid + s.NoVote
	for _, v := range s.Votes {
		sum += v
	}
	return sum == s.BallotsCast
}

// matchesTruth reports whether a submission carries the true final count.
func matchesTruth(tr *Truth, station int, s schemas.Submission) bool {
	tl := tr.Tally(station, election.Ballot(s.Ballot))
	return s.BallotsCast == tl.BallotsCast && s.Invalid == tl.Invalid && s.NoVote == tl.NoVote && sameVotes(s.Votes, wireVotes(tl))
}

func stationIndex(c *election.Country) map[string]int {
	m := make(map[string]int, len(c.Stations))
	for i, s := range c.Stations {
		m[s.ID] = i
	}
	return m
}

func TestHonestNight(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		cfg := SmallConfig(seed)
		noFaults(&cfg)
		s, n := newNight(t, cfg)
		idx := stationIndex(s.Country)
		close := n.Close()

		// The roster: 0-3 volunteers per station, from different organisations.
		orgsAt := map[string][]string{}
		for _, v := range n.Volunteers() {
			if len(v.Stations) < 1 || len(v.Stations) > 3 {
				t.Errorf("volunteer %s assigned %d stations", v.ID, len(v.Stations))
			}
			for _, st := range v.Stations {
				if slices.Contains(orgsAt[st], v.Org) {
					t.Errorf("station %s has two volunteers of %s", st, v.Org)
				}
				orgsAt[st] = append(orgsAt[st], v.Org)
			}
		}
		for st, orgs := range orgsAt {
			if len(orgs) > 3 {
				t.Errorf("station %s has %d volunteers", st, len(orgs))
			}
		}

		type source struct {
			vol, station, ballot string
		}
		finals := map[source]int{}
		last := map[source]schemas.Submission{}
		boards := map[string]string{} // station/ballot/cast -> figures: one board at a time
		ids := map[string]bool{}
		var prevAt = close
		for e := range n.Events() {
			sub := e.Submission
			src := source{e.Volunteer.ID, sub.StationID, sub.Ballot}
			if len(e.Faults) > 0 {
				t.Fatalf("fault labels with every rate at 0: %+v", e.Faults)
			}
			if e.At.Before(prevAt) {
				t.Fatalf("event at %v after one at %v: not in time order", e.At, prevAt)
			}
			prevAt = e.At
			if ids[sub.SubmissionID] {
				t.Fatalf("submission id %s used twice without a duplicate fault", sub.SubmissionID)
			}
			ids[sub.SubmissionID] = true
			if !slices.Contains(e.Volunteer.Stations, sub.StationID) {
				t.Fatalf("volunteer %s reports %s outside their assignment %v", e.Volunteer.ID, sub.StationID, e.Volunteer.Stations)
			}
			if sub.CountedAt.Before(close) || sub.CountedAt.After(e.At) {
				t.Fatalf("counted_at %v outside [close %v, sent %v]", sub.CountedAt, close, e.At)
			}
			if !consistent(sub) {
				t.Fatalf("honest submission breaks the arithmetic: %+v", sub)
			}
			if len(sub.Evidence) != 1 {
				t.Fatalf("submission with %d photos", len(sub.Evidence))
			}
			i := idx[sub.StationID]
			if eligible := s.Country.Stations[i].EligibleVoters; sub.BallotsCast > eligible {
				t.Fatalf("ballots cast %d above eligible %d", sub.BallotsCast, eligible)
			}
			switch sub.Stage {
			case schemas.StageFinal:
				finals[src]++
				if !matchesTruth(s.Truth, i, sub) {
					t.Fatalf("honest final differs from the truth: %+v", sub)
				}
			case schemas.StageProgress:
				if finals[src] > 0 {
					t.Fatalf("progress after the final from %v", src)
				}
				final := s.Truth.Tally(i, election.Ballot(sub.Ballot))
				if sub.BallotsCast >= final.BallotsCast || sub.Invalid > final.Invalid || sub.NoVote > final.NoVote {
					t.Fatalf("progress %+v beyond the final %+v", sub, final)
				}
				for k, v := range sub.Votes {
					no, _ := strconv.Atoi(k)
					if v > final.Votes[no] {
						t.Fatalf("progress votes[%s] = %d beyond the final %d", k, v, final.Votes[no])
					}
				}
				key := fmt.Sprintf("%s/%s/%d", sub.StationID, sub.Ballot, sub.BallotsCast)
				fig, _ := json.Marshal([]any{sub.Invalid, sub.NoVote, sub.Votes})
				if prev, ok := boards[key]; ok && prev != string(fig) {
					t.Fatalf("two photos of %s's board at %d papers disagree: %s and %s", sub.StationID, sub.BallotsCast, prev, fig)
				}
				boards[key] = string(fig)
			default:
				t.Fatalf("stage %q", sub.Stage)
			}
			if prev, ok := last[src]; ok {
				if sub.BallotsCast <= prev.BallotsCast || sub.Invalid < prev.Invalid || sub.NoVote < prev.NoVote {
					t.Fatalf("a count went down from %+v to %+v", prev, sub)
				}
				for k, v := range prev.Votes {
					if sub.Votes[k] < v {
						t.Fatalf("votes[%s] went down from %d to %d", k, v, sub.Votes[k])
					}
				}
			}
			last[src] = sub
		}
		// Without drop-outs every volunteer sends exactly one final per station and ballot.
		for _, v := range n.Volunteers() {
			for _, st := range v.Stations {
				for _, b := range election.Ballots {
					if got := finals[source{v.ID, st, string(b)}]; got != 1 {
						t.Fatalf("volunteer %s, station %s, %s: %d finals, want 1", v.ID, st, b, got)
					}
				}
			}
		}
	}
}

// within checks a count against rate x trials at four binomial standard deviations.
func within(t *testing.T, what string, got int, rate float64, trials int) {
	t.Helper()
	want := rate * float64(trials)
	sd := math.Sqrt(float64(trials) * rate * (1 - rate))
	if math.Abs(float64(got)-want) > 4*sd+1 {
		t.Errorf("%s: %d labels, want %.0f ± %.0f (rate %v of %d)", what, got, want, 4*sd+1, rate, trials)
	}
	t.Logf("%s: %d labels, expected %.0f", what, got, want)
}

func TestFaultLabels(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed = 11
	cfg.Country.Scale = 0.1
	cfg.Country.StationsScale = 0.5
	f := &cfg.Night.Faults
	f.Typo, f.SwappedDigits, f.NumberSwap, f.MissingParty, f.Falsification = 0.04, 0.03, 0.03, 0.03, 0.02
	f.Early, f.PhotoReuse, f.Duplicate, f.Correction = 0.02, 0.02, 0.05, 0.5
	f.Spread, f.SpreadStations = 0.01, 5
	s, n := newNight(t, cfg)
	idx := stationIndex(s.Country)
	close := n.Close()
	cands := func(station string) []election.Candidate {
		return s.Country.CandidatesIn(s.Country.Stations[idx[station]].ConstituencyID)
	}

	seen := map[string][]byte{}                 // submission id -> body
	finalsBy := map[string]schemas.Submission{} // submission id -> final
	faultyFinal := map[string]bool{}
	formPhotos := map[string]string{} // evidence -> station of a final
	counts := map[FaultKind]int{}
	originals, originalFinals, spreaders := 0, 0, map[string]bool{}
	for e := range n.Events() {
		sub := e.Submission
		body, _ := json.Marshal(sub)
		i := idx[sub.StationID]
		kinds := map[FaultKind]bool{}
		for _, fl := range e.Faults {
			kinds[fl.Kind] = true
			counts[fl.Kind]++
			if fl.SubmissionID != sub.SubmissionID || fl.StationID != sub.StationID || string(fl.Ballot) != sub.Ballot || fl.VolunteerID != e.Volunteer.ID {
				t.Fatalf("label %+v does not name its submission %s at %s", fl, sub.SubmissionID, sub.StationID)
			}
		}
		if kinds[FaultDuplicate] {
			if len(e.Faults) != 1 {
				t.Fatalf("a resend carries more than its DUPLICATE label: %+v", e.Faults)
			}
			if prev, ok := seen[sub.SubmissionID]; !ok || string(prev) != string(body) {
				t.Fatalf("DUPLICATE %s does not resend an earlier identical body", sub.SubmissionID)
			}
			continue
		}
		if _, dup := seen[sub.SubmissionID]; dup {
			t.Fatalf("submission id %s reused without a DUPLICATE label", sub.SubmissionID)
		}
		seen[sub.SubmissionID] = body
		originals++
		if sub.Stage != schemas.StageFinal {
			if len(e.Faults) > 0 {
				t.Fatalf("a progress report carries labels %+v", e.Faults)
			}
			continue
		}
		content := false
		for _, fl := range e.Faults {
			truth := s.Truth.Tally(i, election.Ballot(sub.Ballot))
			switch fl.Kind {
			case FaultTypo, FaultSwappedDigits, FaultMissingParty:
				content = true
				if consistent(sub) || fl.Anomaly != schemas.AnomalyArith {
					t.Errorf("%s (%s) should break the arithmetic and expect ARITH: %+v", fl.Kind, fl.Detail, sub)
				}
			case FaultNumberSwap:
				content = true
				if !consistent(sub) || matchesTruth(s.Truth, i, sub) || fl.Anomaly != schemas.AnomalyNumberSwap {
					t.Errorf("NUMBER_SWAP should keep the arithmetic, change the keys and expect NUMBER_SWAP: %+v", sub)
				}
				offBallot := false
				for k := range sub.Votes {
					no, _ := strconv.Atoi(k)
					if !s.Country.ValidNumber(s.Country.Stations[i].ConstituencyID, election.Ballot(sub.Ballot), no) {
						offBallot = true
					}
				}
				if offBallot != fl.MayBeRefused {
					t.Errorf("NUMBER_SWAP with numbers off the ballot %v but MayBeRefused %v", offBallot, fl.MayBeRefused)
				}
				if sub.Ballot == string(election.BallotPartyList) {
					for _, d := range cands(sub.StationID) {
						if truth.Votes[d.PartyNo] > 0 && d.No != d.PartyNo && sub.Votes[strconv.Itoa(d.No)] < truth.Votes[d.PartyNo] {
							t.Errorf("party-list NUMBER_SWAP did not key party %d's votes under candidate number %d", d.PartyNo, d.No)
						}
					}
				}
			case FaultFalsification:
				content = true
				if !consistent(sub) || matchesTruth(s.Truth, i, sub) {
					t.Errorf("FALSIFICATION should keep the arithmetic and change the votes: %+v", sub)
				}
				if fl.Anomaly != schemas.AnomalyConflict && fl.Anomaly != schemas.AnomalyShareOutlier {
					t.Errorf("FALSIFICATION expects %q", fl.Anomaly)
				}
			case FaultEarly:
				if !sub.CountedAt.Before(close) || fl.Anomaly != schemas.AnomalyEarly {
					t.Errorf("EARLY counted at %v, close %v", sub.CountedAt, close)
				}
			case FaultPhotoReuse:
				if fl.Related == sub.StationID || fl.Anomaly != schemas.AnomalyPhotoReuse {
					t.Errorf("PHOTO_REUSE of the same station %+v", fl)
				}
			case FaultCorrection:
				prev, ok := finalsBy[fl.Related]
				if !ok || !faultyFinal[fl.Related] || prev.StationID != sub.StationID || prev.Ballot != sub.Ballot {
					t.Errorf("LATE_CORRECTION %s does not follow a faulty final %s of the same station and ballot", sub.SubmissionID, fl.Related)
				}
				if !matchesTruth(s.Truth, i, sub) || fl.Anomaly != "" {
					t.Errorf("LATE_CORRECTION should carry the true count: %+v", sub)
				}
			case FaultSpread:
				spreaders[e.Volunteer.ID] = true
				if slices.Contains(e.Volunteer.Stations, sub.StationID) || fl.Anomaly != schemas.AnomalySpread || !fl.MayBeRefused {
					t.Errorf("SPREAD inside the assignment: %+v", fl)
				}
			default:
				t.Errorf("unexpected label %+v", fl)
			}
		}
		if !content && !matchesTruth(s.Truth, i, sub) {
			t.Fatalf("a final without a content fault differs from the truth: %+v, %+v", sub, e.Faults)
		}
		if !kinds[FaultCorrection] && !kinds[FaultSpread] {
			originalFinals++
		}
		finalsBy[sub.SubmissionID] = sub
		faultyFinal[sub.SubmissionID] = content
		if !kinds[FaultPhotoReuse] {
			formPhotos[sub.Evidence[0]] = sub.StationID
		}
	}
	// Every reused photo is one another station's final carried.
	for e := range n.Events() {
		for _, fl := range e.Faults {
			if fl.Kind == FaultPhotoReuse && formPhotos[e.Submission.Evidence[0]] != fl.Related {
				t.Errorf("PHOTO_REUSE at %s carries a photo not sent for %s", fl.StationID, fl.Related)
			}
		}
	}

	within(t, "TYPO+SWAPPED_DIGITS", counts[FaultTypo]+counts[FaultSwappedDigits], f.Typo+f.SwappedDigits, originalFinals)
	within(t, "SWAPPED_DIGITS", counts[FaultSwappedDigits], f.SwappedDigits, originalFinals)
	within(t, "NUMBER_SWAP", counts[FaultNumberSwap], f.NumberSwap, originalFinals)
	within(t, "MISSING_PARTY", counts[FaultMissingParty], f.MissingParty, originalFinals)
	within(t, "FALSIFICATION", counts[FaultFalsification], f.Falsification, originalFinals)
	within(t, "EARLY", counts[FaultEarly], f.Early, originalFinals)
	within(t, "PHOTO_REUSE", counts[FaultPhotoReuse], f.PhotoReuse, originalFinals)
	within(t, "DUPLICATE", counts[FaultDuplicate], f.Duplicate, originals)
	correctable := counts[FaultTypo] + counts[FaultSwappedDigits] + counts[FaultNumberSwap] + counts[FaultMissingParty]
	within(t, "LATE_CORRECTION", counts[FaultCorrection], f.Correction, correctable)
	within(t, "spreading volunteers", len(spreaders), f.Spread, len(n.Volunteers()))
	if counts[FaultSpread] != f.SpreadStations*len(spreaders) {
		t.Errorf("%d SPREAD labels from %d volunteers, want %d each", counts[FaultSpread], len(spreaders), f.SpreadStations)
	}

	// Faults() is the same set of labels as the stream's.
	total := 0
	for _, c := range counts {
		total += c
	}
	if got := len(n.Faults()); got != total {
		t.Errorf("Faults() has %d labels, the events %d", got, total)
	}
}
