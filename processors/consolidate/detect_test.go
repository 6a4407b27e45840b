package consolidate

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"votestream/schemas"
	"votestream/simulate"
)

// detection scores the anomalies raised on a simulated night against its fault labels.
type detection struct {
	code                       string
	labels, found              int // labels of this code, and those an anomaly of the code names
	raised, matched, explained int // anomalies of this code, those naming a label of the code, those naming any fault
}

// names reports whether anomaly a is about labelled submission f: it lists the submission,
// or (a flag on figures without submissions) it is on the same station and ballot.
func names(a *schemas.Anomaly, f simulate.Fault) bool {
	if slices.Contains(a.Submissions, f.SubmissionID) {
		return true
	}
	return len(a.Submissions) == 0 && a.StationID == f.StationID && (a.Ballot == "" || a.Ballot == string(f.Ballot))
}

func score(faults []simulate.Fault, anomalies []*schemas.Anomaly) []detection {
	var out []detection
	for _, code := range schemas.AnomalyCodes {
		d := detection{code: code}
		for _, f := range faults {
			if f.Anomaly != code {
				continue
			}
			d.labels++
			if slices.ContainsFunc(anomalies, func(a *schemas.Anomaly) bool { return a.Code == code && names(a, f) }) {
				d.found++
			}
		}
		for _, a := range anomalies {
			if a.Code != code {
				continue
			}
			d.raised++
			if slices.ContainsFunc(faults, func(f simulate.Fault) bool { return f.Anomaly == code && names(a, f) }) {
				d.matched++
			}
			if slices.ContainsFunc(faults, func(f simulate.Fault) bool {
				return f.Kind != simulate.FaultDuplicate && (slices.Contains(a.Submissions, f.SubmissionID) ||
					a.StationID == f.StationID && (a.Ballot == "" || a.Ballot == string(f.Ballot)))
			}) {
				d.explained++
			}
		}
		out = append(out, d)
	}
	return out
}

func ratio(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func table(ds []detection) string {
	var b strings.Builder
	b.WriteString("| code | labelled | found | recall | raised | precision | explained by a fault |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, d := range ds {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %s | %s |\n", d.code, d.labels, d.found, ratio(d.found, d.labels),
			d.raised, ratio(d.matched, d.raised), ratio(d.explained, d.raised))
	}
	return b.String()
}

// detectionFaultScale multiplies the simulator's fault rates on the scored night: at the real
// rates a small night has too few faults to score.
const detectionFaultScale = 10

// detectionStationsScale gives constituencies about half their real number of stations, so
// each of the six partitions holds enough of a constituency (about 20 stations) for the
// outlier statistics.
const detectionStationsScale = 0.5

// TestDetection runs a seeded small simulated night through the Ledger, partitioned as on
// the six-partition topics, and scores every anomaly code against the simulator's labels.
// Set VOTESTREAM_DETECTION_TABLE=path to write the markdown table (docs/consolidation.md
// quotes it).
func TestDetection(t *testing.T) {
	n := loadSimNight(t, 7, detectionFaultScale, detectionStationsScale)
	_, out := n.runLedger(t, 6)
	var anomalies []*schemas.Anomaly
	for _, o := range out {
		if o.Anomaly != nil {
			anomalies = append(anomalies, o.Anomaly)
		}
	}
	ds := score(n.faults, anomalies)
	tab := table(ds)
	t.Logf("%d reports, %d fault labels, %d anomalies\n%s", len(n.reports), len(n.faults), len(anomalies), tab)
	if path := os.Getenv("VOTESTREAM_DETECTION_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(tab), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Floors well under what the night gives, so a regression in a detector fails loudly
	// while the simulator's randomness has room.
	floors := map[string]float64{
		schemas.AnomalyArith: 0.95, schemas.AnomalyEarly: 0.95, schemas.AnomalyPhotoReuse: 0.95,
		schemas.AnomalySpread: 0.95, schemas.AnomalyConflict: 0.9, schemas.AnomalyNumberSwap: 0.8,
	}
	for _, d := range ds {
		if f, ok := floors[d.code]; ok && d.labels > 0 && float64(d.found)/float64(d.labels) < f {
			t.Errorf("%s: recall %d/%d below %.2f", d.code, d.found, d.labels, f)
		}
	}
	if len(n.faults) == 0 {
		t.Fatal("the simulated night has no faults to detect")
	}
}
