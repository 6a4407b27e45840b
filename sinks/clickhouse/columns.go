package clickhouse

import (
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/schemas/chtable"
)

// tableRows is what one insert writes into one table: rows held as chtable builds them
// for most record kinds, column by column for the two the fast reader takes (fastdecode.go).
type tableRows interface {
	table() chtable.Table
	len() int
	// appendTo appends every row to a batch prepared with table().InsertQuery("").
	appendTo(batch driver.Batch) error
	// merge appends o's rows (of the same table and type).
	merge(o tableRows)
}

// genericRows are rows as chtable.MessageRows makes them.
type genericRows struct{ chtable.Rows }

func (g *genericRows) table() chtable.Table { return g.Table }
func (g *genericRows) len() int             { return len(g.Rows.Rows) }
func (g *genericRows) merge(o tableRows) {
	g.Rows.Rows = append(g.Rows.Rows, o.(*genericRows).Rows.Rows...)
}

func (g *genericRows) appendTo(batch driver.Batch) error {
	for i, row := range g.Rows.Rows {
		if err := batch.Append(row...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

// insertBlockRows is the rows of one block of an insert: a round's rows of a table are
// sent as several blocks of one INSERT (the server squashes them into one part, as
// min_insert_block_size_rows says), so clickhouse-go's column buffers are filled, sent and
// reused at this size instead of growing, by doubling, to the whole round's bytes (their
// growth, and the copying into fresh memory and zeroing it, were about a quarter of the
// sink's CPU).
var insertBlockRows = 8192

// appendParts appends sets of whole columns (each in the table's column order, one set per
// poll of the round) to a batch, a block of at most insertBlockRows rows at a time; each
// block but the last is sent (batch.Flush) before the next is built, the last by the
// caller's Send.
func appendParts(batch driver.Batch, parts ...[]any) error {
	first := true
	for _, cols := range parts {
		n := columnLen(cols[0])
		for start := 0; start < n; start += insertBlockRows {
			if !first {
				if err := batch.Flush(); err != nil {
					return fmt.Errorf("send a block of rows: %w", err)
				}
			}
			first = false
			end := min(n, start+insertBlockRows)
			block := make([]any, len(cols))
			for i, col := range cols {
				block[i] = sliceColumn(col, start, end)
			}
			if err := appendBlock(batch, block); err != nil {
				return err
			}
		}
	}
	return nil
}

// columnLen is the rows of a column slice of appendParts.
func columnLen(col any) int {
	switch c := col.(type) {
	case []string:
		return len(c)
	case []uint64:
		return len(c)
	case []uint32:
		return len(c)
	case []time.Time:
		return len(c)
	case [][]string:
		return len(c)
	case [][]uint16:
		return len(c)
	case [][]uint32:
		return len(c)
	}
	panic(fmt.Sprintf("sink: column of %T", col))
}

// sliceColumn is rows [i, j) of a column slice of appendParts.
func sliceColumn(col any, i, j int) any {
	switch c := col.(type) {
	case []string:
		return c[i:j]
	case []uint64:
		return c[i:j]
	case []uint32:
		return c[i:j]
	case []time.Time:
		return c[i:j]
	case [][]string:
		return c[i:j]
	case [][]uint16:
		return c[i:j]
	case [][]uint32:
		return c[i:j]
	}
	panic(fmt.Sprintf("sink: column of %T", col))
}

// appendBlock appends whole columns to a batch: scalars in one call each, arrays row by
// row (clickhouse-go takes a typed slice per row without reflection, but a slice of slices
// through it).
func appendBlock(batch driver.Batch, cols []any) error {
	for i, col := range cols {
		bc := batch.Column(i)
		var err error
		switch c := col.(type) {
		case [][]string:
			for _, v := range c {
				if err = bc.AppendRow(v); err != nil {
					break
				}
			}
		case [][]uint16:
			for _, v := range c {
				if err = bc.AppendRow(v); err != nil {
					break
				}
			}
		case [][]uint32:
			for _, v := range c {
				if err = bc.AppendRow(v); err != nil {
					break
				}
			}
		default:
			err = bc.Append(col)
		}
		if err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// resultRow is one station_results row with the types of its columns (chtable.StationResultRow).
type resultRow struct {
	stationID, constituencyID, ballot                    string
	version                                              uint64
	status, stage                                        string
	ballotsCast, invalid, noVote                         uint32
	voteNo                                               []uint16
	votes                                                []uint32
	srcIDs, srcVolunteers, srcOrgs, srcStages, srcHashes []string
	anomalies                                            []string
	decidedBy                                            string
	countedAt, updatedAt                                 time.Time
}

// decodeResult reads a station-result.v1 value in the plain form into r; false means
// "not mine" (the general path decodes it, or refuses it).
func decodeResult(value string, r *resultRow, a *arena) bool {
	*r = resultRow{}
	l := lexer{s: value, a: a}
	ok := l.object(func(name string) (uint32, bool) {
		var ok bool
		switch name {
		case "station_id":
			r.stationID, ok = l.text()
			return 1 << 0, ok
		case "constituency_id":
			r.constituencyID, ok = l.text()
			return 1 << 1, ok
		case "ballot":
			r.ballot, ok = l.text()
			return 1 << 2, ok
		case "version":
			r.version, ok = l.uint(math.MaxInt64)
			return 1 << 3, ok
		case "status":
			r.status, ok = l.text()
			return 1 << 4, ok
		case "stage":
			r.stage, ok = l.text()
			return 1 << 5, ok
		case "ballots_cast":
			r.ballotsCast, ok = l.u32()
			return 1 << 6, ok
		case "invalid":
			r.invalid, ok = l.u32()
			return 1 << 7, ok
		case "no_vote":
			r.noVote, ok = l.u32()
			return 1 << 8, ok
		case "votes":
			r.voteNo, r.votes, ok = l.votes()
			return 1 << 9, ok
		case "sources":
			return 1 << 10, l.sources(r)
		case "anomalies":
			r.anomalies, ok = l.strings()
			return 1 << 11, ok
		case "decided_by":
			r.decidedBy, ok = l.text()
			return 1 << 12, ok
		case "counted_at":
			r.countedAt, ok = l.time()
			return 1 << 13, ok
		case "updated_at":
			r.updatedAt, ok = l.time()
			return 1 << 14, ok
		}
		return 0, false
	})
	if !ok || !l.end() {
		return false
	}
	// Absent arrays are stored empty, as chtable stores them.
	if r.voteNo == nil {
		r.voteNo, r.votes = []uint16{}, []uint32{}
	}
	if r.srcIDs == nil {
		r.srcIDs, r.srcVolunteers, r.srcOrgs, r.srcStages, r.srcHashes = []string{}, []string{}, []string{}, []string{}, []string{}
	}
	if r.anomalies == nil {
		r.anomalies = []string{}
	}
	r.countedAt, r.updatedAt = chtable.DateTime(r.countedAt), chtable.DateTime(r.updatedAt)
	return true
}

// sources reads a result's sources into its five parallel arrays.
func (l *lexer) sources(r *resultRow) bool {
	cols := &l.a.sources
	for i := range cols {
		cols[i] = cols[i][:0]
	}
	ok := l.array(func() bool {
		var s [5]string // submission_id, volunteer_id, org, stage, hash
		ok := l.object(func(name string) (uint32, bool) {
			i := 0
			switch name {
			case "submission_id":
			case "volunteer_id":
				i = 1
			case "org":
				i = 2
			case "stage":
				i = 3
			case "hash":
				i = 4
			default:
				return 0, false
			}
			var ok bool
			s[i], ok = l.text()
			return 1 << i, ok
		})
		for i := range cols {
			cols[i] = append(cols[i], s[i])
		}
		return ok
	})
	r.srcIDs, r.srcVolunteers, r.srcOrgs = keep(&l.a.str, cols[0]), keep(&l.a.str, cols[1]), keep(&l.a.str, cols[2])
	r.srcStages, r.srcHashes = keep(&l.a.str, cols[3]), keep(&l.a.str, cols[4])
	return ok
}

// resultColumns are station_results rows column by column.
type resultColumns struct {
	stationID, constituencyID, ballot                    []string
	version                                              []uint64
	status, stage                                        []string
	ballotsCast, invalid, noVote                         []uint32
	voteNo                                               [][]uint16
	votes                                                [][]uint32
	srcIDs, srcVolunteers, srcOrgs, srcStages, srcHashes [][]string
	anomalies                                            [][]string
	decidedBy                                            []string
	countedAt, updatedAt                                 []time.Time

	later []*resultColumns // the columns of later polls of the round, in poll order
}

func newResultColumns(n int) *resultColumns {
	return &resultColumns{
		stationID: make([]string, 0, n), constituencyID: make([]string, 0, n), ballot: make([]string, 0, n),
		version: make([]uint64, 0, n), status: make([]string, 0, n), stage: make([]string, 0, n),
		ballotsCast: make([]uint32, 0, n), invalid: make([]uint32, 0, n), noVote: make([]uint32, 0, n),
		voteNo: make([][]uint16, 0, n), votes: make([][]uint32, 0, n),
		srcIDs: make([][]string, 0, n), srcVolunteers: make([][]string, 0, n), srcOrgs: make([][]string, 0, n),
		srcStages: make([][]string, 0, n), srcHashes: make([][]string, 0, n), anomalies: make([][]string, 0, n),
		decidedBy: make([]string, 0, n), countedAt: make([]time.Time, 0, n), updatedAt: make([]time.Time, 0, n),
	}
}

func (c *resultColumns) add(r *resultRow) {
	c.stationID = append(c.stationID, r.stationID)
	c.constituencyID = append(c.constituencyID, r.constituencyID)
	c.ballot = append(c.ballot, r.ballot)
	c.version = append(c.version, r.version)
	c.status = append(c.status, r.status)
	c.stage = append(c.stage, r.stage)
	c.ballotsCast = append(c.ballotsCast, r.ballotsCast)
	c.invalid = append(c.invalid, r.invalid)
	c.noVote = append(c.noVote, r.noVote)
	c.voteNo = append(c.voteNo, r.voteNo)
	c.votes = append(c.votes, r.votes)
	c.srcIDs = append(c.srcIDs, r.srcIDs)
	c.srcVolunteers = append(c.srcVolunteers, r.srcVolunteers)
	c.srcOrgs = append(c.srcOrgs, r.srcOrgs)
	c.srcStages = append(c.srcStages, r.srcStages)
	c.srcHashes = append(c.srcHashes, r.srcHashes)
	c.anomalies = append(c.anomalies, r.anomalies)
	c.decidedBy = append(c.decidedBy, r.decidedBy)
	c.countedAt = append(c.countedAt, r.countedAt)
	c.updatedAt = append(c.updatedAt, r.updatedAt)
}

// columns are the column slices in chtable.StationResults' order.
func (c *resultColumns) columns() []any {
	return []any{
		c.stationID, c.constituencyID, c.ballot, c.version, c.status, c.stage,
		c.ballotsCast, c.invalid, c.noVote, c.voteNo, c.votes, c.srcIDs, c.srcVolunteers, c.srcOrgs, c.srcStages,
		c.srcHashes, c.anomalies, c.decidedBy, c.countedAt, c.updatedAt,
	}
}

func (c *resultColumns) table() chtable.Table { return chtable.StationResults }
func (c *resultColumns) len() int {
	n := len(c.stationID)
	for _, l := range c.later {
		n += len(l.stationID)
	}
	return n
}
func (c *resultColumns) appendTo(batch driver.Batch) error {
	parts := [][]any{c.columns()}
	for _, l := range c.later {
		parts = append(parts, l.columns())
	}
	return appendParts(batch, parts...)
}

// merge keeps o's columns, of a later poll, apart: appendTo sends them after c's (copying
// them into c's was about a twentieth of the sink's CPU, write barriers included).
func (c *resultColumns) merge(o tableRows) {
	d := o.(*resultColumns)
	c.later = append(append(c.later, d), d.later...)
	d.later = nil
}

// reportRow is one submissions row with the types of its columns (chtable.ReportRow).
type reportRow struct {
	submissionID, stationID, ballot, stage string
	countedAt                              time.Time
	ballotsCast, invalid, noVote           uint32
	voteNo                                 []uint16
	votes                                  []uint32
	evidence                               []string
	volunteerID, org, role                 string
	receivedAt                             time.Time
	hash                                   string
}

// decodeReport reads a report.v1 value in the plain form into r; false means "not mine".
func decodeReport(value string, r *reportRow, a *arena) bool {
	*r = reportRow{}
	l := lexer{s: value, a: a}
	ok := l.object(func(name string) (uint32, bool) {
		var ok bool
		switch name {
		case "submission_id":
			r.submissionID, ok = l.text()
			return 1 << 0, ok
		case "station_id":
			r.stationID, ok = l.text()
			return 1 << 1, ok
		case "ballot":
			r.ballot, ok = l.text()
			return 1 << 2, ok
		case "stage":
			r.stage, ok = l.text()
			return 1 << 3, ok
		case "counted_at":
			r.countedAt, ok = l.time()
			return 1 << 4, ok
		case "ballots_cast":
			r.ballotsCast, ok = l.u32()
			return 1 << 5, ok
		case "invalid":
			r.invalid, ok = l.u32()
			return 1 << 6, ok
		case "no_vote":
			r.noVote, ok = l.u32()
			return 1 << 7, ok
		case "votes":
			r.voteNo, r.votes, ok = l.votes()
			return 1 << 8, ok
		case "evidence":
			r.evidence, ok = l.strings()
			return 1 << 9, ok
		case "volunteer_id":
			r.volunteerID, ok = l.text()
			return 1 << 10, ok
		case "org":
			r.org, ok = l.text()
			return 1 << 11, ok
		case "role":
			r.role, ok = l.text()
			return 1 << 12, ok
		case "received_at":
			r.receivedAt, ok = l.time()
			return 1 << 13, ok
		case "hash":
			r.hash, ok = l.text()
			return 1 << 14, ok
		case "person": // not stored
			_, ok = l.text()
			return 1 << 15, ok
		}
		return 0, false
	})
	if !ok || !l.end() {
		return false
	}
	if r.voteNo == nil {
		r.voteNo, r.votes = []uint16{}, []uint32{}
	}
	if r.evidence == nil {
		r.evidence = []string{}
	}
	r.countedAt, r.receivedAt = chtable.DateTime(r.countedAt), chtable.DateTime(r.receivedAt)
	return true
}

// reportColumns are submissions rows column by column.
type reportColumns struct {
	submissionID, stationID, ballot, stage []string
	countedAt                              []time.Time
	ballotsCast, invalid, noVote           []uint32
	voteNo                                 [][]uint16
	votes                                  [][]uint32
	evidence                               [][]string
	volunteerID, org, role                 []string
	receivedAt                             []time.Time
	hash                                   []string

	later []*reportColumns // the columns of later polls of the round, in poll order
}

func newReportColumns(n int) *reportColumns {
	return &reportColumns{
		submissionID: make([]string, 0, n), stationID: make([]string, 0, n), ballot: make([]string, 0, n),
		stage: make([]string, 0, n), countedAt: make([]time.Time, 0, n),
		ballotsCast: make([]uint32, 0, n), invalid: make([]uint32, 0, n), noVote: make([]uint32, 0, n),
		voteNo: make([][]uint16, 0, n), votes: make([][]uint32, 0, n), evidence: make([][]string, 0, n),
		volunteerID: make([]string, 0, n), org: make([]string, 0, n), role: make([]string, 0, n),
		receivedAt: make([]time.Time, 0, n), hash: make([]string, 0, n),
	}
}

func (c *reportColumns) add(r *reportRow) {
	c.submissionID = append(c.submissionID, r.submissionID)
	c.stationID = append(c.stationID, r.stationID)
	c.ballot = append(c.ballot, r.ballot)
	c.stage = append(c.stage, r.stage)
	c.countedAt = append(c.countedAt, r.countedAt)
	c.ballotsCast = append(c.ballotsCast, r.ballotsCast)
	c.invalid = append(c.invalid, r.invalid)
	c.noVote = append(c.noVote, r.noVote)
	c.voteNo = append(c.voteNo, r.voteNo)
	c.votes = append(c.votes, r.votes)
	c.evidence = append(c.evidence, r.evidence)
	c.volunteerID = append(c.volunteerID, r.volunteerID)
	c.org = append(c.org, r.org)
	c.role = append(c.role, r.role)
	c.receivedAt = append(c.receivedAt, r.receivedAt)
	c.hash = append(c.hash, r.hash)
}

// columns are the column slices in chtable.Submissions' order.
func (c *reportColumns) columns() []any {
	return []any{
		c.submissionID, c.stationID, c.ballot, c.stage, c.countedAt, c.ballotsCast, c.invalid, c.noVote,
		c.voteNo, c.votes, c.evidence, c.volunteerID, c.org, c.role, c.receivedAt, c.hash,
	}
}

func (c *reportColumns) table() chtable.Table { return chtable.Submissions }
func (c *reportColumns) len() int {
	n := len(c.submissionID)
	for _, l := range c.later {
		n += len(l.submissionID)
	}
	return n
}
func (c *reportColumns) appendTo(batch driver.Batch) error {
	parts := [][]any{c.columns()}
	for _, l := range c.later {
		parts = append(parts, l.columns())
	}
	return appendParts(batch, parts...)
}

// merge keeps o's columns, of a later poll, apart: appendTo sends them after c's (copying
// them into c's was about a twentieth of the sink's CPU, write barriers included).
func (c *reportColumns) merge(o tableRows) {
	d := o.(*reportColumns)
	c.later = append(append(c.later, d), d.later...)
	d.later = nil
}
