package feed

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// startBrokerFeed runs a feed on env's topics until the test ends and returns its base URL
// once it is ready.
func startBrokerFeed(t *testing.T, ctx context.Context, env *testenv.KafkaEnv) (*Feed, string) {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(keyNation+" Nation TV\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.KeysFile = env.Seeds, env.Prefix, smallCountry(t), keys
	cfg.CatchUpIdle, cfg.RateBurst = time.Hour, 1000
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
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if err := f.WaitReady(ctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	return f, "http://" + ln.Addr().String()
}

// TestChangesOnBroker polls /v1/feed/changes of a feed reading the real broker: a newsroom
// takes the start cursor, results (one in an aborted transaction), a withdrawal (a
// tombstone) and an estimate arrive, and the changes since the cursor are exactly the
// stream's events, in order; a second run of the feed refuses the first run's cursor.
// Every wait is a read of the stream; nothing sleeps.
func TestChangesOnBroker(t *testing.T) {
	env := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resultsTopic, estimatesTopic := env.Topic(schemas.TopicStationResults), env.Topic(schemas.TopicEstimates)
	tx := env.Client(t, kgo.TransactionalID("feed-changes-"+env.Prefix), kgo.RequiredAcks(kgo.AllISRAcks()))
	plain := env.Client(t)
	record := func(topic string, v any) *kgo.Record {
		r, err := kgorecord.New(topic, v)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	transact := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := tx.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	transact(true, record(resultsTopic, res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1)))

	f, base := startBrokerFeed(t, ctx, env)
	start := changes(t, base, "")
	if start.NextCursor != f.id(1) {
		t.Fatalf("start cursor %s, want %s (one result read)", start.NextCursor, f.id(1))
	}
	s := openStream(t, base, keyNation, "", start.NextCursor)
	defer s.close()
	s.next() // the preamble

	transact(true, record(resultsTopic, res("BKK_1_002", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 2)))
	transact(false, record(resultsTopic, res("BKK_2_001", cons, 1, prov, fin, 300, 0, 0, map[string]int{"1": 300}, 3))) // aborted
	transact(true, &kgo.Record{Topic: resultsTopic, Key: []byte(schemas.StationResultKey("BKK_1_001", cons))})
	var streamed []string
	read := func(n int) {
		for range n {
			fr := s.nextEvent()
			streamed = append(streamed, fr.id+" "+fr.event+" "+fr.data)
		}
	}
	// The estimate goes out once the feed has both results: the topics are read in no
	// fixed order between them.
	read(2)
	if err := plain.ProduceSync(ctx, record(estimatesTopic, estimate("e1", 2, 3, proj("BKK_1", 2, 0.7, schemas.CallLeading)))).FirstErr(); err != nil {
		t.Fatal(err)
	}
	read(1)

	a := changes(t, base, "?since="+start.NextCursor)
	var polled []string
	for _, c := range a.Items {
		polled = append(polled, c.ID+" "+c.Type+" "+string(c.Data))
	}
	if strings.Join(polled, "\n") != strings.Join(streamed, "\n") {
		t.Fatalf("changes since the start:\n%s\nthe stream said:\n%s", strings.Join(polled, "\n"), strings.Join(streamed, "\n"))
	}
	if got := strings.Join(stationsOf(t, a), " "); got != "BKK_1_002:provisional BKK_1_001:withdrawn estimate:e1" ||
		a.NextCursor != f.id(4) || a.More {
		t.Fatalf("changes: %s, next %s more %v", got, a.NextCursor, a.More)
	}
	if again := changes(t, base, "?since="+a.NextCursor); len(again.Items) != 0 || again.NextCursor != a.NextCursor {
		t.Fatalf("nothing new, yet %+v", again)
	}

	// Another run of the feed (a restart) reads the same night but not the first run's cursors.
	_, base2 := startBrokerFeed(t, ctx, env)
	resp, body := get(t, base2+"/v1/feed/changes?since="+a.NextCursor, keyNation)
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), CodeCursorExpired) {
		t.Fatalf("the first run's cursor on the second: %d %s", resp.StatusCode, body)
	}
}
