package kafkaread_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/backoff"
	"votestream/internal/kafkaread"
	"votestream/internal/testenv"
	"votestream/schemas"
)

var listQuick = backoff.Exponential(50*time.Millisecond, time.Second).Within(30 * time.Second)

// produceTx writes values to topic in one transaction (committed or aborted), so that the
// partition ends with a transaction marker: the case estimate's "trailingMarkers" guessed at.
func produceTx(t *testing.T, env *testenv.KafkaEnv, topic string, commit bool, values ...string) {
	t.Helper()
	cl := env.Client(t, kgo.TransactionalID(fmt.Sprintf("%s-tx-%d", topic, time.Now().UnixNano())), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		// One key: one partition, so the order below is the order read.
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

func newReader(t *testing.T, env *testenv.KafkaEnv, live bool, topics ...kafkaread.Topic) *kafkaread.Reader {
	t.Helper()
	rd, err := kafkaread.New(kafkaread.Config{Seeds: env.Seeds, Topics: topics, Live: live, List: listQuick, WaitForTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return rd
}

// readAll polls until the reader has caught up, and returns the values read.
func readAll(t *testing.T, rd *kafkaread.Reader) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for !rd.CaughtUp() {
		b, err := rd.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v (behind: %v)", err, rd.Behind())
		}
		for _, r := range b.Records {
			got = append(got, string(r.Value))
		}
	}
	return got
}

// TestReadsToTheCutPastMarkersAndAborts: a cut ending in a commit marker is reached, aborted
// records are never handed out, and what is written after Start is not part of the cut.
func TestReadsToTheCutPastMarkersAndAborts(t *testing.T) {
	env := testenv.Kafka(t)
	topic := env.Topic(schemas.TopicAnomalies)
	produceTx(t, env, topic, true, "a", "b")
	produceTx(t, env, topic, false, "aborted")
	produceTx(t, env, topic, true, "c")
	// A commit returns before its markers are on the partition: until they are, the last
	// stable offset (the cut) still stops before "c". Wait for it to pass all 7 offsets.
	adm := env.Admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		offs, err := adm.ListCommittedOffsets(ctx, topic)
		var stable int64
		offs.Each(func(o kadm.ListedOffset) { stable += o.Offset })
		if err == nil && stable >= 7 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("last stable offset %d after 30 s, want 7 (err %v)", stable, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the broker's offsets: there is no notification
	}

	rd := newReader(t, env, false, kafkaread.Topic{Name: topic})
	produceTx(t, env, topic, true, "after the cut")
	if got, want := readAll(t, rd), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	if b := rd.Behind(); len(b) != 0 {
		t.Fatalf("caught up yet behind: %v", b)
	}
	var ends int64
	for _, p := range rd.Cut() {
		ends += p.End - p.Start
	}
	// 4 data records (one aborted) and 3 markers lay before the cut.
	if ends != 7 {
		t.Fatalf("cut spans %d offsets, want 7: %+v", ends, rd.Cut())
	}
}

func TestNewestOnly(t *testing.T) {
	env := testenv.Kafka(t)
	topic := env.Topic(schemas.TopicAnomalies)
	for i := range 5 {
		produceTx(t, env, topic, true, fmt.Sprint(i))
	}
	// Each transaction is a record and a marker: the newest 4 offsets hold 2 records.
	rd := newReader(t, env, false, kafkaread.Topic{Name: topic, Newest: 4})
	if got, want := readAll(t, rd), []string{"3", "4"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func TestEmptyTopicIsCaughtUpAtOnce(t *testing.T) {
	env := testenv.Kafka(t)
	rd := newReader(t, env, false, kafkaread.Topic{Name: env.Topic(schemas.TopicAnomalies)})
	if !rd.CaughtUp() {
		t.Fatalf("empty topic not caught up: %v", rd.Behind())
	}
}

// TestLiveGoesOnPastTheCut: a live reader reports catching up at the cut, then hands out
// what comes after.
func TestLiveGoesOnPastTheCut(t *testing.T) {
	env := testenv.Kafka(t)
	topic := env.Topic(schemas.TopicAnomalies)
	produceTx(t, env, topic, true, "before")
	rd := newReader(t, env, true, kafkaread.Topic{Name: topic})
	if got := readAll(t, rd); !slices.Equal(got, []string{"before"}) {
		t.Fatalf("read %q before the cut", got)
	}
	produceTx(t, env, topic, true, "after")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		b, err := rd.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if !b.CaughtUp {
			t.Fatal("a live reader fell back behind its cut")
		}
		if len(b.Records) > 0 {
			if v := string(b.Records[0].Value); v != "after" {
				t.Fatalf("read %q past the cut, want %q", v, "after")
			}
			return
		}
	}
}

func TestMissingTopic(t *testing.T) {
	env := testenv.Kafka(t)
	rd, err := kafkaread.New(kafkaread.Config{Seeds: env.Seeds, Topics: []kafkaread.Topic{{Name: env.Prefix + "no-such-topic"}}, List: listQuick})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	err = rd.Start(context.Background())
	if !errors.Is(err, kafkaread.ErrTopicMissing) {
		t.Fatalf("Start: %v, want ErrTopicMissing", err)
	}
	// Not retried: a wrong prefix fails at once rather than after the listing budget.
	if errors.Is(err, backoff.ErrExhausted) {
		t.Fatalf("a missing topic was retried until the budget ran out: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]kafkaread.Config{
		"no seeds":  {Topics: []kafkaread.Topic{{Name: "x"}}, List: listQuick},
		"no topics": {Seeds: []string{"127.0.0.1:1"}, List: listQuick},
		"unbounded": {Seeds: []string{"127.0.0.1:1"}, Topics: []kafkaread.Topic{{Name: "x"}}, List: backoff.Exponential(time.Millisecond, time.Second)},
	} {
		if _, err := kafkaread.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
