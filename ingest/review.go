package ingest

import (
	"unicode/utf8"

	"votestream/election"
	"votestream/schemas"
)

// reviewWire is POST /v1/reviews: accept one source (accept_submission_id), enter corrected
// figures (all four of ballots_cast, invalid, no_vote, votes), or escalate to the war room
// (escalate: true), always with a reason.
type reviewWire struct {
	ReviewID           *string        `json:"review_id"`
	StationID          *string        `json:"station_id"`
	Ballot             *string        `json:"ballot"`
	AcceptSubmissionID *string        `json:"accept_submission_id"`
	BallotsCast        *int           `json:"ballots_cast"`
	Invalid            *int           `json:"invalid"`
	NoVote             *int           `json:"no_vote"`
	Votes              map[string]int `json:"votes"`
	Escalate           *bool          `json:"escalate"`
	Reason             *string        `json:"reason"`
}

// officialWire is POST /v1/official: the election commission's figure for one station and ballot.
type officialWire struct {
	OfficialID  *string        `json:"official_id"`
	StationID   *string        `json:"station_id"`
	Ballot      *string        `json:"ballot"`
	BallotsCast *int           `json:"ballots_cast"`
	Invalid     *int           `json:"invalid"`
	NoVote      *int           `json:"no_vote"`
	Votes       map[string]int `json:"votes"`
}

func (v *validator) review(w *reviewWire) (schemas.Review, election.Station, *APIError) {
	var r schemas.Review
	switch {
	case w.ReviewID == nil:
		return r, election.Station{}, missing("review_id")
	case w.StationID == nil:
		return r, election.Station{}, missing("station_id")
	case w.Ballot == nil:
		return r, election.Station{}, missing("ballot")
	case w.Reason == nil:
		return r, election.Station{}, missing("reason")
	}
	if e := checkUUID("review_id", *w.ReviewID); e != nil {
		return r, election.Station{}, e
	}
	if e := checkID("station_id", *w.StationID); e != nil {
		return r, election.Station{}, e
	}
	ballot := election.Ballot(*w.Ballot)
	if !ballot.Valid() {
		return r, election.Station{}, apiErr(CodeInvalidValue, "ballot", "ballot %q: want \"constituency\" or \"partylist\"", clip(*w.Ballot))
	}
	if *w.Reason == "" || len(*w.Reason) > maxReasonBytes || !utf8.ValidString(*w.Reason) {
		return r, election.Station{}, apiErr(CodeInvalidValue, "reason", "reason must be 1-%d bytes of UTF-8 text", maxReasonBytes)
	}
	figures := w.BallotsCast != nil || w.Invalid != nil || w.NoVote != nil || w.Votes != nil
	r = schemas.Review{ReviewID: *w.ReviewID, StationID: *w.StationID, Ballot: *w.Ballot, Reason: *w.Reason}
	if w.Escalate != nil && *w.Escalate {
		if w.AcceptSubmissionID != nil || figures {
			return r, election.Station{}, apiErr(CodeInvalidValue, "escalate",
				"a review escalates to the war room, accepts a submission or enters figures: one of them")
		}
		st, ok := v.country.StationByID(*w.StationID)
		if !ok {
			return r, st, apiErr(CodeUnknownStation, "station_id", "station %q is not in the reference data", clip(*w.StationID))
		}
		r.Escalate = true
		return r, st, nil
	}
	switch {
	case w.AcceptSubmissionID != nil && figures:
		return r, election.Station{}, apiErr(CodeInvalidValue, "accept_submission_id",
			"a review either accepts a submission (accept_submission_id) or enters figures, not both")
	case w.AcceptSubmissionID != nil:
		if e := checkUUID("accept_submission_id", *w.AcceptSubmissionID); e != nil {
			return r, election.Station{}, e
		}
		st, ok := v.country.StationByID(*w.StationID)
		if !ok {
			return r, st, apiErr(CodeUnknownStation, "station_id", "station %q is not in the reference data", clip(*w.StationID))
		}
		r.AcceptSubmissionID = *w.AcceptSubmissionID
		return r, st, nil
	case !figures:
		return r, election.Station{}, apiErr(CodeMissingField, "accept_submission_id",
			"a review needs accept_submission_id, corrected figures (ballots_cast, invalid, no_vote, votes) or escalate: true")
	}
	switch {
	case w.BallotsCast == nil:
		return r, election.Station{}, missing("ballots_cast")
	case w.Invalid == nil:
		return r, election.Station{}, missing("invalid")
	case w.NoVote == nil:
		return r, election.Station{}, missing("no_vote")
	case w.Votes == nil:
		return r, election.Station{}, missing("votes")
	}
	if e := checkFigures(*w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes); e != nil {
		return r, election.Station{}, e
	}
	st, e := v.ballotFigures(*w.StationID, ballot, *w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes)
	if e != nil {
		return r, st, e
	}
	r.BallotsCast, r.Invalid, r.NoVote, r.Votes = w.BallotsCast, w.Invalid, w.NoVote, w.Votes
	return r, st, nil
}

func (v *validator) official(w *officialWire) (schemas.Official, election.Station, *APIError) {
	var o schemas.Official
	switch {
	case w.OfficialID == nil:
		return o, election.Station{}, missing("official_id")
	case w.StationID == nil:
		return o, election.Station{}, missing("station_id")
	case w.Ballot == nil:
		return o, election.Station{}, missing("ballot")
	case w.BallotsCast == nil:
		return o, election.Station{}, missing("ballots_cast")
	case w.Invalid == nil:
		return o, election.Station{}, missing("invalid")
	case w.NoVote == nil:
		return o, election.Station{}, missing("no_vote")
	case w.Votes == nil:
		return o, election.Station{}, missing("votes")
	}
	if e := checkUUID("official_id", *w.OfficialID); e != nil {
		return o, election.Station{}, e
	}
	if e := checkID("station_id", *w.StationID); e != nil {
		return o, election.Station{}, e
	}
	ballot := election.Ballot(*w.Ballot)
	if !ballot.Valid() {
		return o, election.Station{}, apiErr(CodeInvalidValue, "ballot", "ballot %q: want \"constituency\" or \"partylist\"", clip(*w.Ballot))
	}
	if e := checkFigures(*w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes); e != nil {
		return o, election.Station{}, e
	}
	st, e := v.ballotFigures(*w.StationID, ballot, *w.BallotsCast, *w.Invalid, *w.NoVote, w.Votes)
	if e != nil {
		return o, st, e
	}
	o = schemas.Official{
		OfficialID: *w.OfficialID, StationID: *w.StationID, Ballot: *w.Ballot,
		BallotsCast: *w.BallotsCast, Invalid: *w.Invalid, NoVote: *w.NoVote, Votes: w.Votes,
	}
	return o, st, nil
}
