package console

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/schemas"
)

// openWhere selects the open results of station_results_current: disputed, or carrying an
// anomaly nobody has resolved (a verified result is resolved, whatever it carries).
const openWhere = `(status = 'disputed' OR (status != 'verified' AND notEmpty(anomalies)))`

// store reads the console's view of the night from ClickHouse.
type store struct {
	conn    driver.Conn
	db      string
	country *election.Country
}

func (s *store) q(sql string) string { return strings.ReplaceAll(sql, "{db}", "`"+s.db+"`") }

// inList renders ids as a ClickHouse IN list of string literals. clickhouse-go binds a
// slice as an array, which IN refuses on 18.16; a literal list keeps the primary key usable.
func inList(ids []string) string {
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	var b strings.Builder
	b.WriteByte('(')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + esc.Replace(id) + "'")
	}
	b.WriteByte(')')
	return b.String()
}

func votesOf(nos []uint16, vs []uint32) map[string]int {
	m := make(map[string]int, len(nos))
	for i, no := range nos {
		if i < len(vs) {
			m[strconv.Itoa(int(no))] = int(vs[i])
		}
	}
	return m
}

// buildQueue reads every open item with its sources and anomalies, and the race totals
// that set its priority; the result is sorted.
func (s *store) buildQueue(ctx context.Context) ([]Item, error) {
	items, races, err := s.loadQueue(ctx)
	if err != nil {
		return nil, err
	}
	rankItems(items, races, s.country)
	return items, nil
}

// loadQueue reads every open item with its sources (and their track records), anomalies
// and escalations, and the race totals; nothing is ranked yet.
func (s *store) loadQueue(ctx context.Context) ([]Item, map[string]race, error) {
	items, idx, err := s.openResults(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(items) == 0 {
		return items, nil, nil
	}
	if err := s.addSources(ctx, items, idx); err != nil {
		return nil, nil, err
	}
	if err := s.addFlags(ctx, items, idx); err != nil {
		return nil, nil, err
	}
	if err := s.addEscalations(ctx, items, idx); err != nil {
		return nil, nil, err
	}
	races, err := s.races(ctx)
	if err != nil {
		return nil, nil, err
	}
	volunteers, orgs, err := s.records(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range items {
		for j := range items[i].Sources {
			src := &items[i].Sources[j]
			v, o := volunteers[src.VolunteerID], orgs[src.Org]
			if v.Reports > 0 || o.Reports > 0 {
				src.Track = &Track{Volunteer: v, Org: o}
			}
		}
	}
	return items, races, nil
}

// rankItems sets every item's priority and sorts the queue.
func rankItems(items []Item, races map[string]race, c *election.Country) {
	byKey := make(map[string]*Item, len(items))
	for i := range items {
		byKey[items[i].Key] = &items[i]
	}
	for i := range items {
		it := &items[i]
		rest := raceWithout(races, it)
		it.prioritise(rest, raceNames(c, it.Ballot, it.ConstituencyID), byKey[schemas.StationResultKey(it.StationID, otherBallot(it.Ballot))])
	}
	sortItems(items)
}

// otherBallot names the station's other ballot.
func otherBallot(b string) string {
	if b == string(election.BallotPartyList) {
		return string(election.BallotConstituency)
	}
	return string(election.BallotPartyList)
}

// raceKey names the race of a ballot: the constituency, or the nation for the party-list.
func raceKey(ballot, constituency string) string {
	if ballot == string(election.BallotPartyList) {
		return "partylist"
	}
	return "constituency/" + constituency
}

// raceWithout returns the race totals without the item's own current figures (which the
// totals hold unless the station is disputed).
func raceWithout(races map[string]race, it *Item) race {
	all := races[raceKey(it.Ballot, it.ConstituencyID)]
	rest := make(race, len(all))
	for no, v := range all {
		rest[no] = v
	}
	if it.Status != string(schemas.StatusDisputed) {
		for no, v := range it.Result.Votes {
			rest[no] -= v
		}
	}
	return rest
}

func (s *store) openResults(ctx context.Context) ([]Item, map[string]int, error) {
	rows, err := s.conn.Query(ctx, s.q(`SELECT station_id, ballot, version, constituency_id, status,
		ballots_cast, invalid, no_vote, vote_no, votes, source_submission_ids, anomalies, updated_at
		FROM {db}.station_results_current WHERE `+openWhere))
	if err != nil {
		return nil, nil, fmt.Errorf("console: open results: %w", err)
	}
	defer rows.Close()
	var items []Item
	idx := map[string]int{}
	for rows.Next() {
		var (
			it                 Item
			version            uint64
			cast, invalid, noV uint32
			nos                []uint16
			vs                 []uint32
			srcIDs, codes      []string
		)
		if err := rows.Scan(&it.StationID, &it.Ballot, &version, &it.ConstituencyID, &it.Status,
			&cast, &invalid, &noV, &nos, &vs, &srcIDs, &codes, &it.UpdatedAt); err != nil {
			return nil, nil, fmt.Errorf("console: open results: %w", err)
		}
		it.Key = schemas.StationResultKey(it.StationID, it.Ballot)
		it.Version = int64(version)
		it.Result = Figures{BallotsCast: int(cast), Invalid: int(invalid), NoVote: int(noV), Votes: votesOf(nos, vs)}
		it.Codes = codes
		if it.Codes == nil {
			it.Codes = []string{}
		}
		it.Flags, it.Sources, it.Evidence = []Flag{}, []Source{}, []string{}
		for _, id := range srcIDs {
			it.Sources = append(it.Sources, Source{SubmissionID: id, InResult: true})
		}
		s.describeStation(&it)
		idx[it.Key] = len(items)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("console: open results: %w", err)
	}
	return items, idx, nil
}

func (s *store) describeStation(it *Item) {
	if st, ok := s.country.StationByID(it.StationID); ok {
		it.StationNumber, it.Subdistrict = st.Number, st.Subdistrict
		if it.ConstituencyID == "" {
			it.ConstituencyID = st.ConstituencyID
		}
	}
	if c, ok := s.country.Constituency(it.ConstituencyID); ok {
		it.ProvinceID = c.ProvinceID
		name := it.ConstituencyID
		if p, ok := s.country.Province(c.ProvinceID); ok {
			name = fmt.Sprintf("%s เขต %d", p.NameTH, c.Number)
		}
		it.ConstituencyName = name
	}
}

// report is one row of the submissions table.
type report struct {
	Source
	StationID string
	Ballot    string
}

const reportColumns = `submission_id, station_id, ballot, stage, counted_at, received_at,
	ballots_cast, invalid, no_vote, vote_no, votes, evidence, volunteer_id, org`

func scanReports(rows driver.Rows) ([]report, error) {
	defer rows.Close()
	var out []report
	seen := map[string]bool{}
	for rows.Next() {
		var (
			r                  report
			cast, invalid, noV uint32
			nos                []uint16
			vs                 []uint32
		)
		if err := rows.Scan(&r.SubmissionID, &r.StationID, &r.Ballot, &r.Stage, &r.CountedAt, &r.ReceivedAt,
			&cast, &invalid, &noV, &nos, &vs, &r.Evidence, &r.VolunteerID, &r.Org); err != nil {
			return nil, err
		}
		if seen[r.SubmissionID] { // a re-delivered row not yet merged away
			continue
		}
		seen[r.SubmissionID] = true
		r.Figures = Figures{BallotsCast: int(cast), Invalid: int(invalid), NoVote: int(noV), Votes: votesOf(nos, vs)}
		if r.Evidence == nil {
			r.Evidence = []string{}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// addSources puts on each item every volunteer's newest report (a final before any
// progress count), marking those consolidate used.
func (s *store) addSources(ctx context.Context, items []Item, idx map[string]int) error {
	rows, err := s.conn.Query(ctx, s.q(`SELECT `+reportColumns+` FROM {db}.submissions
		WHERE station_id IN (SELECT station_id FROM {db}.station_results_current WHERE `+openWhere+`)`))
	if err != nil {
		return fmt.Errorf("console: sources: %w", err)
	}
	reports, err := scanReports(rows)
	if err != nil {
		return fmt.Errorf("console: sources: %w", err)
	}
	newest := map[string]report{} // key/volunteer
	for _, r := range reports {
		k := schemas.StationResultKey(r.StationID, r.Ballot) + "\x00" + r.VolunteerID
		if old, ok := newest[k]; !ok || laterReport(r, old) {
			newest[k] = r
		}
	}
	keys := make([]string, 0, len(newest))
	for k := range newest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := newest[k]
		i, ok := idx[schemas.StationResultKey(r.StationID, r.Ballot)]
		if !ok {
			continue
		}
		it := &items[i]
		used := slices.ContainsFunc(it.Sources, func(x Source) bool { return x.SubmissionID == r.SubmissionID })
		r.Source.InResult = used
		it.Sources = slices.DeleteFunc(it.Sources, func(x Source) bool { return x.SubmissionID == r.SubmissionID || x.VolunteerID == "" })
		it.Sources = append(it.Sources, r.Source)
		for _, e := range r.Evidence {
			if !slices.Contains(it.Evidence, e) {
				it.Evidence = append(it.Evidence, e)
			}
		}
	}
	for i := range items { // sources not (yet) in the submissions table
		items[i].Sources = slices.DeleteFunc(items[i].Sources, func(x Source) bool { return x.VolunteerID == "" })
		slices.SortStableFunc(items[i].Sources, func(a, b Source) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	}
	return nil
}

// laterReport: a final beats a progress count; then the newer.
func laterReport(a, b report) bool {
	if (a.Stage == string(schemas.StageFinal)) != (b.Stage == string(schemas.StageFinal)) {
		return a.Stage == string(schemas.StageFinal)
	}
	return a.ReceivedAt.After(b.ReceivedAt)
}

func scanFlag(rows driver.Rows) (Flag, string, string, error) {
	var (
		f               Flag
		station, ballot string
		keys, vals      []string
	)
	if err := rows.Scan(&f.AnomalyID, &f.Code, &f.Severity, &station, &ballot, &f.Message, &keys, &vals, &f.DetectedAt); err != nil {
		return f, "", "", err
	}
	if len(keys) > 0 {
		f.Evidence = make(map[string]string, len(keys))
		for i, k := range keys {
			if i < len(vals) {
				f.Evidence[k] = vals[i]
			}
		}
	}
	return f, station, ballot, nil
}

const flagColumns = `anomaly_id, code, severity, station_id, ballot, message, evidence_keys, evidence_values, detected_at`

// addFlags puts on each item the newest anomaly of each code open on its result.
func (s *store) addFlags(ctx context.Context, items []Item, idx map[string]int) error {
	rows, err := s.conn.Query(ctx, s.q(`SELECT `+flagColumns+` FROM {db}.anomalies
		WHERE station_id IN (SELECT station_id FROM {db}.station_results_current WHERE `+openWhere+`)
		ORDER BY detected_at DESC, anomaly_id`))
	if err != nil {
		return fmt.Errorf("console: anomalies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, station, ballot, err := scanFlag(rows)
		if err != nil {
			return fmt.Errorf("console: anomalies: %w", err)
		}
		for _, b := range ballotsOf(ballot) {
			i, ok := idx[schemas.StationResultKey(station, b)]
			if !ok {
				continue
			}
			it := &items[i]
			if !slices.Contains(it.Codes, f.Code) || slices.ContainsFunc(it.Flags, func(x Flag) bool { return x.Code == f.Code }) {
				continue
			}
			it.Flags = append(it.Flags, f)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("console: anomalies: %w", err)
	}
	for i := range items {
		it := &items[i]
		slices.SortFunc(it.Flags, func(a, b Flag) int {
			if d := severityWeight(b.Severity) - severityWeight(a.Severity); d != 0 {
				return d
			}
			return strings.Compare(a.Code, b.Code)
		})
	}
	return nil
}

// addEscalations marks the items a lead asked the war room to decide: reviews that neither
// accept a source nor enter figures (review.v1's escalate; the reviews table keeps them
// with an empty accept_submission_id and NULL figures). Any decision ends an escalation, since
// a decided station is verified and leaves the queue.
func (s *store) addEscalations(ctx context.Context, items []Item, idx map[string]int) error {
	rows, err := s.conn.Query(ctx, s.q(`SELECT station_id, ballot, reviewer_id, reason, received_at FROM {db}.reviews
		WHERE accept_submission_id = '' AND isNull(ballots_cast)
		AND station_id IN (SELECT station_id FROM {db}.station_results_current WHERE `+openWhere+`)
		ORDER BY received_at`))
	if err != nil {
		return fmt.Errorf("console: escalations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var station, ballot string
		var e Escalation
		if err := rows.Scan(&station, &ballot, &e.By, &e.Reason, &e.At); err != nil {
			return fmt.Errorf("console: escalations: %w", err)
		}
		if i, ok := idx[schemas.StationResultKey(station, ballot)]; ok {
			items[i].Escalated = &e // newest last
		}
	}
	return rows.Err()
}

// ballotsOf: an anomaly without a ballot (BALLOT_GAP compares both) belongs to both.
func ballotsOf(b string) []string {
	if b == "" {
		return []string{string(election.BallotConstituency), string(election.BallotPartyList)}
	}
	return []string{b}
}

// records reads every volunteer's and organisation's track record: their final reports on
// stations whose current result is settled (corroborated or verified), and how many had
// exactly the consolidated figures.
func (s *store) records(ctx context.Context) (volunteers, orgs map[string]Record, err error) {
	rows, err := s.conn.Query(ctx, s.q(`SELECT volunteer_id, org, uniqExact(submission_id),
		uniqExactIf(submission_id, ballots_cast = r_cast AND invalid = r_invalid AND no_vote = r_no_vote AND vote_no = r_vote_no AND votes = r_votes)
		FROM {db}.submissions
		ANY INNER JOIN (
			SELECT station_id, ballot, ballots_cast AS r_cast, invalid AS r_invalid, no_vote AS r_no_vote,
				vote_no AS r_vote_no, votes AS r_votes
			FROM {db}.station_results_current WHERE status IN ('corroborated', 'verified')
		) USING (station_id, ballot)
		WHERE stage = 'final'
		GROUP BY volunteer_id, org`))
	if err != nil {
		return nil, nil, fmt.Errorf("console: track records: %w", err)
	}
	defer rows.Close()
	volunteers, orgs = map[string]Record{}, map[string]Record{}
	for rows.Next() {
		var vol, org string
		var n, agreed uint64
		if err := rows.Scan(&vol, &org, &n, &agreed); err != nil {
			return nil, nil, fmt.Errorf("console: track records: %w", err)
		}
		r := volunteers[vol]
		r.Reports += int(n)
		r.Agreed += int(agreed)
		volunteers[vol] = r
		o := orgs[org]
		o.Reports += int(n)
		o.Agreed += int(agreed)
		orgs[org] = o
	}
	return volunteers, orgs, rows.Err()
}

// races reads the vote totals of every race over the current, non-disputed results.
func (s *store) races(ctx context.Context) (map[string]race, error) {
	rows, err := s.conn.Query(ctx, s.q(`SELECT constituency_id, ballot, number, votes FROM {db}.constituency_votes`))
	if err != nil {
		return nil, fmt.Errorf("console: race totals: %w", err)
	}
	defer rows.Close()
	out := map[string]race{}
	for rows.Next() {
		var (
			cons, ballot string
			no           uint16
			votes        uint64
		)
		if err := rows.Scan(&cons, &ballot, &no, &votes); err != nil {
			return nil, fmt.Errorf("console: race totals: %w", err)
		}
		k := raceKey(ballot, cons)
		if out[k] == nil {
			out[k] = race{}
		}
		out[k][strconv.Itoa(int(no))] += int(votes)
	}
	return out, rows.Err()
}
