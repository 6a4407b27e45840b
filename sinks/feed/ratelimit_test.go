package feed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRateLimitPerNewsroom(t *testing.T) {
	clock := newFakeClock(t0)
	f := newTestFeed(t, func(c *Config) { c.Now, c.RateLimit, c.RateBurst = clock.Now, 1, 3 })
	f.markReady()
	srv := serve(t, f)
	url := srv.URL + "/v1/feed/summary"
	for i := range 3 {
		resp, body := get(t, url, keyNation)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("RateLimit"), `"newsroom";r=`+string(rune('2'-i))+`;t=`+string(rune('1'+i)); got != want {
			t.Errorf("request %d: RateLimit %q, want %q", i+1, got, want)
		}
		if got := resp.Header.Get("RateLimit-Policy"); got != `"newsroom";q=3;w=3` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}
	resp, body := get(t, url, keyNation)
	if resp.StatusCode != 429 || !strings.Contains(string(body), `"code":"RATE_LIMITED"`) || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("RateLimit") != `"newsroom";r=0;t=3` {
		t.Fatalf("over the burst: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A stream counts too; another newsroom has its own bucket.
	if resp, _ := get(t, srv.URL+"/v1/feed/events", keyNation); resp.StatusCode != 429 {
		t.Fatalf("stream over the limit: %d", resp.StatusCode)
	}
	if resp, _ := get(t, url, keyPBS); resp.StatusCode != 200 {
		t.Fatalf("the other newsroom: %d", resp.StatusCode)
	}
	// Refused requests cost nothing: one second later, exactly one more is allowed.
	clock.Add(time.Second)
	if resp, _ := get(t, url, keyNation); resp.StatusCode != 200 {
		t.Fatalf("a second later: %d", resp.StatusCode)
	}
	if resp, _ := get(t, url, keyNation); resp.StatusCode != 429 {
		t.Fatalf("a second later, twice: %d", resp.StatusCode)
	}
	// A request without a valid key is refused before it reaches any bucket.
	if resp, _ := get(t, url, "nobody-0123456789abcdef"); resp.StatusCode != 401 {
		t.Fatalf("unknown key: %d", resp.StatusCode)
	}
	for _, c := range []struct {
		newsroom, outcome string
		want              float64
	}{{"Nation TV", "allowed", 4}, {"Nation TV", "rate_limited", 3}, {"ไทยพีบีเอส", "allowed", 1}, {"ไทยพีบีเอส", "rate_limited", 0}} {
		if got := testutil.ToFloat64(f.m.newsroomRequests.WithLabelValues(c.newsroom, c.outcome)); got != c.want {
			t.Errorf("newsroom_requests_total{%s,%s} = %v, want %v", c.newsroom, c.outcome, got, c.want)
		}
	}
}

func TestRateLimitOverrideInKeyFile(t *testing.T) {
	clock := newFakeClock(t0)
	path := filepath.Join(t.TempDir(), "keys")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(keyNation + " Nation TV\n" + keyPBS + " Thai PBS\n!limit rate=0.5 burst=5 Nation TV\n")
	f := newTestFeed(t, func(c *Config) { c.Now, c.RateLimit, c.RateBurst, c.KeysFile = clock.Now, 1, 2, path })
	f.markReady()
	srv := serve(t, f)
	url := srv.URL + "/v1/feed/parties"
	count := func(key string) int {
		n := 0
		for range 20 {
			resp, _ := get(t, url, key)
			if resp.StatusCode != 200 {
				break
			}
			n++
		}
		return n
	}
	if n := count(keyNation); n != 5 {
		t.Fatalf("Nation TV (burst 5 in the key file): %d allowed", n)
	}
	if n := count(keyPBS); n != 2 {
		t.Fatalf("Thai PBS (the default burst 2): %d allowed", n)
	}
	clock.Add(2 * time.Second) // rate 0.5: one more for Nation TV; two for Thai PBS (rate 1)
	if n := count(keyNation); n != 1 {
		t.Fatalf("Nation TV after 2 s: %d allowed", n)
	}
	// The key file changes on the night: Thai PBS gets its own limit without a restart.
	write(keyNation + " Nation TV\n" + keyPBS + " Thai PBS\n!limit rate=100 burst=10 Thai PBS\n")
	if changed, err := f.keys.Reload(); err != nil || !changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if n := count(keyPBS); n != 10 {
		t.Fatalf("Thai PBS after the reload (burst 10): %d allowed", n)
	}
}

func TestParseKeyFileLimits(t *testing.T) {
	good := "aaaaaaaaaaaaaaaa Matichon\n!limit rate=2.5 burst=40 Matichon\n!limit\tburst=1 rate=1 ไทยรัฐ\nbbbbbbbbbbbbbbbb ไทยรัฐ\n"
	_, limits, err := ParseKeyFile([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if limits["Matichon"] != (Limit{2.5, 40}) || limits["ไทยรัฐ"] != (Limit{1, 1}) || len(limits) != 2 {
		t.Fatalf("limits %v", limits)
	}
	for name, tt := range map[string]struct{ file, bad string }{
		"no key":         {"aaaaaaaaaaaaaaaa A\n!limit rate=1 burst=1 B\n", "line 2: a limit for \"B\", which holds no key"},
		"twice":          {"aaaaaaaaaaaaaaaa A\n!limit rate=1 burst=1 A\n!limit rate=2 burst=2 A\n", "line 3: a second limit"},
		"no burst":       {"aaaaaaaaaaaaaaaa A\n!limit rate=1 A\n", "line 2: a limit needs both"},
		"zero rate":      {"aaaaaaaaaaaaaaaa A\n!limit rate=0 burst=1 A\n", "line 2: limit rate \"0\""},
		"nan rate":       {"aaaaaaaaaaaaaaaa A\n!limit rate=NaN burst=1 A\n", "limit rate"},
		"huge burst":     {"aaaaaaaaaaaaaaaa A\n!limit rate=1 burst=1000001 A\n", "limit burst"},
		"no name":        {"aaaaaaaaaaaaaaaa A\n!limit rate=1 burst=1\n", "no newsroom name"},
		"other bang":     {"!limits rate=1 burst=1 A\n", "line 1: unknown directive \"!limits\""},
		"unknown action": {"!quota 5 A\n", "line 1: unknown directive"},
	} {
		if _, _, err := ParseKeyFile([]byte(tt.file)); !errors.Is(err, ErrKeys) || !strings.Contains(err.Error(), tt.bad) {
			t.Errorf("%s: error %v, want %q", name, err, tt.bad)
		}
	}
}

// TestRateLimitNotModifiedCostsHalf: polling with If-None-Match is what the feed asks of
// newsrooms, so a 304 costs half a full answer; a conditional request that gets the full
// answer pays in full.
func TestRateLimitNotModifiedCostsHalf(t *testing.T) {
	clock := newFakeClock(t0)
	f := newTestFeed(t, func(c *Config) { c.Now, c.RateLimit, c.RateBurst = clock.Now, 1, 2 })
	f.markReady()
	srv := serve(t, f)
	url := srv.URL + "/v1/feed/summary"
	resp, _ := get(t, url, keyNation) // full: 1 of 2 left
	etag := resp.Header.Get("ETag")
	for i := range 2 { // two 304s spend the other one
		if resp, _ := get(t, url, keyNation, "If-None-Match", etag); resp.StatusCode != 304 {
			t.Fatalf("conditional %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := get(t, url, keyNation, "If-None-Match", etag); resp.StatusCode != 429 {
		t.Fatalf("a third 304 within the budget of 2: %d", resp.StatusCode)
	}

	// A stale ETag gets the full answer and pays for it: budget 2 covers two, not four.
	clock.Add(2 * time.Second)
	n := 0
	for range 4 {
		resp, _ := get(t, url, keyNation, "If-None-Match", `W/"stale-1"`)
		if resp.StatusCode != 200 {
			break
		}
		n++
	}
	if n != 2 {
		t.Fatalf("conditional requests answered in full: %d allowed within a budget of 2", n)
	}
}
