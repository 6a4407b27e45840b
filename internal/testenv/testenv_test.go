package testenv_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
)

// TestKafkaTransaction proves the helper reaches a real broker: a record produced in a
// committed transaction is read back by a read_committed consumer, and an aborted one is not.
func TestKafkaTransaction(t *testing.T) {
	k := testenv.Kafka(t)
	topic := k.Topic(schemas.TopicSubmissions)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	prod := k.Client(t, kgo.TransactionalID(k.Prefix+"txn"), kgo.DefaultProduceTopic(topic))
	for _, tc := range []struct {
		value  string
		commit kgo.TransactionEndTry
	}{{"aborted", kgo.TryAbort}, {"committed", kgo.TryCommit}} {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte("S1"), Value: []byte(tc.value)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", tc.value, err)
		}
		if err := prod.EndTransaction(ctx, tc.commit); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}

	cons := k.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) == 0 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no committed record read back: %v", err)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch: %v", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 1 || got[0] != "committed" {
		t.Fatalf("read_committed consumer got %q, want only [committed]", got)
	}
}

// TestClickHouseTable proves the helper reaches a real server with a private database:
// create a table, batch-insert Thai text, read it back.
func TestClickHouseTable(t *testing.T) {
	c := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := c.Conn.Exec(ctx, `CREATE TABLE parties (party_no UInt16, name_th String) ENGINE = MergeTree ORDER BY party_no`); err != nil {
		t.Fatalf("create: %v", err)
	}
	batch, err := c.Conn.PrepareBatch(ctx, "INSERT INTO parties (party_no, name_th) VALUES")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	for _, p := range []struct {
		no   uint16
		name string
	}{{31, "ก้าวไกล"}, {29, "เพื่อไทย"}} {
		if err := batch.Append(p.no, p.name); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send: %v", err)
	}
	var name string
	if err := c.Conn.QueryRow(ctx, "SELECT name_th FROM parties WHERE party_no = 31").Scan(&name); err != nil {
		t.Fatalf("select: %v", err)
	}
	if name != "ก้าวไกล" {
		t.Fatalf("name_th = %q, want ก้าวไกล", name)
	}
	var n uint64
	if err := c.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", c.Database).Scan(&n); err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if n != 1 {
		t.Fatalf("database %s has %d tables, want 1: databases are not private to the test", c.Database, n)
	}
}

// TestPrivateKafkaRestart proves a test can stop and restart a broker of its own and read
// back what was acknowledged before the stop.
func TestPrivateKafkaRestart(t *testing.T) {
	pk := testenv.OwnKafka(t)
	topic := pk.Topic(schemas.TopicSubmissions)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := pk.Client(t, kgo.DefaultProduceTopic(topic))
	if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte("S1"), Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	pk.Stop()
	pk.Start()
	if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte("S1"), Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	cons := pk.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 2 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %q before the deadline: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 2 || got[0] != "before" || got[1] != "after" {
		t.Fatalf("got %q, want [before after]", got)
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("body"))
	}))
	defer srv.Close()
	if code, b := testenv.Get(t, srv.URL+"/missing"); code != http.StatusNotFound || !strings.Contains(string(b), "no such page") {
		t.Errorf("Get(/missing) = %d %q, want 404 with the body", code, b)
	}
	if b := testenv.MustGet(t, srv.URL+"/ok"); string(b) != "body" {
		t.Errorf("MustGet(/ok) = %q, want \"body\"", b)
	}
}

func TestRunInBackground(t *testing.T) {
	started := make(chan struct{})
	b := testenv.RunInBackground(t, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return errors.New("stopped")
	})
	<-started
	if !b.Running() {
		t.Fatal("Running false while run waits for its context")
	}
	if err := b.Stop(); err == nil || err.Error() != "stopped" {
		t.Errorf("Stop = %v, want run's error", err)
	}
	if err := b.Stop(); err == nil || err.Error() != "stopped" {
		t.Errorf("second Stop = %v, want the same error", err)
	}
}
