package feed

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in    string
		epoch string
		seq   uint64
		ok    bool
	}{
		{"a1b2c3d4-17", "a1b2c3d4", 17, true},
		{" a1b2c3d4-0\t", "a1b2c3d4", 0, true},
		{"a1b2c3d4-18446744073709551615", "a1b2c3d4", 18446744073709551615, true},
		{"a1b2c3d4-18446744073709551616", "", 0, false}, // overflows
		{"a1b2c3d4-017", "", 0, false},                  // leading zero
		{"a1b2c3d4-+1", "", 0, false},
		{"a1b2c3d4-", "", 0, false},
		{"-17", "", 0, false},
		{"A1B2-17", "", 0, false}, // epochs are lower case
		{"a-b-3", "", 0, false},
		{"17", "", 0, false},
		{"", "", 0, false},
		{strings.Repeat("a", 70) + "-1", "", 0, false},
	}
	for _, tt := range tests {
		epoch, seq, ok := parseEventID(tt.in)
		if epoch != tt.epoch || seq != tt.seq || ok != tt.ok {
			t.Errorf("parseEventID(%q) = %q, %d, %v; want %q, %d, %v", tt.in, epoch, seq, ok, tt.epoch, tt.seq, tt.ok)
		}
	}
}

func TestETagMatches(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{`W/"ab-3"`, true},
		{`"ab-3"`, true}, // weak comparison: W/ or not
		{`*`, true},
		{`"ab-2", W/"ab-3"`, true},
		{`"ab-2",W/"ab-3"`, true},
		{`"ab-2"`, false},
		{`W/"ab-30"`, false},
		{`ab-3`, false},                // unquoted: malformed
		{`"ab-2" junk, "ab-3"`, false}, // malformed from the junk on
		{`"ab-3`, false},
		{``, false},
		{`W/`, false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.header, "ab-3"); got != tt.want {
			t.Errorf("etagMatches(%q) = %v", tt.header, got)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"gzip": true, "gzip, deflate, br": true, "br;q=1.0, gzip;q=0.5": true, "GZIP": true, "*": true,
		"": false, "br": false, "gzip;q=0": false, "gzip; q=0.000": false, "identity": false,
	}
	for h, want := range tests {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v", h, got)
		}
	}
}

func TestParseStreamFilter(t *testing.T) {
	c := smallCountry(t)
	tests := []struct {
		query  string
		consts string // sorted, comma-joined
		provs  string
		bad    bool
	}{
		{"", "", "", false},
		{"constituency=BKK_1", "BKK_1", "", false},
		{"constituency=BKK_1,%20CMI_1&constituency=BKK_2", "BKK_1,BKK_2,CMI_1", "", false},
		{"province=CMI&other=ignored", "", "CMI", false},
		{"constituency=BKK_1,", "", "", true},
		{"constituency=bkk_1", "", "", true},
		{"province=BKK_1", "", "", true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		f, err := parseStreamFilter(q, c)
		var pe *paramError
		if tt.bad != errors.As(err, &pe) {
			t.Errorf("%q: error %v", tt.query, err)
			continue
		}
		if got := strings.Join(sortedKeys(f.constituencies), ","); got != tt.consts {
			t.Errorf("%q: constituencies %q, want %q", tt.query, got, tt.consts)
		}
		if got := strings.Join(sortedKeys(f.provinces), ","); got != tt.provs {
			t.Errorf("%q: provinces %q, want %q", tt.query, got, tt.provs)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestParseKeys(t *testing.T) {
	tests := []struct {
		name, file string
		newsrooms  map[string]string // key -> newsroom
		bad        string            // part of the error
	}{
		{"two newsrooms, comments, BOM, tab", "\xef\xbb\xbf# keys\n\nnation-0123456789abcdef Nation TV\n  thaipbs-0123456789abcdef\tไทยพีบีเอส  \n",
			map[string]string{"nation-0123456789abcdef": "Nation TV", "thaipbs-0123456789abcdef": "ไทยพีบีเอส"}, ""},
		{"one newsroom, two keys", "aaaaaaaaaaaaaaaa Matichon\nbbbbbbbbbbbbbbbb Matichon\n",
			map[string]string{"aaaaaaaaaaaaaaaa": "Matichon", "bbbbbbbbbbbbbbbb": "Matichon"}, ""},
		{"short key", "short Nation\n", nil, "line 1: key must be"},
		{"no name", "# x\naaaaaaaaaaaaaaaa\n", nil, "line 2: no newsroom name"},
		{"duplicate", "aaaaaaaaaaaaaaaa A\naaaaaaaaaaaaaaaa B\n", nil, "line 2: key listed twice"},
		{"odd character", "aaaaaaaaaaaaaaa! A\n", nil, "line 1: key has a character"},
		{"control in name", "aaaaaaaaaaaaaaaa A\x01B\n", nil, "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseKeys([]byte(tt.file))
			if tt.bad != "" {
				if !errors.Is(err, ErrKeys) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("error %v, want %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k := &Keys{byHash: set}
			for key, want := range tt.newsrooms {
				if got, ok := k.Newsroom(key); !ok || got != want {
					t.Errorf("Newsroom(%s) = %q, %v", key, got, ok)
				}
			}
			if k.Len() != len(tt.newsrooms) {
				t.Errorf("%d keys", k.Len())
			}
		})
	}
}

func TestKeysReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	key, err := AppendKey(path, "Nation TV")
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := k.Newsroom(key); !ok || n != "Nation TV" {
		t.Fatalf("%q %v", n, ok)
	}
	if changed, err := k.Reload(); changed || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", changed, err)
	}
	key2, err := AppendKey(path, "ไทยรัฐ")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := k.Reload(); !changed || err != nil {
		t.Fatalf("grown file not reloaded: %v %v", changed, err)
	}
	if n, ok := k.Newsroom(key2); !ok || n != "ไทยรัฐ" {
		t.Fatalf("%q %v", n, ok)
	}
	// A broken file leaves the keys in force.
	if err := os.WriteFile(path, []byte("broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(); !errors.Is(err, ErrKeys) {
		t.Fatalf("broken file: %v", err)
	}
	if _, ok := k.Newsroom(key); !ok {
		t.Error("keys lost after a bad reload")
	}
}
