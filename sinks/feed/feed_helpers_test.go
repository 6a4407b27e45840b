package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"votestream/schemas"
)

// Two newsrooms' keys, as in a key file.
const (
	keyNation = "nation-0123456789abcdef"
	keyPBS    = "thaipbs-0123456789abcdef"
)

// newTestFeed builds a Feed on the small country without Kafka; tests feed it with
// applyInputs and serve its Handler.
func newTestFeed(t *testing.T, mod func(*Config)) *Feed {
	t.Helper()
	path := filepath.Join(t.TempDir(), "newsroom-keys")
	keys := "# newsroom keys\n" + keyNation + " Nation TV\n" + keyPBS + "\tไทยพีบีเอส\n"
	if err := os.WriteFile(path, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seeds = []string{"127.0.0.1:1"} // never dialled: these tests do not Run
	cfg.Country = smallCountry(t)
	cfg.KeysFile = path
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.beginShutdown) // ends streams still open, so httptest servers can close
	return f
}

func (f *Feed) applyResult(sr schemas.StationResult) { f.applyInputs([]input{{sr: &sr}}) }

func (f *Feed) applyEstimate(e schemas.Estimate) { f.applyInputs([]input{{est: &e}}) }

func (f *Feed) id(seq uint64) string { return formatEventID(f.view.Epoch(), seq) }

// serve starts an httptest server on the feed's handler.
func serve(t *testing.T, f *Feed) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(f.beginShutdown) // runs first: streams end before the server waits for them
	return srv
}

// testTimeout bounds every request of a test, so a broken stream fails the test rather
// than hanging it. Nothing is asserted about time.
const testTimeout = 30 * time.Second

func get(t *testing.T, url, key string, header ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// frame is one block of an event stream.
type frame struct {
	id, event, data, retry string
	comments               []string
}

// sseClient reads an event stream.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens base/v1/feed/events?query with an optional Last-Event-ID.
func openStream(t *testing.T, base, key, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/feed/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{t: t, resp: resp, br: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	return c
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next reads one block (up to a blank line).
func (c *sseClient) next() frame {
	c.t.Helper()
	var fr frame
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("stream read: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return fr
		}
		if strings.HasPrefix(line, ":") {
			fr.comments = append(fr.comments, strings.TrimSpace(line[1:]))
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			fr.id = value
		case "event":
			fr.event = value
		case "data":
			fr.data = value
		case "retry":
			fr.retry = value
		default:
			c.t.Fatalf("unknown field %q", line)
		}
	}
}

// nextEvent reads blocks until one carries an event (skipping heartbeats).
func (c *sseClient) nextEvent() frame {
	c.t.Helper()
	for {
		if fr := c.next(); fr.event != "" {
			return fr
		}
	}
}

// resultStation decodes the station id of a result event.
func resultStation(t *testing.T, fr frame) string {
	t.Helper()
	var ev ResultEvent
	if err := json.Unmarshal([]byte(fr.data), &ev); err != nil {
		t.Fatalf("result event %q: %v", fr.data, err)
	}
	return ev.StationID
}
