package roster

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestImportPersonalLinks(t *testing.T) {
	now := time.Date(2023, 5, 10, 9, 0, 0, 0, time.UTC)
	dir, cfg := importConfig(t, map[string]string{"ilaw.csv": ilawRoster}, now, "ilaw.csv")
	cfg.LinkBase = "https://report.example.org/"
	cfg.QRDir = filepath.Join(dir, "qr")
	sum, err := Import(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(cfg.Out)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || rows[0][6] != "link" || len(rows) != sum.Issued+1 || sum.QRCodes != sum.Issued {
		t.Fatalf("tokens file %v %v, summary %+v", err, rows, sum)
	}
	keys := bothRings(t, cfg)
	for _, row := range rows[1:] {
		if row[6] != "https://report.example.org/#t="+row[5] {
			t.Fatalf("link %q for token %q", row[6], row[5])
		}
		c, err := keys.Verify(row[5], now)
		if err != nil || !c.Bind {
			t.Fatalf("a personal link's token must be bound to a phone: %+v %v", c, err)
		}
		qr := filepath.Join(cfg.QRDir, strings.ReplaceAll(row[0], "/", "_")+".png")
		b, err := os.ReadFile(qr)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() < 256 {
			t.Fatalf("QR code %s: %v %v", qr, err, img.Bounds())
		}
		if st, _ := os.Stat(qr); st.Mode().Perm() != 0o600 {
			t.Fatalf("QR code %s holds a credential: mode %v, want 0600", qr, st.Mode())
		}
	}

	for _, bad := range []string{"report.example.org", "http://report.example.org", "https://x.org/?a=1", "ftp://x.org"} {
		cfg.LinkBase = bad
		if _, err := Import(cfg); err == nil {
			t.Errorf("link base %q accepted", bad)
		}
	}
	cfg.LinkBase, cfg.QRDir = "", filepath.Join(dir, "qr2")
	if _, err := Import(cfg); err == nil {
		t.Error("QR codes without a link base accepted")
	}
}
