// Package promreg is how every role puts its Prometheus metrics in the registry it was
// given (Config.Registerer): all of them or none, with an error that names the role.
package promreg

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers cs with reg; a nil reg registers nothing (the caller serves no
// metrics, or registers Collectors itself). On the first failure it unregisters what it
// registered and returns an error naming who ("feed: register metrics: ...").
func Register(reg prometheus.Registerer, who string, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("%s: register metrics: %w", who, err)
		}
	}
	return nil
}
