package roster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/internal/chquery"
	"votestream/schemas/chtable"
)

// RosterRows are the ClickHouse roster rows of entries: one per volunteer and station of
// their scope (a lead or the war room: one row with no station). Hashes only: no name, no
// phone number. country maps each station to its constituency.
func RosterRows(entries []Entry, country *election.Country, importedAt time.Time) ([][]any, error) {
	var rows [][]any
	for _, e := range entries {
		if len(e.Stations) == 0 {
			rows = append(rows, chtable.RosterRow(e.Org, e.VolunteerID(), e.PhoneHash, e.Role, "", e.Constituency, importedAt))
			continue
		}
		for _, id := range e.Stations {
			st, ok := country.StationByID(id)
			if !ok {
				return nil, fmt.Errorf("%w: %s:%d: station %s is not in the reference data", ErrBadRoster, e.Source, e.Line, id)
			}
			rows = append(rows, chtable.RosterRow(e.Org, e.VolunteerID(), e.PhoneHash, e.Role, id, st.ConstituencyID, importedAt))
		}
	}
	return rows, nil
}

// WriteRoster inserts the roster rows of entries in one batch. Each organisation's newest
// import is the one coverage counts, so importing again replaces, it does not add up.
func WriteRoster(ctx context.Context, conn driver.Conn, entries []Entry, country *election.Country, importedAt time.Time) (int, error) {
	if country == nil {
		return 0, errors.New("roster: writing the roster to ClickHouse needs the reference data (--ref)")
	}
	rows, err := RosterRows(entries, country, importedAt)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	batch, err := conn.PrepareBatch(ctx, chtable.Roster.InsertQuery(""))
	if err != nil {
		return 0, fmt.Errorf("roster: ClickHouse: %w", err)
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			_ = batch.Abort()
			return 0, fmt.Errorf("roster: ClickHouse: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("roster: ClickHouse: %w", err)
	}
	return len(rows), nil
}

// ConstituencyCoverage is how well one constituency's stations are covered before the
// night: by the newest roster of each organisation, accepted claims and reassignments.
type ConstituencyCoverage struct {
	ConstituencyID string
	Stations       uint64 // in the reference data
	None           uint64 // with no volunteer
	One            uint64 // with exactly one
	TwoPlus        uint64 // with two or more
	MultiOrg       uint64 // with volunteers from two or more organisations
	Orgs           uint64 // organisations with a volunteer at any station of it
}

// Coverage reads the station_coverage view, per constituency, worst covered first.
func Coverage(ctx context.Context, conn driver.Conn) ([]ConstituencyCoverage, error) {
	// station_coverage gives volunteers and orgs per station; the organisations of a whole
	// constituency come from the same sources, counted once.
	out, err := chquery.All(ctx, conn, func(rows driver.Rows) (ConstituencyCoverage, error) {
		var c ConstituencyCoverage
		err := rows.Scan(&c.ConstituencyID, &c.Stations, &c.None, &c.One, &c.TwoPlus, &c.MultiOrg, &c.Orgs)
		return c, err
	}, `
SELECT c.constituency_id, c.stations, c.none, c.one, c.two_plus, c.multi_org, o.orgs
FROM (
    SELECT constituency_id, count() AS stations, countIf(volunteers = 0) AS none, countIf(volunteers = 1) AS one,
           countIf(volunteers >= 2) AS two_plus, countIf(orgs >= 2) AS multi_org
    FROM station_coverage GROUP BY constituency_id
) AS c
ANY LEFT JOIN (
    SELECT constituency_id, uniqExact(org) AS orgs
    FROM (
        SELECT constituency_id, org FROM roster
        WHERE role = 'station' AND station_id != '' AND (org, imported_at) IN (SELECT org, max(imported_at) FROM roster GROUP BY org)
        UNION ALL
        SELECT constituency_id, org FROM field_events WHERE kind IN ('claim', 'assign') AND status IN ('', 'accepted')
    )
    GROUP BY constituency_id
) AS o USING constituency_id
ORDER BY c.none * 1000000 / c.stations DESC, c.constituency_id`)
	if err != nil {
		return nil, fmt.Errorf("roster: coverage: %w", err)
	}
	return out, nil
}

// UncoveredStations lists the stations no volunteer covers, by constituency then id.
func UncoveredStations(ctx context.Context, conn driver.Conn) ([]string, error) {
	out, err := chquery.All(ctx, conn, func(rows driver.Rows) (string, error) {
		var id string
		err := rows.Scan(&id)
		return id, err
	}, `SELECT station_id FROM station_coverage WHERE volunteers = 0 ORDER BY constituency_id, station_id`)
	if err != nil {
		return nil, fmt.Errorf("roster: uncovered stations: %w", err)
	}
	return out, nil
}

// WriteCoverage prints the coverage table and a total line.
func WriteCoverage(w io.Writer, cov []ConstituencyCoverage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "constituency\tstations\tno volunteer\t1 volunteer\t2+ volunteers\t2+ orgs\torgs\tuncovered %\t")
	var tot ConstituencyCoverage
	for _, c := range cov {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", c.ConstituencyID, c.Stations, c.None, c.One, c.TwoPlus, c.MultiOrg, c.Orgs, pct(c.None, c.Stations))
		tot.Stations += c.Stations
		tot.None += c.None
		tot.One += c.One
		tot.TwoPlus += c.TwoPlus
		tot.MultiOrg += c.MultiOrg
	}
	fmt.Fprintf(tw, "all %d\t%d\t%d\t%d\t%d\t%d\t\t%s\t\n", len(cov), tot.Stations, tot.None, tot.One, tot.TwoPlus, tot.MultiOrg, pct(tot.None, tot.Stations))
	return tw.Flush()
}

func pct(n, of uint64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(n)*100/float64(of))
}
