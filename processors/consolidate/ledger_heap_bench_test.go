package consolidate

import (
	"encoding/json"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"votestream/simulate"
)

// BenchmarkLedgerHeap is the live heap the Ledger holds per report after a simulated night
// (issue 18: consolidate's state is what a night's memory is made of), reports decoded from
// JSON as the runner gets them. Set VOTESTREAM_HEAP_PROFILE to a file name for a heap
// profile taken with the Ledger live.
func BenchmarkLedgerHeap(b *testing.B) {
	// Provinces and constituencies as in bench/consolidate, tally boards as bench/night's
	// national night (-progress-updates 7.5).
	n := loadSimNight(b, 7, 1, 1, func(c *simulate.Config) {
		c.Country.Provinces, c.Country.Constituencies, c.Night.ProgressUpdates = 20, 60, 7.5
	})
	raws := make([][]byte, 0, len(n.reports))
	flags := make([]string, 0, len(n.reports))
	for _, r := range n.reports {
		raw, err := json.Marshal(r.rep)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
		flags = append(flags, r.flags)
	}
	n.reports = nil
	rules := n.rules(b)
	b.ResetTimer()
	for range b.N {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		l := NewLedger(rules)
		for p := range 6 {
			l.AddPartition(int32(p))
		}
		applied := 0
		for i, raw := range raws {
			var r simReport
			if err := json.Unmarshal(raw, &r.rep); err != nil {
				b.Fatal(err)
			}
			r.flags = flags[i]
			in, err := r.input(b, n.country)
			if err != nil {
				continue
			}
			p := partitionOf(r.rep.StationID, 6)
			l.Advance(p, 0, int64(i))
			l.Apply(p, in)
			if i%1000 == 999 {
				l.Commit()
			}
			applied++
		}
		l.Commit()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(applied), "heap-bytes/report")
		b.ReportMetric(float64(applied), "reports")
		if f := os.Getenv("VOTESTREAM_HEAP_PROFILE"); f != "" {
			w, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
				b.Fatal(err)
			}
			w.Close()
		}
		runtime.KeepAlive(l)
	}
}
