package main

// Roles whose issues are open: listed so --help tells the truth about them. Each moves to a
// file of its own when its role lands.
func init() {
	for _, c := range []*command{
		{name: "consolidate", summary: "deduplicate and consolidate reports into station results, flag anomalies", issue: 5},
		{name: "estimate", summary: "estimate party-list shares, seats and constituency leaders", issue: 6},
		{name: "backtest", summary: "replay a results set through the estimator and score it", issue: 6},
		{name: "feed", summary: "serve newsrooms the live results as HTTP JSON and SSE"},
		{name: "export", summary: "export results as Parquet files and Arrow streams"},
		{name: "bench", summary: "run the benchmarks and print BENCH lines"},
	} {
		if c.setup == nil {
			c.setup, c.notBuilt = notBuilt(c.issue), true
		}
		register(c)
	}
}
