package consolidate

import "testing"

// BenchmarkLedger is the pure logic's share of the work: decoding aside, how many reports
// a second the Ledger applies on a simulated night.
func BenchmarkLedger(b *testing.B) {
	n := loadSimNight(b, 7, 1, 0.5)
	ins := make([]Input, 0, len(n.reports))
	parts := make([]int32, 0, len(n.reports))
	for _, r := range n.reports {
		in, err := r.input(b, n.country)
		if err != nil {
			continue
		}
		ins = append(ins, in)
		parts = append(parts, partitionOf(r.rep.StationID, 6))
	}
	rules := n.rules(b)
	b.ResetTimer()
	for range b.N {
		l := NewLedger(rules)
		for p := range 6 {
			l.AddPartition(int32(p))
		}
		for i, in := range ins {
			l.Advance(parts[i], 0, int64(i))
			l.Apply(parts[i], in)
			if i%1000 == 999 {
				l.Commit()
			}
		}
	}
	b.ReportMetric(float64(len(ins)*b.N)/b.Elapsed().Seconds(), "reports/s")
}
