package feed

import (
	"errors"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	c := smallCountry(t)
	good := func() Config {
		cfg := DefaultConfig()
		cfg.Seeds, cfg.Country, cfg.KeysFile = []string{"127.0.0.1:9092"}, c, "keys"
		return cfg
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("defaults with the required fields: %v", err)
	}
	tests := map[string]func(*Config){
		"no seeds":            func(c *Config) { c.Seeds = nil },
		"no country":          func(c *Config) { c.Country = nil },
		"no keys":             func(c *Config) { c.KeysFile = "" },
		"no listen":           func(c *Config) { c.Listen = "" },
		"no streams":          func(c *Config) { c.MaxStreamsPerNewsroom = 0 },
		"lag as big as ring":  func(c *Config) { c.ClientLag = c.RingSize },
		"no lag":              func(c *Config) { c.ClientLag = 0 },
		"tiny ring":           func(c *Config) { c.RingSize, c.ClientLag = 1, 1 },
		"no heartbeat":        func(c *Config) { c.Heartbeat = 0 },
		"no write timeout":    func(c *Config) { c.WriteTimeout = 0 },
		"no estimate backlog": func(c *Config) { c.EstimateBacklog = 0 },
		"no catch-up idle":    func(c *Config) { c.CatchUpIdle = 0 },
		"no start timeout":    func(c *Config) { c.StartTimeout = 0 },
		"no shutdown grace":   func(c *Config) { c.ShutdownGrace = 0 },
		"negative reload":     func(c *Config) { c.KeysReload = -1 },
	}
	for name, mod := range tests {
		cfg := good()
		mod(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
