package main

// Roles whose issues are open: listed so --help tells the truth about them. Each moves to a
// file of its own when its role lands.
func init() {
	for _, c := range []*command{
		{name: "bench", summary: "run the benchmarks and print BENCH lines"},
	} {
		if c.setup == nil {
			c.setup, c.notBuilt = notBuilt(c.issue), true
		}
		register(c)
	}
}
