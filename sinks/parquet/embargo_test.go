package parquet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExportEmbargo: before polls close the export refuses and writes nothing (it fails
// before dialling the broker, which here does not exist); the war room may override it.
func TestExportEmbargo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "export")
	cfg := DefaultConfig()
	cfg.Seeds, cfg.Country, cfg.OutDir = []string{"127.0.0.1:1"}, smallCountry(t), out
	cfg.PollsClose = bkk(17, 0)
	cfg.Now = func() time.Time { return bkk(16, 59) }
	cfg.StartTimeout, cfg.IdleTimeout = time.Second, time.Second
	_, err := Export(context.Background(), cfg)
	if !errors.Is(err, ErrEmbargoed) {
		t.Fatalf("export at 16:59: %v, want ErrEmbargoed", err)
	}
	t.Log(err)
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Fatalf("an embargoed export made its folder: %v", serr)
	}
	for name, mod := range map[string]func(*ExportConfig){
		"at polls close": func(c *ExportConfig) { c.Now = func() time.Time { return bkk(17, 0) } },
		"ignore embargo": func(c *ExportConfig) { c.IgnoreEmbargo = true },
	} {
		c := cfg
		mod(&c)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := Export(ctx, c) // gets past the embargo, then fails on the absent broker
		cancel()
		if err == nil || errors.Is(err, ErrEmbargoed) {
			t.Errorf("%s: %v, want past the embargo to the broker", name, err)
		}
	}
}
