package evidencelog

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/evidencelog/tlog"
	"votestream/evidencelog/verify"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
	"votestream/simulate"
)

// TestSimulatedNight: the log built from the simulator's night (the first half of a small
// country's submissions, accepted as ingest accepts them: a resent submission id once, each
// photo it cites stored once) holds every report and photo exactly once; every report's
// proof found by its submission id and a sample of photos' proofs verify offline; and the
// checkpoint signed half-way is consistent with the final one.
func TestSimulatedNight(t *testing.T) {
	sim, err := simulate.Generate(simulate.SmallConfig(15))
	if err != nil {
		t.Fatal(err)
	}
	night, err := sim.Night()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Kafka(t)
	want := map[string]int{}
	var reports []*schemas.Report
	var photos []string
	var recs []*kgo.Record
	seenID, seenPhoto := map[string]bool{}, map[string]bool{}
	add := func(topic string, v any, leaf []byte) {
		rec, err := kgorecord.New(env.Topic(topic), v)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		want[string(leaf)] = 1
	}
	half := night.Len() / 2
	i := 0
	for ev := range night.Events() {
		if i++; i > half {
			break
		}
		sub := ev.Submission
		for _, p := range sub.Evidence {
			if !seenPhoto[p] {
				seenPhoto[p] = true
				photos = append(photos, p)
				add(schemas.TopicEvidence, schemas.Evidence{Evidence: p, Bytes: 200_000, VolunteerID: ev.Volunteer.ID, ReceivedAt: ev.At.UTC()}, schemas.PhotoLeaf(p))
			}
		}
		if seenID[sub.SubmissionID] {
			continue // a resent submission: ingest answers the first receipt, writes nothing
		}
		seenID[sub.SubmissionID] = true
		rep := &schemas.Report{Submission: sub, VolunteerID: ev.Volunteer.ID, Org: ev.Volunteer.Org, Role: "station",
			ReceivedAt: ev.At.UTC().Add(time.Duration(i) * time.Nanosecond), Hash: schemas.CanonicalHash(sub)}
		reports = append(reports, rep)
		add(schemas.TopicSubmissions, rep, schemas.ReportLeaf(rep))
	}
	if len(reports) < 500 || len(photos) < 100 {
		t.Fatalf("a night of %d reports and %d photos is too small to say much", len(reports), len(photos))
	}
	t.Logf("simulated night: %d events, %d reports, %d photos", half, len(reports), len(photos))

	dir := t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	produce(t, env, recs[:len(recs)/2])
	l, stop := start(t, testConfig(env, dir, keyFile, "g"))
	defer stop()
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	waitSize(t, dir, uint64(len(recs)/2), 2*time.Minute) // no duplicates among them
	mid, _ := readEntries(t, dir, keys.PublicKeys)
	produce(t, env, recs[len(recs)/2:])
	waitSize(t, dir, uint64(len(want)), 2*time.Minute)
	waitServed(t, l, uint64(len(want)))
	final, entries := readEntries(t, dir, keys.PublicKeys)
	checkExactlyOnce(t, entries, want)

	// The half-way checkpoint is a prefix of the final one.
	ctx := context.Background()
	lg, _ := tlog.OpenLog(dir)
	path, err := tlog.ConsistencyProof(ctx, lg, mid.Size, final.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyConsistency(mid, final, path); err != nil {
		t.Errorf("checkpoints %d and %d: %v", mid.Size, final.Size, err)
	}
	// Every report's proof, found by its submission id as a station page links it.
	trust, _ := verify.NewTrust(keys.PublicKeys, nil, 0)
	for _, rep := range reports {
		b := testenv.MustGet(t, srv.URL+"/report/"+rep.SubmissionID+"?hash="+rep.Hash)
		pb, err := tlog.ParseBundle(b)
		if err != nil || pb.Entry != string(schemas.ReportLeaf(rep)) {
			t.Fatalf("report %s: the proof is of another leaf or unreadable: %v %s", rep.SubmissionID, err, b)
		}
		if out, err := verify.Inclusion(ctx, trust, b, verify.Subject{}, nil, nil); err != nil {
			t.Fatalf("report %s: %v %s", rep.SubmissionID, err, out)
		}
	}
	for _, p := range photos[:100] {
		b := testenv.MustGet(t, srv.URL+"/photo/"+p)
		if out, err := verify.Inclusion(ctx, trust, b, verify.Subject{}, nil, nil); err != nil {
			t.Fatalf("photo %s: %v %s", p, err, out)
		}
	}
}
