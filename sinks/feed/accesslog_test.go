package feed

import (
	"log/slog"
	"strings"
	"testing"

	"votestream/internal/testenv"
)

// TestAccessLogAndRequestID: the feed is served by the shared skeleton: every answer
// carries an X-Request-Id, and with AccessLog each request is one log line naming it.
func TestAccessLogAndRequestID(t *testing.T) {
	var logs testenv.LogBuffer
	f := newTestFeed(t, func(c *Config) {
		c.AccessLog = true
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	srv := serve(t, f)
	resp, _ := get(t, srv.URL+"/v1/feed/summary", "wrong-key")
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 401 || id == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, id)
	}
	line := logs.String()
	for _, want := range []string{`"msg":"request"`, `"status":401`, `"path":"/v1/feed/summary"`, `"request_id":"` + id + `"`} {
		if !strings.Contains(line, want) {
			t.Fatalf("access log lacks %s: %s", want, line)
		}
	}

	var none testenv.LogBuffer
	quiet := newTestFeed(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&none, nil)) })
	get(t, serve(t, quiet).URL+"/healthz", "")
	if strings.Contains(none.String(), `"msg":"request"`) {
		t.Fatalf("access log without AccessLog: %s", none.String())
	}
}
