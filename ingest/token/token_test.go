package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

var (
	keyA = bytes.Repeat([]byte{0xA1}, 32)
	keyB = bytes.Repeat([]byte{0xB2}, 32)
	// 14 May 2023, 17:30 in Bangkok.
	evening = time.Date(2023, 5, 14, 17, 30, 0, 0, time.FixedZone("ICT", 7*3600))
)

func ring(t testing.TB, active string) *Keyring {
	t.Helper()
	k, err := NewKeyring(active, map[string][]byte{"2023a": keyA, "2023b": keyB})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func staffRing(t testing.TB, active string) *Keyring {
	t.Helper()
	k, err := NewStaffKeyring(active, map[string][]byte{"2023a": keyA, "2023b": keyB})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A lead's, war room's or desk's token signed with the volunteers' key is refused however
// well-formed, and the volunteers' ring will not issue one; the staff ring likewise keeps
// to its own roles.
func TestKeyringClass(t *testing.T) {
	vol, staff := ring(t, "2023a"), staffRing(t, "2023a")
	lead := Claims{VolunteerID: "lead-1", Org: "war room", Role: schemas.RoleDistrictLead, Constituency: "C1",
		IssuedAt: evening.Add(-time.Hour), ExpiresAt: evening.Add(time.Hour)}
	if _, err := vol.Issue(lead); !errors.Is(err, ErrWrongClass) {
		t.Fatalf("volunteers' ring issued a lead token: %v", err)
	}
	// The forger's path: HMAC by hand with the volunteers' key, the same key id.
	forged := handMade("2023a", keyA, `{"jti":"x","sub":"lead-1","org":"o","role":"district_lead","con":"C1","iat":1,"exp":1684146600}`)
	if _, err := vol.Verify(forged, evening); !errors.Is(err, ErrWrongClass) {
		t.Fatalf("volunteers' ring verified a lead token: %v", err)
	}
	otherStaff, err := NewStaffKeyring("s1", map[string][]byte{"s1": bytes.Repeat([]byte{0xC3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherStaff.Verify(handMade("s1", keyA, `{"jti":"x","sub":"lead-1","org":"o","role":"district_lead","con":"C1","iat":1,"exp":1684146600}`), evening); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("staff ring took a token signed with another key: %v", err)
	}
	tok, err := staff.Issue(lead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staff.Verify(tok, evening); err != nil {
		t.Fatalf("staff ring refused its own lead token: %v", err)
	}
	if _, err := staff.Issue(stationClaims()); !errors.Is(err, ErrWrongClass) {
		t.Fatalf("staff ring issued a station token: %v", err)
	}
	if err := CheckDisjoint(vol, staff); !errors.Is(err, ErrBadKeyring) {
		t.Fatalf("CheckDisjoint of rings sharing a secret = %v", err)
	}
	if err := CheckDisjoint(vol, otherStaff); err != nil {
		t.Fatalf("CheckDisjoint of separate rings = %v", err)
	}
	if !Privileged("desk") || Privileged(schemas.RoleStation) {
		t.Fatal("Privileged: every role but station is privileged")
	}
}

func stationClaims() Claims {
	return Claims{
		TokenID: "tok-1", VolunteerID: "ilaw-0042", Org: "iLaw", Role: schemas.RoleStation,
		Stations:  []string{"BKK_1_0001", "BKK_1_0002"},
		IssuedAt:  evening.Add(-24 * time.Hour),
		ExpiresAt: evening.Add(24 * time.Hour),
	}
}

// handMade builds a token from parts with crypto/hmac directly, independently of Issue.
func handMade(kid string, key []byte, payload string) string {
	signed := "vt1." + kid + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyHandMadeToken(t *testing.T) {
	// iat 2023-05-13T10:30:00Z = 1683973800, exp 2023-05-15T10:30:00Z = 1684146600.
	tok := handMade("2023a", keyA, `{"jti":"t9","sub":"wevis-7","org":"WeVis","role":"district_lead","con":"CNX_3","iat":1683973800,"exp":1684146600}`)
	c, err := staffRing(t, "2023b").Verify(tok, evening)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		TokenID: "t9", VolunteerID: "wevis-7", Org: "WeVis", Role: schemas.RoleDistrictLead, Constituency: "CNX_3",
		IssuedAt:  time.Date(2023, 5, 13, 10, 30, 0, 0, time.UTC),
		ExpiresAt: time.Date(2023, 5, 15, 10, 30, 0, 0, time.UTC),
	}
	if c.TokenID != want.TokenID || c.VolunteerID != want.VolunteerID || c.Org != want.Org ||
		c.Role != want.Role || c.Constituency != want.Constituency || len(c.Stations) != 0 || c.Person != "" ||
		!c.IssuedAt.Equal(want.IssuedAt) || !c.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("claims = %+v, want %+v", c, want)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	k := ring(t, "2023a")
	in := stationClaims()
	tok, err := k.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "vt1.2023a.") {
		t.Fatalf("token %q does not name the active key", tok)
	}
	out, err := k.Verify(tok, evening)
	if err != nil {
		t.Fatal(err)
	}
	if out.VolunteerID != in.VolunteerID || out.Org != in.Org || out.Role != in.Role ||
		!slices.Equal(out.Stations, in.Stations) || !out.ExpiresAt.Equal(in.ExpiresAt) || out.TokenID != "tok-1" {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
}

func TestIssueFillsTokenID(t *testing.T) {
	k := ring(t, "2023a")
	c := stationClaims()
	c.TokenID = ""
	t1, _ := k.Issue(c)
	t2, _ := k.Issue(c)
	c1, err1 := k.Verify(t1, evening)
	c2, err2 := k.Verify(t2, evening)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if c1.TokenID == "" || c1.TokenID == c2.TokenID {
		t.Fatalf("token ids %q and %q: want distinct and non-empty", c1.TokenID, c2.TokenID)
	}
}

func TestRotation(t *testing.T) {
	old := ring(t, "2023a")
	tok, err := old.Issue(stationClaims())
	if err != nil {
		t.Fatal(err)
	}
	rotated := ring(t, "2023b")
	if _, err := rotated.Verify(tok, evening); err != nil {
		t.Fatalf("token of the previous key no longer verifies: %v", err)
	}
	retired, err := NewKeyring("2023b", map[string][]byte{"2023b": keyB})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := retired.Verify(tok, evening); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after retiring the key: err = %v, want ErrUnknownKey", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := ring(t, "2023a")
	good, err := k.Issue(stationClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	flip := func(s string) string { // change one character of the claims
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}
	cases := []struct {
		name string
		tok  string
		now  time.Time
		want error
	}{
		{"empty", "", evening, ErrMalformed},
		{"three parts", "vt1.2023a.abc", evening, ErrMalformed},
		{"five parts", good + ".x", evening, ErrMalformed},
		{"other version", "vt2." + strings.Join(parts[1:], "."), evening, ErrMalformed},
		{"unknown key", "vt1.nope." + parts[2] + "." + parts[3], evening, ErrUnknownKey},
		{"tampered claims", parts[0] + "." + parts[1] + "." + flip(parts[2]) + "." + parts[3], evening, ErrBadSignature},
		{"signed by the other key", handMade("2023a", keyB, `{"jti":"x","sub":"v","org":"o","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrBadSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + parts[2] + ".AAAA", evening, ErrMalformed},
		{"padded signature", good + "=", evening, ErrMalformed},
		{"too long", strings.Repeat("a", MaxLen+1), evening, ErrMalformed},
		{"expired", good, evening.Add(24 * time.Hour), ErrExpired},
		{"expiry instant", good, evening.Add(24 * time.Hour).Add(-time.Nanosecond), nil},
		{"issued in the future", good, evening.Add(-24*time.Hour - 2*time.Minute), ErrNotYetValid},
		{"claims not JSON", handMade("2023a", keyA, `not json`), evening, ErrMalformed},
		{"unknown claim", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"war_room","iat":1,"exp":1684146600,"admin":true}`), evening, ErrMalformed},
		{"unknown role", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"admin","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"station role without stations", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"station","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"lead with stations", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"district_lead","con":"C","stn":["S"],"iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"war room with scope", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"war_room","con":"C","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"no volunteer", handMade("2023a", keyA, `{"jti":"x","org":"o","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"person not hex", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","per":"`+strings.Repeat("g", 64)+`","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"person upper-case hex", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","per":"`+strings.Repeat("AB", 32)+`","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"person too short", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","per":"`+strings.Repeat("ab", 31)+`","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrBadClaims},
		{"person not a string", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","per":7,"role":"war_room","iat":1,"exp":1684146600}`), evening, ErrMalformed},
		{"war room on the volunteers' ring", handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"war_room","iat":1,"exp":1684146600}`), evening, ErrWrongClass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Verify(tc.tok, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// A person hash travels in the signed claims as "per", and only when known: a token without
// one has the same bytes as before the field existed.
func TestPersonRoundTrip(t *testing.T) {
	hash := strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		name    string
		person  string
		wireKey bool // "per" in the claims JSON
	}{
		{"with person", hash, true},
		{"without person", "", false},
	}
	k := ring(t, "2023a")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := stationClaims()
			in.Person = tc.person
			tok, err := k.Issue(in)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[2])
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(payload), `"per":`); got != tc.wireKey {
				t.Fatalf("claims %s: \"per\" present = %v, want %v", payload, got, tc.wireKey)
			}
			out, err := k.Verify(tok, evening)
			if err != nil {
				t.Fatal(err)
			}
			if out.Person != tc.person || out.VolunteerID != in.VolunteerID || out.Org != in.Org {
				t.Fatalf("round trip: got %+v, want person %q", out, tc.person)
			}
		})
	}

	// Hand-made, independently of Issue: the claims an older issuer wrote, and the same with
	// a person added.
	old := `{"jti":"t1","sub":"ilaw/0042","org":"iLaw","role":"station","stn":["BKK_1_0001"],"iat":1683973800,"exp":1684146600}`
	withPer := `{"jti":"t1","sub":"ilaw/0042","org":"iLaw","per":"` + hash + `","role":"station","stn":["BKK_1_0001"],"iat":1683973800,"exp":1684146600}`
	for _, hc := range []struct{ payload, want string }{{old, ""}, {withPer, hash}} {
		c, err := k.Verify(handMade("2023a", keyA, hc.payload), evening)
		if err != nil {
			t.Fatalf("%s: %v", hc.payload, err)
		}
		if c.Person != hc.want || c.VolunteerID != "ilaw/0042" {
			t.Fatalf("%s: person %q volunteer %q, want person %q", hc.payload, c.Person, c.VolunteerID, hc.want)
		}
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	k := ring(t, "2023a")
	c := stationClaims()
	c.Constituency = "BKK_1"
	if _, err := k.Issue(c); !errors.Is(err, ErrBadClaims) {
		t.Fatalf("station role with a constituency: err = %v, want ErrBadClaims", err)
	}
	c = stationClaims()
	c.ExpiresAt = c.IssuedAt
	if _, err := k.Issue(c); !errors.Is(err, ErrBadClaims) {
		t.Fatalf("zero lifetime: err = %v, want ErrBadClaims", err)
	}
	c = stationClaims()
	c.Person = "+66812345678" // a phone number where its hash belongs
	if _, err := k.Issue(c); !errors.Is(err, ErrBadClaims) {
		t.Fatalf("person not a hash: err = %v, want ErrBadClaims", err)
	}
}

func TestParseKeyring(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(keyA)
	b := base64.RawURLEncoding.EncodeToString(keyB)
	k, err := ParseKeyring(strings.NewReader("# keys\n\n2023a " + a + "\n2023b " + b + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Active() != "2023b" {
		t.Fatalf("active = %q, want the last key 2023b", k.Active())
	}
	if !bytes.Equal(k.keys["2023a"], keyA) || !bytes.Equal(k.keys["2023b"], keyB) {
		t.Fatal("secrets not decoded")
	}
	for name, text := range map[string]string{
		"empty":      "# nothing\n",
		"short key":  "k " + base64.StdEncoding.EncodeToString([]byte("short")) + "\n",
		"three cols": "k " + a + " extra\n",
		"bad base64": "k !!!!\n",
		"bad id":     "k/1 " + a + "\n",
		"duplicate":  "k " + a + "\nk " + b + "\n",
	} {
		if _, err := ParseKeyring(strings.NewReader(text)); !errors.Is(err, ErrBadKeyring) {
			t.Errorf("%s: err = %v, want ErrBadKeyring", name, err)
		}
	}
}

func TestNewKeyLine(t *testing.T) {
	line, err := NewKeyLine("2024a")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeyring(strings.NewReader(line))
	if err != nil {
		t.Fatalf("generated line %q does not parse: %v", line, err)
	}
	if len(k.keys["2024a"]) != MinKeyLen {
		t.Fatalf("key length %d", len(k.keys["2024a"]))
	}
}

func TestRevocations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.txt")
	if err := os.WriteFile(path, []byte("# lost phones\ntok-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRevocations(path)
	if err != nil {
		t.Fatal(err)
	}
	c := stationClaims()
	other := c
	other.TokenID = "tok-2"
	if err := r.Check(c); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token id: %v", err)
	}
	if err := r.Check(other); err != nil {
		t.Fatalf("re-issued token refused: %v", err)
	}
	changed, err := r.Reload()
	if err != nil || changed {
		t.Fatalf("reload of an unchanged file: changed=%v err=%v", changed, err)
	}
	if err := os.WriteFile(path, []byte("ilaw-0042  # left the organisation\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); err != nil || !changed {
		t.Fatalf("reload after a change: changed=%v err=%v", changed, err)
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d, want 1", r.Len())
	}
	if err := r.Check(other); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked volunteer: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err == nil {
		t.Fatal("reload of a vanished file: want an error")
	}
	if err := r.Check(other); !errors.Is(err, ErrRevoked) {
		t.Fatal("a failed reload dropped the previous list")
	}
	if _, err := LoadRevocations(path); err == nil {
		t.Fatal("missing configured file: want an error")
	}
	if r, err := LoadRevocations(""); err != nil || r.Check(c) != nil {
		t.Fatalf("no list configured: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	k := ring(f, "2023a")
	good, err := k.Issue(stationClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"war_room","iat":1,"exp":1684146600}`))
	f.Add(handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","role":"station","stn":[""],"iat":1,"exp":1684146600}`))
	f.Add(handMade("2023a", keyA, `{"iat":1e999}`))
	f.Add(handMade("2023a", keyA, `{"jti":"x","sub":"v","org":"o","per":"`+strings.Repeat("5e", 32)+`","role":"war_room","iat":1,"exp":1684146600}`))
	f.Add("vt1.2023a..")
	f.Add("vt1...")
	f.Add("Bearer " + good)
	sentinels := []error{ErrMalformed, ErrUnknownKey, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrBadClaims, ErrWrongClass}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := k.Verify(tok, evening)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted invalid claims: %v", err)
		}
		if !evening.Before(c.ExpiresAt) {
			t.Fatal("accepted an expired token")
		}
	})
}
