package consolidate

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unique"

	"votestream/election"
	"votestream/schemas"
)

// Input is one thing that can change a station: exactly one field is set. A zero Input
// re-derives the station without changing it (used after a rebuild, to publish what the
// state now says if it differs from what was last published).
type Input struct {
	Report   *Report
	Review   *Review
	Official *Official
	Flag     *Flag

	// VersionFloor: results this input publishes get a version of at least this. The Ledger
	// sets it from the partition's input position, which makes versions grow across
	// restarts and rebalances without reading anything back (see Ledger). Zero in tests.
	VersionFloor int64
}

// Report is a decoded submissions.v1 record, its figures checked and parsed. Its fields are
// schemas.Report's but for the figures, which fig holds.
//
// The Ledger keeps a report for the rest of the night, superseded or not (a late tally
// board can still make an older one a REGRESSION's earlier side, and a review can accept
// any submission, so the figures of every report stay readable), but only the fields the
// rules read after the report was applied: what only its arrival reads (the role, the
// evidence hashes, ingest's flags) sits in *arrival, which the kept copy goes without
// (Ledger.Apply, issue 18: a national night keeps about two million reports).
type Report struct {
	SubmissionID string
	StationID    string
	CountedAt    time.Time
	ReceivedAt   time.Time
	VolunteerID  string
	Org          string
	Person       string
	Hash         string

	fig  figures
	swap atomic.Pointer[swapMemo] // numberSwap's last verdict
	kind reportKind               // ballot and stage
	part int32                    // the partition of the Ledger's kept copy (photoUse); in the padding after kind

	*arrival // nil in the copy the Ledger keeps (kept)
}

// reportKind is a report's ballot and stage, each one of two values (NewReport checks them):
// two strings would cost 32 bytes of every report the Ledger keeps.
type reportKind uint8

const (
	kindPartyList reportKind = 1 << iota // else the constituency ballot
	kindFinal                            // else a tally board (progress)
)

func kindOf(ballot string, stage schemas.Stage) reportKind {
	var k reportKind
	if ballotIndex(ballot) == 1 {
		k |= kindPartyList
	}
	if stage == schemas.StageFinal {
		k |= kindFinal
	}
	return k
}

// Ballot is the report's ballot, "constituency" or "partylist".
func (r *Report) Ballot() string {
	if r.kind&kindPartyList != 0 {
		return string(election.BallotPartyList)
	}
	return string(election.BallotConstituency)
}

// Stage is the report's stage, progress or final.
func (r *Report) Stage() schemas.Stage {
	if r.kind&kindFinal != 0 {
		return schemas.StageFinal
	}
	return schemas.StageProgress
}

// arrival is what only the applying of a report reads: the spread rule (Role, IngestFlags)
// and the photo index (Evidence, whose hashes become its keys).
type arrival struct {
	Role     string
	Evidence []string
	// IngestFlags are the anomaly codes ingest raised on the record (the "flags" header):
	// SPREAD for a station outside the volunteer's token scope.
	IngestFlags []string
}

// kept returns the copy of r the Ledger keeps: every field the rules read once r is
// applied, the same strings and figures, no arrival.
func (r *Report) kept() *Report {
	return &Report{
		SubmissionID: r.SubmissionID, StationID: r.StationID, kind: r.kind,
		CountedAt: r.CountedAt, ReceivedAt: r.ReceivedAt, VolunteerID: r.VolunteerID, Org: r.Org,
		Person: r.Person, Hash: r.Hash, fig: r.fig,
	}
}

// wire returns the report as a submissions.v1 value: the votes from its figures (numbers
// with zero votes dropped), the arrival fields empty in a kept copy.
func (r *Report) wire() schemas.Report {
	w := schemas.Report{
		Submission: schemas.Submission{
			SubmissionID: r.SubmissionID, StationID: r.StationID, Ballot: r.Ballot(), Stage: r.Stage(),
			CountedAt: r.CountedAt, BallotsCast: r.fig.BallotsCast, Invalid: r.fig.Invalid, NoVote: r.fig.NoVote,
			Votes: r.fig.wireVotes(),
		},
		VolunteerID: r.VolunteerID, Org: r.Org, ReceivedAt: r.ReceivedAt, Hash: r.Hash, Person: r.Person,
	}
	if r.arrival != nil {
		w.Role, w.Evidence = r.Role, r.Evidence
	}
	return w
}

// Review is a decoded reviews.v1 record. Figures are nil when the review accepts a source.
type Review struct {
	schemas.Review
	fig *figures
}

// Official is a decoded official.v1 record.
type Official struct {
	schemas.Official
	fig figures
}

// Flag is a cross-station detector's verdict on one station and ballot (TURNOUT_OUTLIER,
// SHARE_OUTLIER, PHOTO_REUSE, SPREAD): the Ledger works these out and applies them to the
// station like any other input.
type Flag struct {
	Ballot  election.Ballot
	Code    string
	On      bool
	Anomaly *schemas.Anomaly // raised when On; its id decides whether it is new
	At      time.Time        // data time of the input that changed the verdict
}

// Output is one record to publish: exactly one field is set.
type Output struct {
	Result  *schemas.StationResult
	Anomaly *schemas.Anomaly
}

// StationID is the station the input is about.
func (in Input) StationID() string {
	switch {
	case in.Report != nil:
		return in.Report.StationID
	case in.Review != nil:
		return in.Review.StationID
	case in.Official != nil:
		return in.Official.StationID
	}
	return ""
}

// at is the data time of the input: when ingest accepted it.
func (in Input) at() time.Time {
	switch {
	case in.Report != nil:
		return in.Report.ReceivedAt
	case in.Review != nil:
		return in.Review.ReceivedAt
	case in.Official != nil:
		return in.Official.ReceivedAt
	case in.Flag != nil:
		return in.Flag.At
	}
	return time.Time{}
}

// Decoding errors. A record that fails with one of them can never be processed and goes to
// the dead-letter topic with the error as its reason.
var (
	// ErrUndecodable: the record is not a message of the expected type and version.
	ErrUndecodable = errors.New("consolidate: undecodable record")
	// ErrInvalidInput: the message decodes but breaks the contract (unknown station or
	// ballot, bad numbers, a role that may not send it).
	ErrInvalidInput = errors.New("consolidate: invalid input")
)

// NewReport checks a report against the contract and the Country and parses its figures.
func NewReport(r schemas.Report, c *election.Country) (*Report, error) {
	if err := checkCommon(r.StationID, r.Ballot, c); err != nil {
		return nil, err
	}
	ref, _ := c.StationByID(r.StationID)
	switch {
	case r.SubmissionID == "":
		return nil, fmt.Errorf("%w: empty submission_id", ErrInvalidInput)
	case r.VolunteerID == "":
		return nil, fmt.Errorf("%w: submission %s has no volunteer_id", ErrInvalidInput, r.SubmissionID)
	case r.Stage != schemas.StageProgress && r.Stage != schemas.StageFinal:
		return nil, fmt.Errorf("%w: submission %s: stage %q", ErrInvalidInput, r.SubmissionID, r.Stage)
	case r.ReceivedAt.IsZero():
		return nil, fmt.Errorf("%w: submission %s has no received_at", ErrInvalidInput, r.SubmissionID)
	}
	fig, err := parseFigures(r.BallotsCast, r.Invalid, r.NoVote, r.Votes)
	if err != nil {
		return nil, fmt.Errorf("submission %s: %w", r.SubmissionID, err)
	}
	// The figures hold the votes from here on: a night keeps millions of reports, and the
	// wire map would double what each costs. Names that repeat across reports are shared:
	// the station id is the Country's own string, the names of people and organisations are
	// interned. The ballot, the stage (kept as kind) and the role (its arrival's) are not kept.
	r.Votes = nil
	r.StationID = ref.ID
	r.VolunteerID, r.Org, r.Person = intern(r.VolunteerID), intern(r.Org), intern(r.Person)
	packStrings(&r)
	return &Report{
		SubmissionID: r.SubmissionID, StationID: r.StationID, kind: kindOf(r.Ballot, r.Stage),
		CountedAt: r.CountedAt, ReceivedAt: r.ReceivedAt, VolunteerID: r.VolunteerID, Org: r.Org,
		Person: r.Person, Hash: r.Hash, fig: fig,
		arrival: &arrival{Role: r.Role, Evidence: r.Evidence},
	}, nil
}

// packStrings puts the report's own strings that the Ledger keeps (submission id and hash:
// they never repeat across reports, so interning does not help) into one allocation: each
// separate string costs its size class's rounding (36 bytes take 48, 71 take 80) and an
// object for the collector to track, and a national night keeps about two million reports
// (issue 18). The evidence hashes are not kept (the photo index keys them as photoKey), so
// they are left as decoded. The values do not change.
func packStrings(r *schemas.Report) {
	s := r.SubmissionID + r.Hash
	r.SubmissionID, r.Hash = s[:len(r.SubmissionID)], s[len(r.SubmissionID):]
}

// NewReview checks a review: the role must be a district lead's or the war room's, and it
// must either accept a submission or carry complete figures.
func NewReview(r schemas.Review, c *election.Country) (*Review, error) {
	if err := checkCommon(r.StationID, r.Ballot, c); err != nil {
		return nil, err
	}
	switch {
	case r.ReviewID == "":
		return nil, fmt.Errorf("%w: empty review_id", ErrInvalidInput)
	case r.Role != schemas.RoleDistrictLead && r.Role != schemas.RoleWarRoom:
		return nil, fmt.Errorf("%w: review %s from role %q: only a district lead or the war room decides", ErrInvalidInput, r.ReviewID, r.Role)
	case r.ReviewerID == "":
		return nil, fmt.Errorf("%w: review %s has no reviewer_id", ErrInvalidInput, r.ReviewID)
	case r.ReceivedAt.IsZero():
		return nil, fmt.Errorf("%w: review %s has no received_at", ErrInvalidInput, r.ReviewID)
	}
	hasFigures := r.BallotsCast != nil || r.Invalid != nil || r.NoVote != nil || r.Votes != nil
	switch {
	case r.Escalate && (hasFigures || r.AcceptSubmissionID != ""):
		return nil, fmt.Errorf("%w: review %s both escalates and decides", ErrInvalidInput, r.ReviewID)
	case r.Escalate:
		return &Review{Review: r}, nil // asks the war room; decides nothing (Apply skips it)
	case r.AcceptSubmissionID != "" && hasFigures:
		return nil, fmt.Errorf("%w: review %s both accepts a submission and enters figures", ErrInvalidInput, r.ReviewID)
	case r.AcceptSubmissionID != "":
		return &Review{Review: r}, nil
	case r.BallotsCast == nil || r.Invalid == nil || r.NoVote == nil:
		return nil, fmt.Errorf("%w: review %s neither accepts a submission nor enters ballots_cast, invalid and no_vote", ErrInvalidInput, r.ReviewID)
	}
	fig, err := parseFigures(*r.BallotsCast, *r.Invalid, *r.NoVote, r.Votes)
	if err != nil {
		return nil, fmt.Errorf("review %s: %w", r.ReviewID, err)
	}
	return &Review{Review: r, fig: &fig}, nil
}

// NewOfficial checks an official figure: entered by a district lead or the war room.
func NewOfficial(o schemas.Official, c *election.Country) (*Official, error) {
	if err := checkCommon(o.StationID, o.Ballot, c); err != nil {
		return nil, err
	}
	switch {
	case o.OfficialID == "":
		return nil, fmt.Errorf("%w: empty official_id", ErrInvalidInput)
	case o.Role != schemas.RoleDistrictLead && o.Role != schemas.RoleWarRoom:
		return nil, fmt.Errorf("%w: official %s from role %q: only a district lead or the war room enters official figures", ErrInvalidInput, o.OfficialID, o.Role)
	case o.EnteredBy == "":
		return nil, fmt.Errorf("%w: official %s has no entered_by", ErrInvalidInput, o.OfficialID)
	case o.ReceivedAt.IsZero():
		return nil, fmt.Errorf("%w: official %s has no received_at", ErrInvalidInput, o.OfficialID)
	}
	fig, err := parseFigures(o.BallotsCast, o.Invalid, o.NoVote, o.Votes)
	if err != nil {
		return nil, fmt.Errorf("official %s: %w", o.OfficialID, err)
	}
	return &Official{Official: o, fig: fig}, nil
}

func intern(s string) string { return unique.Make(s).Value() }

func checkCommon(stationID, ballot string, c *election.Country) error {
	if !election.Ballot(ballot).Valid() {
		return fmt.Errorf("%w: ballot %q", ErrInvalidInput, ballot)
	}
	if _, ok := c.StationByID(stationID); !ok {
		return fmt.Errorf("%w: unknown station %q", ErrInvalidInput, stationID)
	}
	return nil
}

func parseFigures(ballotsCast, invalid, noVote int, wire map[string]int) (figures, error) {
	if ballotsCast < 0 || invalid < 0 || noVote < 0 {
		return figures{}, fmt.Errorf("%w: negative ballots_cast, invalid or no_vote", ErrInvalidInput)
	}
	votes, err := election.ParseVotes(wire)
	if err != nil {
		return figures{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return newFigures(ballotsCast, invalid, noVote, votes), nil
}
