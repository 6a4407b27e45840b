package feed

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pollsClose is the test's polls-close time: 17:00 Thai time, one hour before t0.
var pollsClose = time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)

// embargoBody is what an embargoed answer carries.
type embargoBody struct {
	Error struct {
		Code    string    `json:"code"`
		Message string    `json:"message"`
		LiftsAt time.Time `json:"lifts_at"`
	} `json:"error"`
	Notice
}

func TestEmbargoAnswers(t *testing.T) {
	clock := newFakeClock(pollsClose.Add(-4 * time.Hour)) // 13:00 Thai time
	f := newTestFeed(t, func(c *Config) { c.Now, c.PollsClose = clock.Now, pollsClose })
	f.markReady()
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1))
	srv := serve(t, f)

	results := []string{"/v1/feed/summary", "/v1/feed/parties", "/v1/feed/constituencies", "/v1/feed/constituencies?province=BKK",
		"/v1/feed/constituencies/BKK_1", "/v1/feed/stations/BKK_1_001", "/v1/feed/regions", "/v1/feed/provinces", "/v1/feed/provinces/BKK"}
	for _, path := range results {
		resp, body := get(t, srv.URL+path, keyNation)
		var b embargoBody
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		if resp.StatusCode != 403 || b.Error.Code != CodeEmbargoed || !b.Error.LiftsAt.Equal(pollsClose) ||
			!b.Unofficial || b.Attribution == "" || resp.Header.Get("Retry-After") != strconv.Itoa(4*3600) {
			t.Fatalf("%s before polls close: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
		if _, off := b.Error.LiftsAt.Zone(); off != 7*3600 {
			t.Errorf("%s: lifts_at %v not in Thai time", path, b.Error.LiftsAt)
		}
	}
	// The key is still checked first, and health is never embargoed.
	if resp, _ := get(t, srv.URL+"/v1/feed/summary", ""); resp.StatusCode != 401 {
		t.Fatalf("no key during the embargo: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/readyz", ""); resp.StatusCode != 200 {
		t.Fatalf("readyz during the embargo: %d", resp.StatusCode)
	}

	clock.Set(pollsClose.Add(-time.Nanosecond))
	if resp, _ := get(t, srv.URL+"/v1/feed/summary", keyNation); resp.StatusCode != 403 {
		t.Fatalf("a nanosecond before polls close: %d", resp.StatusCode)
	}
	clock.Set(pollsClose)
	for _, path := range results {
		resp, body := get(t, srv.URL+path, keyNation)
		var n Notice
		if err := json.Unmarshal(body, &n); err != nil || resp.StatusCode != 200 || !n.Unofficial || n.Attribution != DefaultAttribution {
			t.Fatalf("%s at polls close: %d %s", path, resp.StatusCode, body)
		}
	}
	var st StationAnswer
	_, body := get(t, srv.URL+"/v1/feed/stations/BKK_1_001", keyNation)
	if err := json.Unmarshal(body, &st); err != nil || st.Station.Ballots.Constituency == nil || *st.Station.Ballots.Constituency.BallotsCast != 500 {
		t.Fatalf("station after the embargo: %s", body)
	}
}

func TestEmbargoStream(t *testing.T) {
	clock := newFakeClock(pollsClose.Add(-time.Hour))
	f := newTestFeed(t, func(c *Config) {
		c.Now, c.PollsClose, c.Attribution = clock.Now, pollsClose, "ทดสอบ CC BY 4.0"
		c.Heartbeat = 5 * time.Millisecond // the stream looks at the clock at each heartbeat
	})
	f.markReady()
	srv := serve(t, f)
	s := openStream(t, srv.URL, keyNation, "", "")
	if pre := s.next(); pre.retry == "" || pre.id != "" {
		t.Fatalf("preamble %+v", pre)
	}
	fr := s.next()
	var emb EmbargoEvent
	if err := json.Unmarshal([]byte(fr.data), &emb); err != nil || fr.event != EventEmbargo || !emb.LiftsAt.Equal(pollsClose) ||
		!emb.Unofficial || emb.Attribution != "ทดสอบ CC BY 4.0" || fr.id != "" {
		t.Fatalf("embargo event %+v", fr)
	}
	// Results arrive during the embargo: the stream shows only heartbeats, with no id.
	f.applyResult(res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250}, 1))
	for range 3 {
		if hb := s.next(); hb.event != "" || hb.id != "" || len(hb.comments) != 1 || hb.comments[0] != "heartbeat" {
			t.Fatalf("during the embargo: %+v", hb)
		}
	}
	clock.Set(pollsClose)
	fr = s.nextEvent()
	if fr.event != EventReset || fr.id != f.id(1) {
		t.Fatalf("at lifting: %+v, want a reset at %s", fr, f.id(1))
	}
	var rs struct{ Reason, EventID string }
	if err := json.Unmarshal([]byte(fr.data), &rs); err != nil || rs.Reason != ResetEmbargoLifted {
		t.Fatalf("reset %s", fr.data)
	}
	f.applyResult(res("BKK_1_002", cons, 1, corr, fin, 400, 4, 6, map[string]int{"1": 100}, 2))
	fr = s.nextEvent()
	var ev ResultEvent
	if err := json.Unmarshal([]byte(fr.data), &ev); err != nil || fr.event != EventResult || ev.StationID != "BKK_1_002" ||
		!ev.Unofficial || ev.Attribution != "ทดสอบ CC BY 4.0" || fr.id != f.id(2) {
		t.Fatalf("after the embargo: %+v", fr)
	}
}

// TestEmbargoOnBroker: a feed started on the real broker before polls close serves
// nothing it has read, and everything once they have closed.
func TestEmbargoOnBroker(t *testing.T) {
	env := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := env.Client(t)
	r, err := kgorecord.New(env.Topic(schemas.TopicStationResults),
		res("CMI_1_001", pl, 1, prov, fin, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}

	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(keyNation+" Nation TV\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock(pollsClose.Add(-time.Minute))
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.KeysFile = env.Seeds, env.Prefix, smallCountry(t), keys
	cfg.Now, cfg.PollsClose = clock.Now, pollsClose
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- f.Serve(runCtx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	if err := f.WaitReady(ctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	base := "http://" + ln.Addr().String()
	if resp, body := get(t, base+"/v1/feed/stations/CMI_1_001", keyNation); resp.StatusCode != 403 {
		t.Fatalf("before polls close: %d %s", resp.StatusCode, body)
	}
	clock.Add(time.Minute)
	var st StationAnswer
	_, body := get(t, base+"/v1/feed/stations/CMI_1_001", keyNation)
	if err := json.Unmarshal(body, &st); err != nil || st.Station.Ballots.PartyList == nil || *st.Station.Ballots.PartyList.BallotsCast != 600 || !st.Unofficial {
		t.Fatalf("after polls close: %s", body)
	}
	checkLevels(t, base, keyNation)
}
