package consolidate

import (
	"slices"
	"testing"
	"time"

	"votestream/election"
	place "votestream/internal/partition"
	"votestream/schemas"
	"votestream/simulate"
)

// simNight is a seeded small simulated night as ingest would have written it to
// submissions.v1: reports with who sent them and when, and the SPREAD flag header on a
// report outside the volunteer's assignment (ingest's default spread policy).
type simNight struct {
	country *election.Country
	reports []simReport
	faults  []simulate.Fault
}

type simReport struct {
	rep   schemas.Report
	flags string // the "flags" header, "" for none
}

// ingestDelay is how long after sending ingest stamps received_at (a phone on 4G).
const ingestDelay = 2 * time.Second

// loadSimNight generates simulate.SmallConfig(seed) with every fault rate multiplied by
// faultScale (a small night has few faults at the real rates) and stationsScale of the real
// number of stations per constituency.
// Tweaks, if any, change the configuration after that (e.g. turn on block shifts).
func loadSimNight(t testing.TB, seed uint64, faultScale, stationsScale float64, tweaks ...func(*simulate.Config)) *simNight {
	t.Helper()
	cfg := simulate.SmallConfig(seed)
	cfg.Country.StationsScale = stationsScale
	f := &cfg.Night.Faults
	for _, r := range []*float64{&f.Typo, &f.SwappedDigits, &f.NumberSwap, &f.MissingParty, &f.Falsification, &f.Early, &f.PhotoReuse, &f.Spread} {
		*r *= faultScale
	}
	for _, tw := range tweaks {
		tw(&cfg)
	}
	sim, err := simulate.Generate(cfg)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	night, err := sim.Night()
	if err != nil {
		t.Fatalf("simulate night: %v", err)
	}
	n := &simNight{country: sim.Country, faults: night.Faults()}
	for ev := range night.Events() {
		r := simReport{rep: schemas.Report{
			Submission:  ev.Submission,
			VolunteerID: ev.Volunteer.ID,
			Org:         ev.Volunteer.Org,
			Role:        schemas.RoleStation,
			ReceivedAt:  ev.At.Add(ingestDelay),
			Hash:        schemas.CanonicalHash(ev.Submission),
		}}
		if !slices.Contains(ev.Volunteer.Stations, ev.Submission.StationID) {
			r.flags = schemas.AnomalySpread
		}
		n.reports = append(n.reports, r)
	}
	return n
}

func (n *simNight) rules(t testing.TB) *Rules {
	t.Helper()
	r := DefaultRules()
	r.Country = n.country
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return &r
}

// partitionOf is where every producer's partitioner (internal/partition: by constituency)
// puts a station's records among n partitions, so a run of the Ledger alone sees the same
// partitions as a run through Kafka.
func partitionOf(station string, n int) int32 { return place.For(station, n) }

// input decodes a simulated report as the runner would.
func (r simReport) input(t testing.TB, c *election.Country) (Input, error) {
	x, err := NewReport(r.rep, c)
	if err != nil {
		return Input{}, err
	}
	if r.flags != "" {
		x.IngestFlags = []string{r.flags}
	}
	return Input{Report: x}, nil
}

// runLedger consolidates the night with the Ledger alone, partitioned like the topics, and
// returns every output and the ledger.
func (n *simNight) runLedger(t testing.TB, partitions int) (*Ledger, []Output) {
	t.Helper()
	return n.runLedgerRules(t, partitions, n.rules(t))
}

func (n *simNight) runLedgerRules(t testing.TB, partitions int, rules *Rules) (*Ledger, []Output) {
	t.Helper()
	return n.runLedgerPlaced(t, partitions, rules, partitionOf)
}

// runLedgerBy is runLedger with another placement of stations on partitions.
func (n *simNight) runLedgerBy(t testing.TB, partitions int, placed func(station string, n int) int32) *Ledger {
	t.Helper()
	l, _ := n.runLedgerPlaced(t, partitions, n.rules(t), placed)
	return l
}

func (n *simNight) runLedgerPlaced(t testing.TB, partitions int, rules *Rules, placed func(string, int) int32) (*Ledger, []Output) {
	t.Helper()
	l := NewLedger(rules)
	for p := range partitions {
		l.AddPartition(int32(p))
	}
	var out []Output
	offsets := make([]int64, partitions)
	for _, r := range n.reports {
		p := placed(r.rep.StationID, partitions)
		l.Advance(p, 0, offsets[p])
		offsets[p]++
		in, err := r.input(t, n.country)
		if err != nil {
			continue // a dead letter
		}
		out = append(out, l.Apply(p, in)...)
		l.Commit()
	}
	return l, out
}

type simulateFault = simulate.Fault
