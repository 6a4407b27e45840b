package roster

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"votestream/schemas"
)

func TestReissue(t *testing.T) {
	imported := time.Date(2023, 5, 10, 9, 0, 0, 0, time.UTC)
	dir, cfg := importConfig(t, map[string]string{"ilaw.csv": ilawRoster}, imported, "ilaw.csv")
	cfg.LinkBase = "https://report.example.org"
	if _, err := Import(cfg); err != nil {
		t.Fatal(err)
	}
	readRow := func(id string) []string {
		f, _ := os.Open(cfg.Out)
		defer f.Close()
		rows, _ := csv.NewReader(f).ReadAll()
		for _, r := range rows {
			if r[0] == id {
				return r
			}
		}
		t.Fatalf("%s not in the tokens file", id)
		return nil
	}
	keys := bothRings(t, cfg)
	oldRow := readRow("iLaw/0002")
	old, _ := keys.Verify(oldRow[5], imported)

	night := time.Date(2023, 5, 14, 18, 30, 0, 0, time.UTC)
	rc := ReissueConfig{TokensFile: cfg.Out, TokenKeysFile: cfg.TokenKeysFile, VolunteerID: "iLaw/0002",
		LinkBase: cfg.LinkBase, QRDir: filepath.Join(dir, "qr"), By: "iLaw/lead-1", Now: func() time.Time { return night }}
	r, err := Reissue(rc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := keys.Verify(r.Token, night)
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenID == old.TokenID || !c.Bind || !c.IssuedAt.Equal(night) || !c.ExpiresAt.Equal(old.ExpiresAt) ||
		c.VolunteerID != old.VolunteerID || c.Person != old.Person || len(c.Stations) != 2 {
		t.Fatalf("new claims %+v, old %+v", c, old)
	}
	ev := r.Event
	if ev.Kind != schemas.FieldReissue || ev.TokenID != c.TokenID || !ev.IssuedAt.Equal(c.IssuedAt) || ev.VolunteerID != "iLaw/0002" || ev.By != "iLaw/lead-1" || ev.EventID == "" {
		t.Fatalf("event %+v", ev)
	}
	if r.Link != "https://report.example.org/#t="+r.Token {
		t.Fatalf("link %q", r.Link)
	}
	// Nothing is written before SaveReissued (the event goes to Kafka first).
	if row := readRow("iLaw/0002"); row[5] != oldRow[5] {
		t.Fatal("Reissue wrote the tokens file")
	}
	if err := SaveReissued(rc, r); err != nil {
		t.Fatal(err)
	}
	if row := readRow("iLaw/0002"); row[5] != r.Token || row[6] != r.Link {
		t.Fatalf("tokens file row %v", row)
	}
	if row := readRow("iLaw/0001"); row[5] == r.Token {
		t.Fatal("another volunteer's row changed")
	}
	if _, err := os.Stat(filepath.Join(rc.QRDir, "iLaw_0002.png")); err != nil {
		t.Fatal(err)
	}
	rc.VolunteerID = "iLaw/none"
	if _, err := Reissue(rc); err == nil {
		t.Fatal("an unknown volunteer reissued")
	}
}
