package ingest

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"votestream/election"
	"votestream/schemas"
)

// Limits of the submission v1 schema (schemas/json/submission.v1.json).
const (
	maxIDLen       = 64
	maxCount       = 1000000
	maxEvidence    = 32
	maxReasonBytes = 2000
)

// submissionWire is submission v1 as it arrives. Pointers tell a missing (or null) field
// from a zero.
type submissionWire struct {
	SubmissionID *string        `json:"submission_id"`
	StationID    *string        `json:"station_id"`
	Ballot       *string        `json:"ballot"`
	Stage        *string        `json:"stage"`
	CountedAt    *string        `json:"counted_at"`
	BallotsCast  *int           `json:"ballots_cast"`
	Invalid      *int           `json:"invalid"`
	NoVote       *int           `json:"no_vote"`
	Votes        map[string]int `json:"votes"`
	Evidence     []string       `json:"evidence"`
}

// validator checks bodies against the reference data. It holds no state of its own beyond
// the (read-only, indexed) Country, so it is safe for concurrent use.
type validator struct {
	country *election.Country
	skew    time.Duration
}

// submission checks a decoded submission and returns it with its station. Checks run in a
// fixed order (form first, then reference data, then time), and within votes the smallest
// offending key is reported, so the same body always gets the same code.
func (v *validator) submission(w *submissionWire, now time.Time) (schemas.Submission, election.Station, *APIError) {
	var s schemas.Submission
	switch {
	case w.SubmissionID == nil:
		return s, election.Station{}, missing("submission_id")
	case w.StationID == nil:
		return s, election.Station{}, missing("station_id")
	case w.Ballot == nil:
		return s, election.Station{}, missing("ballot")
	case w.Stage == nil:
		return s, election.Station{}, missing("stage")
	case w.CountedAt == nil:
		return s, election.Station{}, missing("counted_at")
	case w.BallotsCast == nil:
		return s, election.Station{}, missing("ballots_cast")
	case w.Invalid == nil:
		return s, election.Station{}, missing("invalid")
	case w.NoVote == nil:
		return s, election.Station{}, missing("no_vote")
	case w.Votes == nil:
		return s, election.Station{}, missing("votes")
	}
	if e := checkUUID("submission_id", *w.SubmissionID); e != nil {
		return s, election.Station{}, e
	}
	if e := checkID("station_id", *w.StationID); e != nil {
		return s, election.Station{}, e
	}
	ballot := election.Ballot(*w.Ballot)
	if !ballot.Valid() {
		return s, election.Station{}, apiErr(CodeInvalidValue, "ballot", "ballot %q: want \"constituency\" or \"partylist\"", clip(*w.Ballot))
	}
	stage := schemas.Stage(*w.Stage)
	if stage != schemas.StageProgress && stage != schemas.StageFinal {
		return s, election.Station{}, apiErr(CodeInvalidValue, "stage", "stage %q: want \"progress\" or \"final\"", clip(*w.Stage))
	}
	countedAt, e := parseTime("counted_at", *w.CountedAt)
	if e != nil {
		return s, election.Station{}, e
	}
	if e := checkFigures(*w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes); e != nil {
		return s, election.Station{}, e
	}
	if e := checkEvidence(w.Evidence); e != nil {
		return s, election.Station{}, e
	}
	st, e := v.ballotFigures(*w.StationID, ballot, *w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes)
	if e != nil {
		return s, election.Station{}, e
	}
	if countedAt.After(now.Add(v.skew)) {
		return s, election.Station{}, apiErr(CodeCountedAtFuture, "counted_at",
			"counted_at %s is in the future (server time %s); check the phone's clock",
			countedAt.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	s = schemas.Submission{
		SubmissionID: *w.SubmissionID,
		StationID:    *w.StationID,
		Ballot:       *w.Ballot,
		Stage:        stage,
		CountedAt:    countedAt,
		BallotsCast:  *w.BallotsCast,
		Invalid:      *w.Invalid,
		NoVote:       *w.NoVote,
		Votes:        w.Votes,
		Evidence:     w.Evidence,
	}
	return s, st, nil
}

// ballotFigures checks figures of one ballot against the station: it exists, every votes
// key is on its ballot, and no count exceeds its eligible voters. The sum is not checked:
// an arithmetic inconsistency is accepted and flagged downstream (ARITH), since the form
// itself may be wrong.
func (v *validator) ballotFigures(stationID string, ballot election.Ballot, cast, invalid, noVote int, votes map[string]int) (election.Station, *APIError) {
	st, ok := v.country.StationByID(stationID)
	if !ok {
		return st, apiErr(CodeUnknownStation, "station_id", "station %q is not in the reference data", clip(stationID))
	}
	bad := ""
	for k := range votes {
		no, _ := strconv.Atoi(k) // form checked by checkFigures
		if !v.country.ValidNumber(st.ConstituencyID, ballot, no) && (bad == "" || lessNumber(k, bad)) {
			bad = k
		}
	}
	if bad != "" {
		what := "party number %s is not on the party-list ballot"
		if ballot == election.BallotConstituency {
			what = "candidate number %s is not on the ballot of constituency " + st.ConstituencyID
		}
		return st, apiErr(CodeNotOnBallot, "votes."+bad, what, bad)
	}
	el := st.EligibleVoters
	above := func(field string, n int) *APIError {
		return apiErr(CodeAboveEligible, field, "%s is %d, above the %d eligible voters of station %s", field, n, el, st.ID)
	}
	switch {
	case cast > el:
		return st, above("ballots_cast", cast)
	case invalid > el:
		return st, above("invalid", invalid)
	case noVote > el:
		return st, above("no_vote", noVote)
	}
	for k, n := range votes {
		if n > el && (bad == "" || lessNumber(k, bad)) {
			bad = k
		}
	}
	if bad != "" {
		return st, above("votes."+bad, votes[bad])
	}
	return st, nil
}

// lessNumber orders canonical decimal strings numerically.
func lessNumber(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func missing(field string) *APIError {
	return apiErr(CodeMissingField, field, "field %s is required", field)
}

// clip keeps echoed values short in messages.
func clip(s string) string {
	if len(s) <= 70 {
		return s
	}
	for i := 64; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

func checkUUID(field, s string) *APIError {
	if len(s) != 36 {
		return apiErr(CodeInvalidValue, field, "%s %q is not a UUID (36 characters, e.g. 3f1c…-…)", field, clip(s))
	}
	if _, err := uuid.Parse(s); err != nil {
		return apiErr(CodeInvalidValue, field, "%s %q is not a UUID", field, clip(s))
	}
	return nil
}

func checkID(field, s string) *APIError {
	if s == "" || len(s) > maxIDLen || !utf8.ValidString(s) {
		return apiErr(CodeInvalidValue, field, "%s must be 1-%d characters of UTF-8", field, maxIDLen)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r >= 0x2000 && r <= 0x200a || r == 0x3000 {
			return apiErr(CodeInvalidValue, field, "%s %q contains white space or a control character", field, clip(s))
		}
	}
	return nil
}

func parseTime(field, s string) (time.Time, *APIError) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || len(s) > 40 {
		return time.Time{}, apiErr(CodeInvalidValue, field, "%s %q is not an RFC 3339 time with an offset, e.g. 2023-05-14T17:45:00+07:00", field, clip(s))
	}
	return t, nil
}

// checkFigures checks the form of counts and votes keys: no negative counts, none above the
// schema's bound, and keys that are canonical candidate or party numbers ("7", not "07").
func checkFigures(cast, invalid, noVote int, votes map[string]int) *APIError {
	for _, f := range []struct {
		name string
		n    int
	}{{"ballots_cast", cast}, {"invalid", invalid}, {"no_vote", noVote}} {
		if f.n < 0 {
			return apiErr(CodeNegativeNumber, f.name, "%s is %d: counts cannot be negative", f.name, f.n)
		}
		if f.n > maxCount {
			return apiErr(CodeInvalidValue, f.name, "%s is %d: above %d, no station is that large", f.name, f.n, maxCount)
		}
	}
	badKey, badNeg, badBig := "", "", ""
	for k, n := range votes {
		switch {
		case !canonicalNumber(k):
			if badKey == "" || k < badKey {
				badKey = k
			}
		case n < 0:
			if badNeg == "" || lessNumber(k, badNeg) {
				badNeg = k
			}
		case n > maxCount:
			if badBig == "" || lessNumber(k, badBig) {
				badBig = k
			}
		}
	}
	switch {
	case badKey != "":
		return apiErr(CodeInvalidValue, "votes", "votes key %q is not a candidate or party number (1-999, no leading zeros)", clip(badKey))
	case badNeg != "":
		return apiErr(CodeNegativeNumber, "votes."+badNeg, "votes for number %s are %d: counts cannot be negative", badNeg, votes[badNeg])
	case badBig != "":
		return apiErr(CodeInvalidValue, "votes."+badBig, "votes for number %s are %d: above %d, no station is that large", badBig, votes[badBig], maxCount)
	}
	return nil
}

// canonicalNumber accepts 1-999 written without sign or leading zeros.
func canonicalNumber(k string) bool {
	if len(k) == 0 || len(k) > 3 || k[0] < '1' || k[0] > '9' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

func checkEvidence(refs []string) *APIError {
	if len(refs) > maxEvidence {
		return apiErr(CodeInvalidValue, "evidence", "%d evidence references: at most %d", len(refs), maxEvidence)
	}
	seen := make(map[string]bool, len(refs))
	for i, r := range refs {
		if _, ok := parseDigest(r); !ok {
			return apiErr(CodeInvalidValue, "evidence."+strconv.Itoa(i), "evidence %q: want \"sha256:\" and 64 lowercase hex digits", clip(r))
		}
		if seen[r] {
			return apiErr(CodeInvalidValue, "evidence."+strconv.Itoa(i), "evidence %s listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// parseDigest returns the hex part of "sha256:<64 lowercase hex>".
func parseDigest(ref string) (string, bool) {
	const prefix = "sha256:"
	if len(ref) != len(prefix)+64 || ref[:len(prefix)] != prefix {
		return "", false
	}
	hex := ref[len(prefix):]
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return hex, true
}
