package feed

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// TestFeedOnBroker runs the feed on the real broker: results and an estimate written before
// it starts (in committed and aborted transactions, as consolidate writes them), then
// changes while a newsroom holds a stream. Every wait is a read of the stream or of
// WaitReady; nothing sleeps.
func TestFeedOnBroker(t *testing.T) {
	env := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	resultsTopic, estimatesTopic := env.Topic(schemas.TopicStationResults), env.Topic(schemas.TopicEstimates)
	tx := env.Client(t, kgo.TransactionalID("feed-test-"+env.Prefix), kgo.RequiredAcks(kgo.AllISRAcks()))
	plain := env.Client(t)
	record := func(topic string, v any) *kgo.Record {
		r, err := kgorecord.New(topic, v)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	transact := func(commit bool, srs ...schemas.StationResult) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, sr := range srs {
			if err := tx.ProduceSync(ctx, record(resultsTopic, sr)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	publishEstimate := func(e schemas.Estimate) {
		t.Helper()
		if err := plain.ProduceSync(ctx, record(estimatesTopic, e)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Before the feed starts.
	transact(true,
		res("BKK_1_001", cons, 1, corr, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 1),
		res("BKK_1_002", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 100, "2": 250, "3": 40}, 2))
	transact(false, res("BKK_2_001", cons, 1, prov, fin, 300, 0, 0, map[string]int{"1": 300}, 3)) // aborted: never seen
	publishEstimate(estimate("e1", 2, 3, proj("BKK_1", 2, 0.7, schemas.CallLeading)))

	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(keyNation+" Nation TV\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.KeysFile = env.Seeds, env.Prefix, smallCountry(t), keys
	// Ready must come from reaching the offsets of the start (the partition tails here are
	// transaction markers), never from this fallback.
	cfg.CatchUpIdle = time.Hour
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

	var sum SummaryAnswer
	_, body := get(t, base+"/v1/feed/summary", keyNation)
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	// Two committed results (500 + 400 cast on 520 + 480 eligible) and e1; the aborted one
	// is absent.
	c := sum.Counted.Constituency
	if c.StationsReported != 2 || c.BallotsCast != 900 || c.EligibleReported != 1000 || sum.Estimate == nil || sum.Estimate.EstimateID != "e1" {
		t.Fatalf("summary after catch-up: %s", body)
	}
	var st StationAnswer
	_, body = get(t, base+"/v1/feed/stations/BKK_2_001", keyNation)
	if err := json.Unmarshal(body, &st); err != nil || st.Station.Ballots.Constituency != nil {
		t.Fatalf("aborted result visible: %s", body)
	}

	// A newsroom streams from the summary it holds.
	s := openStream(t, base, keyNation, "", sum.EventID)
	if pre := s.next(); pre.id != sum.EventID {
		t.Fatalf("preamble %+v", pre)
	}
	var ev ResultEvent

	transact(true, res("BKK_1_001", cons, 2, disp, fin, 500, 10, 6, map[string]int{"1": 250, "2": 180, "3": 54}, 5))
	fr := s.nextEvent()
	if err := json.Unmarshal([]byte(fr.data), &ev); err != nil || fr.event != EventResult || ev.StationID != "BKK_1_001" ||
		ev.Status != "disputed" || ev.Reported || ev.BallotsCast != nil {
		t.Fatalf("disputed result event %+v", fr)
	}

	// A stale version changes nothing: the next event is the party-list result after it.
	transact(true, res("BKK_1_002", cons, 0, prov, prog, 1, 0, 0, nil, 6))
	transact(true, res("CMI_1_001", pl, 1, prov, fin, 600, 10, 5, map[string]int{"29": 400, "31": 150, "7": 35}, 7))
	fr = s.nextEvent()
	if err := json.Unmarshal([]byte(fr.data), &ev); err != nil || ev.StationID != "CMI_1_001" || *ev.BallotsCast != 600 || ev.Votes["29"] != 400 {
		t.Fatalf("party-list result event %+v", fr)
	}

	e2 := estimate("e2", 7, 8, proj("BKK_1", 2, 0.9, schemas.CallLikely))
	e2.SharesState, e2.SeatsState, e2.SeatDraws = schemas.StateEstimate, schemas.StateEstimate, 2000 // the seat simulation's fields
	e2.Parties[0].SeatRange = &schemas.SeatRange{ListSeats: 48, Total: 50, TotalLo90: 49, TotalHi90: 51, TotalLo95: 48, TotalHi95: 52, LargestProbability: 0.7}
	publishEstimate(e2)
	fr = s.nextEvent()
	var est EstimateEvent
	if err := json.Unmarshal([]byte(fr.data), &est); err != nil || fr.event != EventEstimate || est.EstimateID != "e2" ||
		len(est.ChangedConstituencies) != 1 || est.ChangedConstituencies[0] != "BKK_1" {
		t.Fatalf("estimate event %+v", fr)
	}
	if est.SeatsState != schemas.StateEstimate || est.SeatDraws != 2000 || est.Parties[0].SeatRange == nil || *est.Parties[0].SeatRange != *e2.Parties[0].SeatRange {
		t.Fatalf("estimate event lost the seats: %s", fr.data)
	}

	// The JSON API agrees with what the stream said: BKK_1 has one station reported
	// (BKK_1_002: 400 cast) and one disputed; the projection is e2's.
	var ca ConstituencyAnswer
	_, body = get(t, base+"/v1/feed/constituencies/BKK_1", keyNation)
	if err := json.Unmarshal(body, &ca); err != nil {
		t.Fatal(err)
	}
	cc := ca.Constituency.Counted.Constituency
	if cc.StationsReported != 1 || cc.StationsDisputed != 1 || cc.BallotsCast != 400 || ca.Constituency.Projection.EstimateID != "e2" ||
		*ca.Constituency.Recommendation != "likely" || ca.EventID != fr.id {
		t.Fatalf("BKK_1 after the stream: %s (last event %s)", body, fr.id)
	}
	// Provinces, regions and the country agree with the constituencies to the vote.
	checkLevels(t, base, keyNation)
}
