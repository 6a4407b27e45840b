package consolidate

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkLedger is the pure logic's share of the work: decoding aside, how many reports
// a second the Ledger applies on a simulated night, and the CPU time the process spent per
// report (user and system, the collector's too): on a machine shared with other work the
// CPU time moves less than the wall time.
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
	cpu0 := cpuTime()
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(len(ins)*b.N), "cpu-ns/report")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
