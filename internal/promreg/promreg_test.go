package promreg

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if err := Register(reg, "x", a, b); err != nil {
		t.Fatal(err)
	}
	// A second role with the same series: refused, and its first collector taken back out.
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "c"})
	b2 := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	err := Register(reg, "second", c, b2)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) || !strings.HasPrefix(err.Error(), "second: register metrics:") {
		t.Fatalf("err %v", err)
	}
	if !reg.Unregister(a) || reg.Unregister(c) {
		t.Fatal("want a still registered and c taken back out")
	}
	if err := Register(nil, "none", a); err != nil {
		t.Fatalf("nil registerer: %v", err)
	}
}
