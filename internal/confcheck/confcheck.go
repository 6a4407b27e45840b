// Package confcheck is what every role's Config.Validate shares: the error that wraps the
// role's ErrConfig, and the checks of the Kafka and reference-data fields most roles have,
// worded the same everywhere.
package confcheck

import (
	"fmt"

	"votestream/election"
)

// Bad returns the error maker of a Validate: bad(format, args...) wraps sentinel (the
// role's ErrConfig, matched with errors.Is) with the formatted message.
func Bad(sentinel error) func(format string, a ...any) error {
	return func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, a...))
	}
}

// Source checks what a role reading Kafka against the reference data needs: seed brokers
// and an indexed Country.
func Source(sentinel error, seeds []string, country *election.Country) error {
	if len(seeds) == 0 {
		return Bad(sentinel)("no Kafka seed brokers")
	}
	return Country(sentinel, country)
}

// Country checks that the reference data is there and indexed.
func Country(sentinel error, country *election.Country) error {
	switch {
	case country == nil:
		return Bad(sentinel)("no reference data (Country)")
	case !country.Indexed():
		return Bad(sentinel)("reference data not indexed")
	}
	return nil
}
