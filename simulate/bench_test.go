package simulate

import (
	"testing"
	"time"
)

// BenchmarkWriteNationalCountry generates a full national country, its true results and
// night plan, and writes every file of `votestream simulate country`.
//
//	go test -run '^$' -bench WriteNationalCountry -benchtime 1x ./simulate/
func BenchmarkWriteNationalCountry(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		start := time.Now()
		s, err := Generate(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		generated := time.Since(start)
		if err := s.Write(dir); err != nil {
			b.Fatal(err)
		}
		written := time.Since(start)
		n, err := s.Night()
		if err != nil {
			b.Fatal(err)
		}
		if err := n.WriteRoster(dir); err != nil {
			b.Fatal(err)
		}
		if err := n.WriteFaults(dir); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(generated.Seconds(), "s-generate")
		b.ReportMetric(written.Seconds(), "s-generate+write")
		b.ReportMetric(time.Since(start).Seconds(), "s-all")
		b.ReportMetric(float64(len(s.Country.Stations)), "stations")
		b.ReportMetric(float64(n.Len()), "submissions")
	}
}

// BenchmarkNightEvents builds every submission of a national night, as Replay consumes them.
//
//	go test -run '^$' -bench NightEvents -benchtime 1x ./simulate/
func BenchmarkNightEvents(b *testing.B) {
	s, err := Generate(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	n, err := s.Night()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		count := 0
		for range n.Events() {
			count++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(count), "ns/submission")
	}
}
