package estimate

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"votestream/election"
)

func TestBacktestReplaysANight(t *testing.T) {
	c, r := syntheticNight(t, 11, 12, 40)
	for _, order := range []Order{OrderBiased, OrderRandom, OrderFile} {
		cfg := DefaultBacktestConfig()
		cfg.Order, cfg.Steps = order, 10
		cfg.Method.PriorityMinStations = 10 // so that the priority sample is used late in the night
		table, err := Backtest(context.Background(), c, r, cfg)
		if err != nil {
			t.Fatalf("%s: %v", order, err)
		}
		if len(table.Rows) < 10 {
			t.Fatalf("%s: %d rows, want at least the 10 steps", order, len(table.Rows))
		}
		for i, row := range table.Rows {
			if i > 0 && (row.StationsReported <= table.Rows[i-1].StationsReported || row.MinutesAfterClose < table.Rows[i-1].MinutesAfterClose) {
				t.Errorf("%s: row %d does not move forward: %+v after %+v", order, i, row, table.Rows[i-1])
			}
			if row.CalledWrong != 0 {
				t.Errorf("%s: %d wrong calls at %.0f %%", order, row.CalledWrong, 100*row.ShareReported)
			}
		}
		if !table.Rows[len(table.Rows)-2].PriorityUsed {
			t.Errorf("%s: the priority sample was not used at %.0f %%", order, 100*table.Rows[len(table.Rows)-2].ShareReported)
		}
		last := table.Rows[len(table.Rows)-1]
		if last.StationsReported != len(c.Stations) || last.MaxShareError != 0 || last.Coverage() != 1 || last.SeatsOff != 0 ||
			last.Called != len(c.Constituencies) || last.LeadersWrong != 0 {
			t.Errorf("%s: the final row is not the count: %+v", order, last)
		}
		var buf bytes.Buffer
		if err := table.WriteCSV(&buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(table.Rows)+1 || recs[0][0] != "stations_reported" || recs[0][4] != "max_share_error_pts" {
			t.Errorf("%s: CSV has %d records, header %v", order, len(recs), recs[0])
		}
		buf.Reset()
		if err := table.Format(&buf); err != nil || !strings.Contains(buf.String(), "max err at 10 %") {
			t.Errorf("%s: Format: %v\n%s", order, err, buf.String())
		}
	}
}

// The biased order puts small stations first; the file order follows report_times.csv.
func TestBacktestOrders(t *testing.T) {
	c, r := syntheticNight(t, 2, 4, 30)
	order, times, err := replayOrder(c, r, BacktestConfig{Order: OrderFile, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(order); i++ {
		if times[i] < times[i-1] || r.ReportTimes[c.Stations[order[i]].ID] != times[i] {
			t.Fatalf("file order broken at %d", i)
		}
	}
	noTimes := &election.Results{Tallies: r.Tallies}
	if _, _, err := replayOrder(c, noTimes, BacktestConfig{Order: OrderFile}); !errors.Is(err, ErrNoReportTimes) {
		t.Errorf("file order without report times: %v", err)
	}
	order, _, err = replayOrder(c, noTimes, BacktestConfig{Order: OrderBiased, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	half := len(order) / 2
	var early, late float64
	for i, si := range order {
		if i < half {
			early += float64(c.Stations[si].EligibleVoters)
		} else {
			late += float64(c.Stations[si].EligibleVoters)
		}
	}
	if early >= late {
		t.Errorf("modelled biased order: the first half has %v eligible voters, the second %v; small stations should come first", early, late)
	}
	cfg := DefaultBacktestConfig()
	cfg.Order = "alphabetical"
	if _, err := Backtest(context.Background(), c, r, cfg); !errors.Is(err, ErrBadOrder) {
		t.Errorf("bad order: %v", err)
	}
}
