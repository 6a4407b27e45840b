package roster

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct{ in, want string }{
		{"081-234-5678", "+66812345678"},
		{"08 1234 5678", "+66812345678"},
		{"0812345678", "+66812345678"},
		{"+66 (0) 81 234 5678", "+66812345678"},
		{"+66812345678", "+66812345678"},
		{"66812345678", "+66812345678"},
		{"๐๘๑๒๓๔๕๖๗๘", "+66812345678"},
		{"02-123-4567", "+6621234567"}, // Bangkok landline: 8 digits after +66
		{"+44 20 7946 0958", "+442079460958"},
		{" 081.234.5678 ", "+66812345678"},
	}
	for _, tc := range cases {
		got, err := NormalizePhone(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "12345", "081-234-567x", "0812345678901", "+6681234", "81234567890", "0812+345678", "+66 081 234 5678 9"} {
		if got, err := NormalizePhone(bad); !errors.Is(err, ErrBadPhone) {
			t.Errorf("NormalizePhone(%q) = %q, %v; want ErrBadPhone", bad, got, err)
		}
	}
}

func TestHashPhone(t *testing.T) {
	// Hand-computed: SHA-256 of the bytes "salt" then "+66812345678".
	sum := sha256.Sum256([]byte("salt+66812345678"))
	if got := HashPhone([]byte("salt"), "+66812345678"); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("HashPhone = %s", got)
	}
	if HashPhone([]byte("salt"), "+66812345678") == HashPhone([]byte("pepper"), "+66812345678") {
		t.Fatal("the salt does not change the hash")
	}
}

func country(t *testing.T) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces:      []election.Province{{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"}},
		Constituencies: []election.Constituency{{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1100, Stations: 2}},
		Stations: []election.Station{
			{ID: "BKK_1_0001", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 1, EligibleVoters: 500},
			{ID: "BKK_1_0002", ConstituencyID: "BKK_1", Subdistrict: "พระนคร", Number: 2, EligibleVoters: 600},
		},
		Parties: []election.Party{{No: 1, NameTH: "หนึ่ง", NameEN: "One"}},
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

const ilawRoster = "\uFEFForg,volunteer_id,name,phone,role,scope,email\n" +
	"iLaw,0001,สมชาย ใจดี,081-234-5678,station,BKK_1_0001,a@example.org\n" +
	"iLaw,0002,Somsri,,station,BKK_1_0001; BKK_1_0002,\n" +
	"iLaw,lead-1,Lead,02-123-4567,district_lead,BKK_1,\n"

const wevisRoster = "volunteer_id,org,role,scope,phone,name\n" +
	"7,WeVis,station,BKK_1_0002,+66 (0) 81 234 5678,Somchai J.\n" +
	"8,WeVis,war_room,,0899999999,Desk\n"

func TestParse(t *testing.T) {
	es, err := Parse(strings.NewReader(ilawRoster), "ilaw.csv", []byte("s"), country(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d entries", len(es))
	}
	e := es[1]
	if e.VolunteerID() != "iLaw/0002" || e.Role != schemas.RoleStation || !slices.Equal(e.Stations, []string{"BKK_1_0001", "BKK_1_0002"}) || e.PhoneHash != "" || e.Line != 3 {
		t.Fatalf("entry %+v", e)
	}
	if es[0].PhoneHash != HashPhone([]byte("s"), "+66812345678") || es[2].Constituency != "BKK_1" {
		t.Fatalf("entries %+v", es)
	}
}

func TestParseRefuses(t *testing.T) {
	head := "org,volunteer_id,name,phone,role,scope\n"
	cases := map[string]string{
		"missing column":             "org,volunteer_id,name,role,scope\niLaw,1,a,station,BKK_1_0001\n",
		"unknown role":               head + "iLaw,1,a,,observer,BKK_1_0001\n",
		"station without scope":      head + "iLaw,1,a,,station,\n",
		"unknown station":            head + "iLaw,1,a,,station,BKK_9_0001\n",
		"lead with two constituency": head + "iLaw,1,a,,district_lead,BKK_1;BKK_2\n",
		"unknown constituency":       head + "iLaw,1,a,,district_lead,CNX_1\n",
		"war room with scope":        head + "iLaw,1,a,,war_room,BKK_1\n",
		"same id twice":              head + "iLaw,1,a,,war_room,\niLaw,1,b,,war_room,\n",
		"bad phone":                  head + "iLaw,1,a,12-34,war_room,\n",
		"no org":                     head + ",1,a,,war_room,\n",
		"slash in org":               head + "i/Law,1,a,,war_room,\n",
		"short row":                  head + "iLaw,1,a\n",
		"stray quote":                head + "iLaw,\"1,a,,war_room,\n",
		"empty file":                 "",
	}
	for name, text := range cases {
		if es, err := Parse(strings.NewReader(text), "r.csv", []byte("s"), country(t)); !errors.Is(err, ErrBadRoster) || es != nil {
			t.Errorf("%s: %v (%d entries), want ErrBadRoster and nothing", name, err, len(es))
		}
	}
	// Problems are reported with their line, several at once.
	_, err := Parse(strings.NewReader(head+"iLaw,1,a,,observer,\niLaw,2,b,,war_room,\niLaw,3,c,,station,\n"), "r.csv", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "r.csv:2:") || !strings.Contains(err.Error(), "r.csv:4:") {
		t.Fatalf("error %v: want lines 2 and 4", err)
	}
}

func TestFindDuplicates(t *testing.T) {
	salt := []byte("s")
	a, _ := Parse(strings.NewReader(ilawRoster), "ilaw.csv", salt, nil)
	b, _ := Parse(strings.NewReader(wevisRoster), "wevis.csv", salt, nil)
	dups := FindDuplicates(append(a, b...))
	// iLaw/0001 and WeVis/7 wrote the same number in two spellings.
	if len(dups) != 1 || len(dups[0].Entries) != 2 || dups[0].Entries[0].VolunteerID() != "iLaw/0001" ||
		dups[0].Entries[1].VolunteerID() != "WeVis/7" || !dups[0].CrossOrg() {
		t.Fatalf("duplicates %+v", dups)
	}
	var out bytes.Buffer
	if err := WriteDuplicates(&out, dups); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "ACROSS ORGANISATIONS") || strings.Contains(s, "812") || strings.Contains(s, "สมชาย") {
		t.Fatalf("duplicates listing leaks or lacks: %s", s)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var staffKeyLine = "s2023 " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)) + "\n"

// rings verifies with the volunteers' or the staff ring, by the token's signature.
type rings struct{ vol, staff *token.Keyring }

func (r rings) Verify(tok string, now time.Time) (token.Claims, error) {
	c, err := r.vol.Verify(tok, now)
	if errors.Is(err, token.ErrUnknownKey) {
		return r.staff.Verify(tok, now)
	}
	return c, err
}

func bothRings(t *testing.T, cfg ImportConfig) rings {
	t.Helper()
	vol, err := token.LoadKeyring(cfg.TokenKeysFile)
	if err != nil {
		t.Fatal(err)
	}
	staff, err := token.LoadStaffKeyring(cfg.StaffKeysFile)
	if err != nil {
		t.Fatal(err)
	}
	return rings{vol, staff}
}

// importConfig writes files, a token key file ("keys") and a staff key file ("staff") into
// a folder of their own and returns it with an import of its rosters (file names) into
// tokens.csv at now.
func importConfig(t *testing.T, files map[string]string, now time.Time, rosters ...string) (string, ImportConfig) {
	t.Helper()
	files["keys"] = "k2023 " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n"
	files["staff"] = staffKeyLine
	dir := writeFiles(t, files)
	cfg := DefaultImportConfig()
	for _, r := range rosters {
		cfg.Rosters = append(cfg.Rosters, filepath.Join(dir, r))
	}
	cfg.Out = filepath.Join(dir, "tokens.csv")
	cfg.TokenKeysFile = filepath.Join(dir, "keys")
	cfg.StaffKeysFile = filepath.Join(dir, "staff")
	cfg.Country = country(t)
	cfg.Now = func() time.Time { return now }
	return dir, cfg
}

// A roster that lists a district lead needs the staff key file: the volunteers' key may
// not sign a lead's token.
func TestImportLeadNeedsStaffKeys(t *testing.T) {
	_, cfg := importConfig(t, map[string]string{"ilaw.csv": ilawRoster}, time.Date(2023, 5, 10, 9, 0, 0, 0, time.UTC), "ilaw.csv")
	cfg.StaffKeysFile = ""
	if _, err := Import(cfg); !errors.Is(err, ErrBadRoster) || !strings.Contains(err.Error(), "--staff-keys") {
		t.Fatalf("import of a lead without staff keys: %v", err)
	}
	if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
		t.Fatalf("tokens file written anyway: %v", err)
	}
}

func TestImport(t *testing.T) {
	now := time.Date(2023, 5, 10, 9, 0, 0, 0, time.UTC)
	dir, cfg := importConfig(t, map[string]string{"ilaw.csv": ilawRoster, "wevis.csv": wevisRoster, "salt": "election-2023-salt\n"}, now, "ilaw.csv", "wevis.csv")
	cfg.SaltFile = filepath.Join(dir, "salt")
	sum, err := Import(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Volunteers != 5 || sum.Issued != 5 || sum.NoPhone != 1 || len(sum.Duplicates) != 1 || sum.Skipped != 0 ||
		!sum.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("summary %+v", sum)
	}
	st, err := os.Stat(cfg.Out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", err, st.Mode())
	}
	f, _ := os.Open(cfg.Out)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 6 || !slices.Equal(rows[0], []string{"volunteer_id", "org", "role", "scope", "expires_at", "token"}) {
		t.Fatalf("tokens file: %v %v", err, rows)
	}
	keys := bothRings(t, cfg)
	persons := map[string]string{} // volunteer id -> the token's person
	for _, row := range rows[1:] {
		c, err := keys.Verify(row[5], now)
		if err != nil {
			t.Fatalf("token of %s: %v", row[0], err)
		}
		if c.VolunteerID != row[0] || c.Org != row[1] || c.Role != row[2] {
			t.Fatalf("token claims %+v for row %v", c, row)
		}
		persons[c.VolunteerID] = c.Person
	}
	// Hand-worked from the rosters: SHA-256 of the salt file's trimmed bytes then the E.164
	// number. iLaw/0001 and WeVis/7 wrote one number two ways, so their tokens name one
	// person; iLaw/0002 gave no phone.
	hash := func(e164 string) string {
		sum := sha256.Sum256([]byte("election-2023-salt" + e164))
		return hex.EncodeToString(sum[:])
	}
	wantPersons := map[string]string{
		"iLaw/0001":   hash("+66812345678"),
		"WeVis/7":     hash("+66812345678"),
		"iLaw/0002":   "",
		"iLaw/lead-1": hash("+6621234567"),
		"WeVis/8":     hash("+66899999999"),
	}
	if !maps.Equal(persons, wantPersons) {
		t.Fatalf("token persons\n got %v\nwant %v", persons, wantPersons)
	}
	if rows[2][0] != "iLaw/0002" || rows[2][3] != "BKK_1_0001;BKK_1_0002" || rows[3][3] != "BKK_1" {
		t.Fatalf("rows %v", rows)
	}
	for _, row := range rows {
		if strings.Contains(strings.Join(row, ","), "สมชาย") || strings.Contains(strings.Join(row, ","), "5678") {
			t.Fatalf("names or phones leaked into the tokens file: %v", row)
		}
	}

	cfg.SkipDuplicates = true
	if sum, err = Import(cfg); err != nil || sum.Issued != 4 || sum.Skipped != 1 {
		t.Fatalf("skip duplicates: %+v %v", sum, err)
	}

	// One bad roster: nothing is written, and the previous file stays.
	bad := writeFiles(t, map[string]string{"bad.csv": "org,volunteer_id,name,phone,role,scope\niLaw,9,x,,station,NOWHERE\n"})
	before, _ := os.ReadFile(cfg.Out)
	cfg.Rosters = append(cfg.Rosters, filepath.Join(bad, "bad.csv"))
	if _, err := Import(cfg); !errors.Is(err, ErrBadRoster) {
		t.Fatalf("bad roster: %v", err)
	}
	after, _ := os.ReadFile(cfg.Out)
	if !bytes.Equal(before, after) {
		t.Fatal("tokens file changed by a failed import")
	}
	// The same volunteer id in two files of one organisation.
	cfg.Rosters = []string{filepath.Join(dir, "ilaw.csv"), filepath.Join(dir, "ilaw.csv")}
	if _, err := Import(cfg); !errors.Is(err, ErrBadRoster) {
		t.Fatalf("same roster twice: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(ilawRoster)
	f.Add(wevisRoster)
	f.Add("org,volunteer_id,name,phone,role,scope\n\"a\"\"b\",1,x,๐๘๑,station,S;;S\n")
	f.Fuzz(func(t *testing.T, text string) {
		es, err := Parse(strings.NewReader(text), "f.csv", []byte("s"), nil)
		if err != nil {
			if !errors.Is(err, ErrBadRoster) {
				t.Fatalf("error %v is not ErrBadRoster", err)
			}
			return
		}
		for _, e := range es {
			c := token.Claims{TokenID: "t", VolunteerID: e.VolunteerID(), Org: e.Org, Role: e.Role,
				Stations: e.Stations, Constituency: e.Constituency, IssuedAt: time.Unix(1, 0), ExpiresAt: time.Unix(2, 0)}
			if err := c.Validate(); err != nil {
				t.Fatalf("entry %+v makes invalid claims: %v", e, err)
			}
		}
	})
}
