package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// withPprof adds Go's profiler (/debug/pprof/) to a metrics listener when VOTESTREAM_PPROF
// is 1: off by default, since a profile costs CPU and shows the process's internals; the
// benchmarks turn it on (bench/night -profile).
func withPprof(next http.Handler) http.Handler {
	if os.Getenv("VOTESTREAM_PPROF") != "1" {
		return next
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", next)
	return mux
}
