package feed

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// runningFeed is a feed serving on a private broker, with its logs.
type runningFeed struct {
	f    *Feed
	base string
	logs *testenv.LogBuffer
	done chan error
}

func startFeed(t *testing.T, ctx context.Context, env *testenv.KafkaEnv, startTimeout time.Duration, edit ...func(*Config)) *runningFeed {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(keyNation+" Nation TV\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rf := &runningFeed{logs: &testenv.LogBuffer{}, done: make(chan error, 1)}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.KeysFile = env.Seeds, env.Prefix, smallCountry(t), keys
	cfg.StartTimeout = startTimeout
	cfg.RateLimit = 1000 // the test polls the summary for a state
	cfg.Logger = slog.New(slog.NewTextHandler(rf.logs, nil))
	for _, e := range edit {
		e(&cfg)
	}
	var err error
	if rf.f, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rf.base = "http://" + ln.Addr().String()
	go func() { rf.done <- rf.f.Serve(ctx, ln) }()
	return rf
}

func (rf *runningFeed) running(t *testing.T) bool {
	select {
	case err := <-rf.done:
		t.Fatalf("Serve returned: %v", err)
		return false
	default:
		return true
	}
}

func (rf *runningFeed) summary(t *testing.T) SummaryAnswer {
	t.Helper()
	resp, body := get(t, rf.base+"/v1/feed/summary", keyNation)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("summary: %d %s", resp.StatusCode, body)
	}
	var sum SummaryAnswer
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

func (rf *runningFeed) readyz(t *testing.T) int {
	t.Helper()
	resp, _ := get(t, rf.base+"/readyz", "")
	return resp.StatusCode
}

// TestKafkaOutage: the broker goes away while the feed serves, for longer than any client
// timeout. The feed does not exit: it goes on answering from what it has, /readyz says 503
// while it waits, the outage makes one log line at each end, and once the broker is back
// it reads what was written meanwhile, ending with the view of a feed that never saw the
// outage. A second feed started while the broker is away (StartTimeout much shorter than
// the outage) waits too, and ends with the same view.
func TestKafkaOutage(t *testing.T) {
	pk := testenv.OwnKafka(t)
	env := pk.KafkaEnv
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produce := func(topic string, vs ...any) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, time.Minute)
		defer pcancel()
		var recs []*kgo.Record
		for _, v := range vs {
			r, err := kgorecord.New(env.Topic(topic), v)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		if err := env.Client(t).ProduceSync(pctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(schemas.TopicStationResults,
		res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1),
		res("BKK_1_002", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 2))
	produce(schemas.TopicEstimates, estimate("e1", 2, 3, proj("BKK_1", 2, 0.7, schemas.CallLeading)))

	first := startFeed(t, ctx, env, time.Minute)
	const slow = 3 * time.Minute // bounds on waits, not timings
	wctx, wcancel := context.WithTimeout(ctx, slow)
	defer wcancel()
	if err := first.f.WaitReady(wctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	before := first.summary(t)
	if before.Counted.Constituency.StationsReported != 2 || before.Estimate == nil || before.Estimate.EstimateID != "e1" {
		t.Fatalf("summary before the outage: %+v", before)
	}
	mark := first.logs.Mark()

	pk.Stop()
	outage := testenv.OutageLength(t, 35*time.Second)
	start := time.Now()
	testenv.WaitFor(t, "health false after the broker stopped", time.Minute, func() bool { return first.running(t) && first.f.Health() != nil })
	t.Logf("not ready %v after the broker stopped: %v", time.Since(start).Round(time.Millisecond), first.f.Health())
	if code := first.readyz(t); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, want 503", code)
	}
	// The API answers what it had.
	if during := first.summary(t); !reflect.DeepEqual(during.Counted, before.Counted) {
		t.Errorf("summary during the outage %+v, want %+v", during.Counted, before.Counted)
	}
	// A second feed starts while the broker is away, with a StartTimeout far shorter than
	// the outage.
	second := startFeed(t, ctx, env, 2*time.Second)
	for time.Since(start) < outage { // the outage itself, not a synchronisation
		first.running(t)
		second.running(t)
		time.Sleep(time.Second)
	}
	if second.f.Ready() || second.f.Health() == nil {
		t.Errorf("second feed ready (%v) or healthy (%v) with the broker away", second.f.Ready(), second.f.Health())
	}
	pk.Start()
	produce(schemas.TopicStationResults,
		res("CMI_1_001", pl, 1, prov, fin, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 7))
	produce(schemas.TopicEstimates, estimate("e2", 7, 8, proj("BKK_1", 2, 0.9, schemas.CallLikely)))

	caughtUp := func(rf *runningFeed) func() bool {
		return func() bool {
			if !rf.running(t) || !rf.f.Ready() {
				return false
			}
			s := rf.summary(t)
			return s.Counted.PartyList.StationsReported == 1 && s.Estimate != nil && s.Estimate.EstimateID == "e2"
		}
	}
	testenv.WaitFor(t, "the first feed reads what was written after the outage", slow, caughtUp(first))
	testenv.WaitFor(t, "the second feed starts and reads everything", slow, caughtUp(second))
	for _, rf := range []*runningFeed{first, second} {
		testenv.WaitFor(t, "healthy after the outage", slow, func() bool { return rf.f.Health() == nil })
		if code := rf.readyz(t); code != http.StatusOK {
			t.Errorf("/readyz after the outage: %d", code)
		}
	}
	a, b := first.summary(t), second.summary(t)
	if !reflect.DeepEqual(a.Counted, b.Counted) || !reflect.DeepEqual(a.Counted.Constituency, before.Counted.Constituency) {
		t.Errorf("after the outage: first %+v, second %+v (before %+v)", a.Counted, b.Counted, before.Counted)
	}
	down, up := first.logs.CountSince(mark, `msg="waiting for kafka"`), first.logs.CountSince(mark, `msg="kafka recovered"`)
	t.Logf("outage of %v: %d 'waiting for kafka' lines, %d 'kafka recovered'", outage, down, up)
	if down == 0 || down != up || down > 2 {
		t.Errorf("%d 'waiting for kafka' and %d 'kafka recovered' log lines for one outage: want one of each per change of state", down, up)
	}
	cancel()
	for _, rf := range []*runningFeed{first, second} {
		if err := <-rf.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}
