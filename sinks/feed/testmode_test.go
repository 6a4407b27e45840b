package feed

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestMode: a feed in test mode marks every answer, refusal and event as test data,
// takes only test keys, and needs a test night's topics; a live feed refuses test keys.
func TestTestMode(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	testKey, err := AppendTestKey(keys, "Nation TV")
	if err != nil {
		t.Fatal(err)
	}
	liveKey, err := AppendKey(keys, "Nation TV")
	if err != nil || !IsTestKey(testKey) || IsTestKey(liveKey) {
		t.Fatalf("keys %q %q: %v", testKey, liveKey, err)
	}
	mk := func(test bool) *Feed {
		return newTestFeed(t, func(c *Config) { c.KeysFile, c.TestMode, c.TopicPrefix = keys, test, "test-night." })
	}
	tf, lf := mk(true), mk(false)
	tf.markReady()
	lf.markReady()
	tf.applyResult(res("BKK_1_001", cons, 1, prov, fin, 500, 10, 6, map[string]int{"1": 250, "2": 234}, 5))
	tsrv, lsrv := serve(t, tf), serve(t, lf)

	type marked struct {
		Test   *bool  `json:"test"`
		Banner string `json:"banner"`
		Error  *struct{ Code, Message string }
	}
	check := func(name string, body []byte, test bool) marked {
		t.Helper()
		var m marked
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, body)
		}
		if test && (m.Test == nil || !*m.Test || m.Banner != TestBanner) {
			t.Errorf("%s on the test feed: not marked as test: %s", name, body)
		}
		if !test && (m.Test != nil || m.Banner != "") {
			t.Errorf("%s on the live feed: marked as test: %s", name, body)
		}
		return m
	}
	for _, path := range []string{"/v1/feed/summary", "/v1/feed/parties", "/v1/feed/provinces", "/v1/feed/constituencies/BKK_1", "/v1/feed/stations/BKK_1_001", "/v1/feed/changes"} {
		resp, body := get(t, tsrv.URL+path, testKey)
		if resp.StatusCode != 200 {
			t.Fatalf("test feed %s with a test key: %d %s", path, resp.StatusCode, body)
		}
		check(path, body, true)
		resp, body = get(t, lsrv.URL+path, liveKey)
		if resp.StatusCode != 200 {
			t.Fatalf("live feed %s with a live key: %d %s", path, resp.StatusCode, body)
		}
		check(path, body, false)
	}
	resp, body := get(t, tsrv.URL+"/v1/feed/stations/NOPE_1_001", testKey)
	if m := check("a 404", body, true); resp.StatusCode != 404 || m.Error == nil || m.Error.Code != CodeNotFound {
		t.Errorf("test feed 404: %d %s", resp.StatusCode, body)
	}
	for name, c := range map[string]struct {
		url, key, says string
		test           bool
	}{
		"live key on the test feed": {tsrv.URL, liveKey, "a live key on the test feed", true},
		"test key on the live feed": {lsrv.URL, testKey, "a test key on the live feed", false},
	} {
		resp, body := get(t, c.url+"/v1/feed/summary", c.key)
		m := check(name, body, c.test)
		if resp.StatusCode != 401 || m.Error == nil || m.Error.Code != CodeUnauthenticated || !strings.Contains(m.Error.Message, c.says) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	s := openStream(t, tsrv.URL, testKey, "", "")
	defer s.close()
	tf.applyResult(res("BKK_1_002", cons, 1, prov, fin, 400, 10, 6, map[string]int{"1": 200, "2": 184}, 6))
	ev := s.nextEvent()
	check("a result event", []byte(ev.data), true)
	r := openStream(t, tsrv.URL, testKey, "", "00000000-1") // another run's id: a reset
	defer r.close()
	if ev := r.nextEvent(); ev.event != "reset" {
		t.Errorf("resuming from another run's id: %+v, want a reset", ev)
	} else {
		check("a reset event", []byte(ev.data), true)
	}

	cfg := tf.cfg
	cfg.TopicPrefix = ""
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "never the live topics") {
		t.Errorf("test mode on the live topics: %v", err)
	}
	if data, _ := os.ReadFile(keys); !strings.Contains(string(data), TestKeyPrefix) {
		t.Errorf("key file: %s", data)
	}
}
