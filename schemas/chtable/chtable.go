// Package chtable maps votestream's messages and reference data onto the ClickHouse tables
// of schemas/clickhouse: for each table the columns a sink inserts, in order, and for each
// message the rows, as values clickhouse-go appends to a batch without conversion. It does
// no I/O. The integration test of schemas/provision inserts these rows into a migrated
// database, so the mapping and the DDL cannot drift apart.
package chtable

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Table is one table of the migrations with the columns an INSERT names, in row order.
type Table struct {
	Name    string
	Columns []string
}

// InsertQuery is the INSERT a clickhouse-go batch is prepared with. It names the columns,
// which ClickHouse 18.16 needs over the native protocol. An empty database leaves the
// table name unqualified (the connection's database).
func (t Table) InsertQuery(database string) string {
	name := t.Name
	if database != "" {
		name = "`" + database + "`." + t.Name
	}
	return "INSERT INTO " + name + " (" + strings.Join(t.Columns, ", ") + ")"
}

// The tables a sink or loader writes. Views are not listed: they are read only.
var (
	Provinces      = Table{"provinces", []string{"province_id", "name_th", "name_en", "region", "loaded_at"}}
	Constituencies = Table{"constituencies", []string{"constituency_id", "province_id", "number", "eligible_voters", "stations", "loaded_at"}}
	Stations       = Table{"stations", []string{"station_id", "constituency_id", "subdistrict", "number", "eligible_voters", "priority", "urban", "loaded_at"}}
	Parties        = Table{"parties", []string{"party_no", "name_th", "name_en", "loaded_at"}}
	Candidates     = Table{"candidates", []string{"constituency_id", "candidate_no", "name", "party_no", "loaded_at"}}

	Submissions = Table{"submissions", []string{
		"submission_id", "station_id", "ballot", "stage", "counted_at", "ballots_cast", "invalid", "no_vote",
		"vote_no", "votes", "evidence", "volunteer_id", "org", "role", "received_at", "hash"}}
	StationResults = Table{"station_results", []string{
		"station_id", "constituency_id", "ballot", "version", "status", "stage", "ballots_cast", "invalid", "no_vote",
		"vote_no", "votes", "source_submission_ids", "source_volunteer_ids", "source_orgs", "source_stages",
		"source_hashes", "anomalies", "decided_by", "counted_at", "updated_at"}}
	Anomalies = Table{"anomalies", []string{
		"anomaly_id", "code", "severity", "station_id", "constituency_id", "ballot", "volunteer_id",
		"submission_ids", "message", "evidence_keys", "evidence_values", "detected_at"}}
	Estimates = Table{"estimates", []string{
		"estimate_id", "data_time", "computed_at", "stations_reported", "stations_total", "eligible_reported", "eligible_total"}}
	EstimateStates  = Table{"estimate_states", []string{"estimate_id", "data_time", "shares_state", "priority_used"}}
	EstimateParties = Table{"estimate_parties", []string{
		"estimate_id", "data_time", "party_no", "counted_votes", "projected_votes", "share", "share_lo", "share_hi", "seats"}}
	EstimateConstituencies = Table{"estimate_constituencies", []string{
		"estimate_id", "data_time", "constituency_id", "leader_no", "win_probability", "call", "stations_reported",
		"stations_total", "eligible_reported", "eligible_total", "candidate_no", "counted_votes", "projected_votes"}}
	Reviews = Table{"reviews", []string{
		"review_id", "station_id", "ballot", "accept_submission_id", "ballots_cast", "invalid", "no_vote",
		"vote_no", "votes", "reason", "reviewer_id", "role", "received_at"}}
	OfficialFigures = Table{"official_figures", []string{
		"official_id", "station_id", "ballot", "ballots_cast", "invalid", "no_vote", "vote_no", "votes",
		"entered_by", "role", "received_at"}}
	Evidence       = Table{"evidence", []string{"evidence", "bytes", "volunteer_id", "received_at"}}
	LogCheckpoints = Table{"log_checkpoints", []string{
		"origin", "size", "root_hash", "note", "cosigners", "cosignatures", "published_at"}}
)

// Volunteers around the counts (0009_fieldwork.sql).
var (
	Roster = Table{"roster", []string{
		"org", "volunteer_id", "person", "role", "station_id", "constituency_id", "imported_at"}}
	FieldEvents = Table{"field_events", []string{
		"event_id", "kind", "volunteer_id", "org", "token_id", "station_id", "constituency_id", "device_key",
		"issued_at", "status", "by", "at"}}
	Incidents = Table{"incidents", []string{
		"incident_id", "station_id", "constituency_id", "category", "occurred_at", "text", "evidence",
		"volunteer_id", "org", "role", "received_at"}}
)

// Refused requests (0012_refusals.sql).
var Refusals = Table{"refusals", []string{
	"refusal_id", "at", "endpoint", "code", "status", "message", "field", "station_id", "constituency_id",
	"submission_id", "volunteer_id", "org", "role", "suppressed"}}

// Tables lists every table above.
var Tables = []Table{
	Provinces, Constituencies, Stations, Parties, Candidates,
	Submissions, StationResults, Anomalies, Estimates, EstimateParties, EstimateConstituencies,
	EstimateStates, Reviews, OfficialFigures, Evidence, LogCheckpoints, Roster, FieldEvents, Incidents,
	Refusals, EstimateSeats, EstimateRaces, Calls,
}

// ErrOutOfRange: a figure that does not fit its column (a negative count, a vote key that
// is not a number from 0 to 65535). Validated messages never have one.
var ErrOutOfRange = errors.New("chtable: value out of range for its column")

// Rows are rows for one table.
type Rows struct {
	Table Table
	Rows  [][]any
}

// MessageRows maps a decoded message (a value or pointer of Report, StationResult, Anomaly,
// Estimate, Review or Official, as schemas.DecodeAny returns) to its rows: one table for
// most messages, three for an estimate.
func MessageRows(msg any) ([]Rows, error) {
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("chtable: nil %T", msg)
	}
	one := func(t Table, row []any, err error) ([]Rows, error) {
		if err != nil {
			return nil, err
		}
		return []Rows{{Table: t, Rows: [][]any{row}}}, nil
	}
	switch m := msg.(type) {
	case schemas.Report:
		return MessageRows(&m)
	case *schemas.Report:
		row, err := ReportRow(*m)
		return one(Submissions, row, err)
	case schemas.StationResult:
		return MessageRows(&m)
	case *schemas.StationResult:
		row, err := StationResultRow(*m)
		return one(StationResults, row, err)
	case schemas.Anomaly:
		return MessageRows(&m)
	case *schemas.Anomaly:
		row, err := AnomalyRow(*m)
		return one(Anomalies, row, err)
	case schemas.Review:
		return MessageRows(&m)
	case *schemas.Review:
		row, err := ReviewRow(*m)
		return one(Reviews, row, err)
	case schemas.Official:
		return MessageRows(&m)
	case *schemas.Official:
		row, err := OfficialRow(*m)
		return one(OfficialFigures, row, err)
	case schemas.Evidence:
		return MessageRows(&m)
	case *schemas.Evidence:
		row, err := EvidenceRow(*m)
		return one(Evidence, row, err)
	case schemas.Checkpoint:
		return MessageRows(&m)
	case *schemas.Checkpoint:
		row, err := CheckpointRow(*m)
		return one(LogCheckpoints, row, err)
	case schemas.FieldEvent:
		return MessageRows(&m)
	case *schemas.FieldEvent:
		return one(FieldEvents, FieldEventRow(*m), nil)
	case schemas.Incident:
		return MessageRows(&m)
	case *schemas.Incident:
		return one(Incidents, IncidentRow(*m), nil)
	case schemas.Refusal:
		return MessageRows(&m)
	case *schemas.Refusal:
		row, err := RefusalRow(*m)
		return one(Refusals, row, err)
	case schemas.Call:
		return MessageRows(&m)
	case *schemas.Call:
		return one(Calls, CallRow(*m), nil)
	case schemas.Estimate:
		return MessageRows(&m)
	case *schemas.Estimate:
		run, parties, constituencies, err := EstimateRows(*m)
		if err != nil {
			return nil, err
		}
		seats, races, err := EstimateSeatRows(*m)
		if err != nil {
			return nil, err
		}
		out := []Rows{
			{Table: Estimates, Rows: [][]any{run}},
			{Table: EstimateParties, Rows: parties},
			{Table: EstimateConstituencies, Rows: constituencies},
			{Table: EstimateStates, Rows: [][]any{EstimateStateRow(*m)}},
		}
		return appendSeatRows(out, seats, races), nil
	}
	return nil, fmt.Errorf("chtable: no table for %T", msg)
}

// EvidenceRow is the evidence row of an evidence.v1 message.
func EvidenceRow(e schemas.Evidence) ([]any, error) {
	if e.Bytes < 0 {
		return nil, fmt.Errorf("%w: evidence %s: %d bytes", ErrOutOfRange, e.Evidence, e.Bytes)
	}
	return []any{e.Evidence, uint64(e.Bytes), e.VolunteerID, dateTime(e.ReceivedAt)}, nil
}

// CheckpointRow is the log_checkpoints row of a checkpoint.v1 message.
func CheckpointRow(c schemas.Checkpoint) ([]any, error) {
	if c.Size < 0 || len(c.Cosigners) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: checkpoint of %s: size %d, %d cosigners", ErrOutOfRange, c.Origin, c.Size, len(c.Cosigners))
	}
	return []any{c.Origin, uint64(c.Size), c.RootHash, c.Note, strs(c.Cosigners), uint16(len(c.Cosigners)), dateTime(c.PublishedAt)}, nil
}

// FieldEventRow is the field_events row of a fieldwork.v1 record.
func FieldEventRow(e schemas.FieldEvent) []any {
	return []any{
		e.EventID, e.Kind, e.VolunteerID, e.Org, e.TokenID, e.StationID, e.ConstituencyID, e.DeviceKey,
		dateTime(e.IssuedAt), e.Status, e.By, dateTime(e.At),
	}
}

// IncidentRow is the incidents row of an incident report.
func IncidentRow(i schemas.Incident) []any {
	return []any{
		i.IncidentID, i.StationID, i.ConstituencyID, i.Category, dateTime(i.OccurredAt), i.Text, strs(i.Evidence),
		i.VolunteerID, i.Org, i.Role, dateTime(i.ReceivedAt),
	}
}

// RefusalRow is the refusals row of a refusals.v1 record.
func RefusalRow(r schemas.Refusal) ([]any, error) {
	if r.Status < 0 || r.Status > math.MaxUint16 || r.Suppressed < 0 || int64(r.Suppressed) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: refusal %s: status %d, suppressed %d", ErrOutOfRange, r.RefusalID, r.Status, r.Suppressed)
	}
	return []any{
		r.RefusalID, dateTime(r.At), r.Endpoint, r.Code, uint16(r.Status), r.Message, r.Field, r.StationID, r.ConstituencyID,
		r.SubmissionID, r.VolunteerID, r.Org, r.Role, uint32(r.Suppressed),
	}, nil
}

// RosterRow is one roster row: a volunteer and one station of their scope (station ""
// for a district lead or the war room, with the lead's constituency).
func RosterRow(org, volunteerID, person, role, stationID, constituencyID string, importedAt time.Time) []any {
	return []any{org, volunteerID, person, role, stationID, constituencyID, dateTime(importedAt)}
}

// ReportRow is the submissions row of a report.
func ReportRow(r schemas.Report) ([]any, error) {
	nos, votes, err := voteArrays(r.Votes)
	if err != nil {
		return nil, fmt.Errorf("chtable: report %s: %w", r.SubmissionID, err)
	}
	counts, err := u32s(r.BallotsCast, r.Invalid, r.NoVote)
	if err != nil {
		return nil, fmt.Errorf("chtable: report %s: %w", r.SubmissionID, err)
	}
	return []any{
		r.SubmissionID, r.StationID, r.Ballot, string(r.Stage), dateTime(r.CountedAt),
		counts[0], counts[1], counts[2], nos, votes, strs(r.Evidence),
		r.VolunteerID, r.Org, r.Role, dateTime(r.ReceivedAt), r.Hash,
	}, nil
}

// StationResultRow is the station_results row of one version of a result.
func StationResultRow(r schemas.StationResult) ([]any, error) {
	nos, votes, err := voteArrays(r.Votes)
	if err != nil {
		return nil, fmt.Errorf("chtable: station result %s/%s: %w", r.StationID, r.Ballot, err)
	}
	counts, err := u32s(r.BallotsCast, r.Invalid, r.NoVote)
	if err != nil {
		return nil, fmt.Errorf("chtable: station result %s/%s: %w", r.StationID, r.Ballot, err)
	}
	if r.Version < 0 {
		return nil, fmt.Errorf("chtable: station result %s/%s: version %d: %w", r.StationID, r.Ballot, r.Version, ErrOutOfRange)
	}
	n := len(r.Sources)
	ids, vols, orgs, stages, hashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, s := range r.Sources {
		ids[i], vols[i], orgs[i], stages[i], hashes[i] = s.SubmissionID, s.VolunteerID, s.Org, string(s.Stage), s.Hash
	}
	return []any{
		r.StationID, r.ConstituencyID, r.Ballot, uint64(r.Version), string(r.Status), string(r.Stage),
		counts[0], counts[1], counts[2], nos, votes, ids, vols, orgs, stages, hashes,
		strs(r.Anomalies), r.DecidedBy, dateTime(r.CountedAt), dateTime(r.UpdatedAt),
	}, nil
}

// AnomalyRow is the anomalies row of a flag; its evidence becomes two arrays sorted by name.
func AnomalyRow(a schemas.Anomaly) ([]any, error) {
	keys := make([]string, 0, len(a.Evidence))
	for k := range a.Evidence {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = a.Evidence[k]
	}
	return []any{
		a.AnomalyID, a.Code, string(a.Severity), a.StationID, a.ConstituencyID, a.Ballot, a.VolunteerID,
		strs(a.Submissions), a.Message, keys, values, dateTime(a.DetectedAt),
	}, nil
}

// EstimateStateRow is the estimate_states row of one estimate: what of it is published.
func EstimateStateRow(e schemas.Estimate) []any {
	var priority uint8
	if e.PriorityUsed {
		priority = 1
	}
	return []any{e.EstimateID, dateTime(e.DataTime), string(e.SharesState), priority}
}

// EstimateRows are the rows of one estimate: its run row, one row per party and one per
// constituency (candidates as parallel arrays in the estimate's order).
func EstimateRows(e schemas.Estimate) (run []any, parties, constituencies [][]any, err error) {
	fail := func(what string, err error) ([]any, [][]any, [][]any, error) {
		return nil, nil, nil, fmt.Errorf("chtable: estimate %s: %s: %w", e.EstimateID, what, err)
	}
	sr, st, err := u32pair(e.StationsReported, e.StationsTotal)
	if err != nil {
		return fail("stations", err)
	}
	er, et, err := u64pair(e.EligibleReported, e.EligibleTotal)
	if err != nil {
		return fail("eligible voters", err)
	}
	data := dateTime(e.DataTime)
	run = []any{e.EstimateID, data, dateTime(e.ComputedAt), sr, st, er, et}
	for _, p := range e.Parties {
		no, err := u16(p.PartyNo)
		if err != nil {
			return fail("party_no", err)
		}
		cv, pv, err := u64pair(p.CountedVotes, p.ProjectedVotes)
		if err != nil {
			return fail(fmt.Sprintf("party %d votes", p.PartyNo), err)
		}
		seats, err := u16(p.Seats)
		if err != nil {
			return fail(fmt.Sprintf("party %d seats", p.PartyNo), err)
		}
		parties = append(parties, []any{e.EstimateID, data, no, cv, pv, p.Share, p.ShareLo, p.ShareHi, seats})
	}
	for _, c := range e.Constituencies {
		leader, err := u16(c.LeaderNo)
		if err != nil {
			return fail(c.ConstituencyID+" leader_no", err)
		}
		csr, cst, err := u32pair(c.StationsReported, c.StationsTotal)
		if err != nil {
			return fail(c.ConstituencyID+" stations", err)
		}
		cer, cet, err := u64pair(c.EligibleReported, c.EligibleTotal)
		if err != nil {
			return fail(c.ConstituencyID+" eligible voters", err)
		}
		nos := make([]uint16, len(c.Candidates))
		counted := make([]uint64, len(c.Candidates))
		projected := make([]uint64, len(c.Candidates))
		for i, k := range c.Candidates {
			if nos[i], err = u16(k.CandidateNo); err != nil {
				return fail(c.ConstituencyID+" candidate_no", err)
			}
			if counted[i], projected[i], err = u64pair(k.CountedVotes, k.ProjectedVotes); err != nil {
				return fail(fmt.Sprintf("%s candidate %d votes", c.ConstituencyID, k.CandidateNo), err)
			}
		}
		constituencies = append(constituencies, []any{
			e.EstimateID, data, c.ConstituencyID, leader, c.WinProbability, string(c.Call),
			csr, cst, cer, cet, nos, counted, projected,
		})
	}
	return run, parties, constituencies, nil
}

// ReviewRow is the reviews row of a review; figures it does not enter are NULL.
func ReviewRow(r schemas.Review) ([]any, error) {
	nos, votes, err := voteArrays(r.Votes)
	if err != nil {
		return nil, fmt.Errorf("chtable: review %s: %w", r.ReviewID, err)
	}
	var figures [3]*uint32
	for i, p := range []*int{r.BallotsCast, r.Invalid, r.NoVote} {
		if p == nil {
			continue
		}
		v, err := u32(*p)
		if err != nil {
			return nil, fmt.Errorf("chtable: review %s: %w", r.ReviewID, err)
		}
		figures[i] = &v
	}
	return []any{
		r.ReviewID, r.StationID, r.Ballot, r.AcceptSubmissionID, figures[0], figures[1], figures[2],
		nos, votes, r.Reason, r.ReviewerID, r.Role, dateTime(r.ReceivedAt),
	}, nil
}

// OfficialRow is the official_figures row of an official figure.
func OfficialRow(o schemas.Official) ([]any, error) {
	nos, votes, err := voteArrays(o.Votes)
	if err != nil {
		return nil, fmt.Errorf("chtable: official %s: %w", o.OfficialID, err)
	}
	counts, err := u32s(o.BallotsCast, o.Invalid, o.NoVote)
	if err != nil {
		return nil, fmt.Errorf("chtable: official %s: %w", o.OfficialID, err)
	}
	return []any{
		o.OfficialID, o.StationID, o.Ballot, counts[0], counts[1], counts[2], nos, votes,
		o.EnteredBy, o.Role, dateTime(o.ReceivedAt),
	}, nil
}

// ProvinceRow is the provinces row of a province loaded at loadedAt.
func ProvinceRow(p election.Province, loadedAt time.Time) []any {
	return []any{p.ID, p.NameTH, p.NameEN, p.Region, dateTime(loadedAt)}
}

// ConstituencyRow is the constituencies row of a constituency.
func ConstituencyRow(c election.Constituency, loadedAt time.Time) ([]any, error) {
	no, err := u16(c.Number)
	if err != nil {
		return nil, fmt.Errorf("chtable: constituency %s number: %w", c.ID, err)
	}
	ev, st, err := u32pair(c.EligibleVoters, c.Stations)
	if err != nil {
		return nil, fmt.Errorf("chtable: constituency %s: %w", c.ID, err)
	}
	return []any{c.ID, c.ProvinceID, no, ev, st, dateTime(loadedAt)}, nil
}

// StationRow is the stations row of a station.
func StationRow(s election.Station, loadedAt time.Time) ([]any, error) {
	no, ev, err := u32pair(s.Number, s.EligibleVoters)
	if err != nil {
		return nil, fmt.Errorf("chtable: station %s: %w", s.ID, err)
	}
	return []any{s.ID, s.ConstituencyID, s.Subdistrict, no, ev, flag(s.Priority), flag(s.Urban), dateTime(loadedAt)}, nil
}

// PartyRow is the parties row of a party.
func PartyRow(p election.Party, loadedAt time.Time) ([]any, error) {
	no, err := u16(p.No)
	if err != nil {
		return nil, fmt.Errorf("chtable: party %d: %w", p.No, err)
	}
	return []any{no, p.NameTH, p.NameEN, dateTime(loadedAt)}, nil
}

// CandidateRow is the candidates row of a candidate.
func CandidateRow(c election.Candidate, loadedAt time.Time) ([]any, error) {
	no, err := u16(c.No)
	if err != nil {
		return nil, fmt.Errorf("chtable: candidate %s/%d: %w", c.ConstituencyID, c.No, err)
	}
	party, err := u16(c.PartyNo)
	if err != nil {
		return nil, fmt.Errorf("chtable: candidate %s/%d party: %w", c.ConstituencyID, c.No, err)
	}
	return []any{c.ConstituencyID, no, c.Name, party, dateTime(loadedAt)}, nil
}

// voteArrays turns a votes map into parallel arrays sorted by number.
func voteArrays(m map[string]int) ([]uint16, []uint32, error) {
	type pair struct {
		no uint16
		n  uint32
	}
	pairs := make([]pair, 0, len(m))
	for k, n := range m {
		no, err := strconv.ParseUint(k, 10, 16)
		if err != nil {
			return nil, nil, fmt.Errorf("vote key %q: %w", k, ErrOutOfRange)
		}
		v, err := u32(n)
		if err != nil {
			return nil, nil, fmt.Errorf("votes for %s: %w", k, err)
		}
		pairs = append(pairs, pair{uint16(no), v})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].no < pairs[j].no })
	nos, votes := make([]uint16, len(pairs)), make([]uint32, len(pairs))
	for i, p := range pairs {
		nos[i], votes[i] = p.no, p.n
	}
	return nos, votes, nil
}

// DateTime is t as a DateTime column stores it (see dateTime), for a writer that builds
// columns itself.
func DateTime(t time.Time) time.Time { return dateTime(t) }

// dateTime clamps a time into DateTime's range (1970 to 2105): a zero time.Time, which
// means "not set", is stored as 1970-01-01 rather than wrapping around.
func dateTime(t time.Time) time.Time {
	switch {
	case t.Unix() < 0:
		return time.Unix(0, 0).UTC()
	case t.Unix() > math.MaxUint32:
		return time.Unix(math.MaxUint32, 0).UTC()
	}
	return t
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func u16(n int) (uint16, error) {
	if n < 0 || n > math.MaxUint16 {
		return 0, fmt.Errorf("%d: %w", n, ErrOutOfRange)
	}
	return uint16(n), nil
}

func u32(n int) (uint32, error) {
	if n < 0 || int64(n) > math.MaxUint32 {
		return 0, fmt.Errorf("%d: %w", n, ErrOutOfRange)
	}
	return uint32(n), nil
}

func u32s(a, b, c int) ([3]uint32, error) {
	var out [3]uint32
	for i, n := range []int{a, b, c} {
		v, err := u32(n)
		if err != nil {
			return out, err
		}
		out[i] = v
	}
	return out, nil
}

func u32pair(a, b int) (uint32, uint32, error) {
	x, err := u32(a)
	if err != nil {
		return 0, 0, err
	}
	y, err := u32(b)
	return x, y, err
}

func u64pair(a, b int64) (uint64, uint64, error) {
	if a < 0 || b < 0 {
		return 0, 0, fmt.Errorf("%d, %d: %w", a, b, ErrOutOfRange)
	}
	return uint64(a), uint64(b), nil
}
