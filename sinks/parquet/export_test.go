package parquet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	pq "github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// smallCountry is election's test reference: Thai province, subdistrict and party names.
func smallCountry(t *testing.T) *election.Country {
	t.Helper()
	c, err := election.LoadCountry(os.DirFS("../../election/testdata/small"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var ict = time.FixedZone("ICT", 7*3600)

func bkk(hour, min int) time.Time { return time.Date(2023, 5, 14, hour, min, 0, 0, ict) }

func result(station, constituency, ballot string, version int64, status schemas.Status, stage schemas.Stage,
	cast, invalid, noVote int, votes map[string]int, updated time.Time, anomalies ...string) schemas.StationResult {
	return schemas.StationResult{
		StationID: station, ConstituencyID: constituency, Ballot: ballot, Version: version, Status: status, Stage: stage,
		BallotsCast: cast, Invalid: invalid, NoVote: noVote, Votes: votes, Anomalies: anomalies,
		Sources:   []schemas.Source{{SubmissionID: "s-" + secret, VolunteerID: "vol-" + secret, Org: "org-" + secret, Stage: stage, Hash: "h-" + secret}},
		DecidedBy: "lead-" + secret, CountedAt: updated.Add(-time.Minute), UpdatedAt: updated,
	}
}

// secret marks every volunteer, reviewer, organisation and submission field of the input:
// checkExportFiles fails when any export file holds it.
const secret = "SECRET-7f3a"

// TestExportOnBroker writes a small night to the real broker (committed, aborted, stale and
// deleted results, a re-delivered anomaly and a record nobody can decode, three estimates out
// of order), exports it, and reads every file back with the libraries an analyst would use.
func TestExportOnBroker(t *testing.T) {
	env := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resultsTopic, anomaliesTopic, estimatesTopic := env.Topic(schemas.TopicStationResults), env.Topic(schemas.TopicAnomalies), env.Topic(schemas.TopicEstimates)
	plain := env.Client(t)
	tx := env.Client(t, kgo.TransactionalID("export-test-"+env.Prefix), kgo.RequiredAcks(kgo.AllISRAcks()))
	record := func(topic string, v any) *kgo.Record {
		t.Helper()
		r, err := kgorecord.New(topic, v)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	produce := func(rs ...*kgo.Record) {
		t.Helper()
		if err := plain.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const pl, cons = "partylist", "constituency"
	prov, corr, disp := schemas.StatusProvisional, schemas.StatusCorroborated, schemas.StatusDisputed
	prog, fin := schemas.StageProgress, schemas.StageFinal

	// Each produce call is one station and ballot, so one partition, in this order.
	produce(
		record(resultsTopic, result("BKK_1_001", "BKK_1", pl, 1, prov, prog, 100, 2, 1, map[string]int{"31": 60, "29": 37}, bkk(17, 40))),
		record(resultsTopic, result("BKK_1_001", "BKK_1", pl, 3, corr, fin, 400, 5, 3, map[string]int{"31": 250, "29": 100, "7": 42}, bkk(18, 20))),
		// Stale: version 2 arrives after version 3 and loses, later updated_at and all.
		record(resultsTopic, result("BKK_1_001", "BKK_1", pl, 2, prov, prog, 300, 4, 2, map[string]int{"31": 190, "29": 104}, bkk(18, 25))),
	)
	produce(record(resultsTopic, result("BKK_1_001", "BKK_1", cons, 1, prov, fin, 400, 4, 6, map[string]int{"1": 200, "2": 150, "3": 40}, bkk(18, 5), "BALLOT_GAP")))
	produce(record(resultsTopic, result("CMI_1_001", "CMI_1", pl, 1, disp, fin, 500, 10, 0, map[string]int{"29": 300, "31": 150, "7": 50}, bkk(18, 10), "ARITH")))
	// Deleted by a tombstone: absent from the export.
	produce(record(resultsTopic, result("CMI_1_002", "CMI_1", cons, 1, prov, fin, 300, 0, 0, map[string]int{"1": 300}, bkk(18, 40))),
		&kgo.Record{Topic: resultsTopic, Key: []byte("CMI_1_002/constituency")})
	// A station the reference does not know: no eligible voters, no province.
	produce(record(resultsTopic, result("ZZZ_9_001", "ZZZ_9", pl, 1, prov, prog, 50, 0, 0, map[string]int{"31": 50}, bkk(17, 50))))
	// Aborted: read_committed never shows it, though it is the highest version.
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, record(resultsTopic, result("CMI_1_001", "CMI_1", pl, 2, corr, fin, 999, 0, 0, map[string]int{"29": 999}, bkk(18, 30)))).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	arith := schemas.Anomaly{
		AnomalyID: "an-arith-1", Code: schemas.AnomalyArith, Severity: schemas.SeverityHard, StationID: "CMI_1_001",
		ConstituencyID: "CMI_1", Ballot: pl, VolunteerID: "vol-" + secret, Submissions: []string{"sub-" + secret},
		Message: "คะแนนรวมไม่ตรงกับบัตรที่ใช้ (510 ≠ 500) " + secret, Evidence: map[string]string{"sum": "510", "volunteer": secret}, DetectedAt: bkk(18, 10),
	}
	gap := schemas.Anomaly{
		AnomalyID: "an-gap-1", Code: schemas.AnomalyBallotGap, Severity: schemas.SeveritySoft, StationID: "BKK_1_001",
		ConstituencyID: "BKK_1", Message: "ballot gap", DetectedAt: bkk(18, 5),
	}
	produce(record(anomaliesTopic, arith), record(anomaliesTopic, arith)) // re-delivered: one row
	produce(record(anomaliesTopic, gap))
	produce(&kgo.Record{Topic: anomaliesTopic, Key: []byte("X"), Value: []byte("not json"),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: "schema", Value: []byte("anomaly.v1")}}}) // skipped

	swing := 0.05
	estimate := func(id string, data time.Time) schemas.Estimate {
		return schemas.Estimate{
			EstimateID: id, DataTime: data, ComputedAt: data.Add(3 * time.Second),
			StationsReported: 2, StationsTotal: 7, EligibleReported: 1220, EligibleTotal: 3600, SharesState: schemas.StateEstimate,
			SeatsState: schemas.StateEstimate, SeatDraws: 2000,
			Parties: []schemas.PartyEstimate{
				{PartyNo: 31, CountedVotes: 400, ProjectedVotes: 1500, Share: 0.5, ShareLo: 0.4, ShareHi: 0.6, Seats: 50, SeatRange: &schemas.SeatRange{
					ConstituencySeats: 1, ListSeats: 50, Total: 51, TotalLo90: 50, TotalHi90: 52, TotalLo95: 49, TotalHi95: 53, LargestProbability: 0.9}},
				{PartyNo: 29, CountedVotes: 400, ProjectedVotes: 1200, Share: 0.4, ShareLo: 0.3, ShareHi: 0.5, Seats: 40},
				{PartyNo: 7, CountedVotes: 92, ProjectedVotes: 300, Share: 0.1, ShareLo: 0.05, ShareHi: 0.15, Seats: 10},
			},
			Constituencies: []schemas.ConstituencyEstimate{{
				ConstituencyID: "BKK_1", LeaderNo: 1, WinProbability: 0.8, Call: schemas.CallLeading,
				StationsReported: 1, StationsTotal: 3, EligibleReported: 520, EligibleTotal: 1500,
				Candidates: []schemas.CandidateEstimate{{CandidateNo: 1, CountedVotes: 200, ProjectedVotes: 600, WinProbability: 0.8, Swing: &swing}, {CandidateNo: 2, CountedVotes: 150, ProjectedVotes: 450, WinProbability: 0.2}},
			}},
		}
	}
	produce(record(estimatesTopic, estimate("e-1800", bkk(18, 0))))
	produce(record(estimatesTopic, estimate("e-1800", bkk(18, 0)))) // re-published: one estimate
	produce(record(estimatesTopic, estimate("e-1805", bkk(18, 5))))
	produce(record(estimatesTopic, estimate("e-1755", bkk(17, 55)))) // late, older data: not the latest
	// The transparency log's checkpoints: the largest, with its cosignature, is cited.
	cpTopic := env.Topic(schemas.TopicCheckpoints)
	checkpoint := func(size int64, cosigners ...string) *kgo.Record {
		return record(cpTopic, schemas.Checkpoint{Origin: "log.example.org", Size: size, RootHash: fmt.Sprintf("root%d", size),
			Note: fmt.Sprintf("log.example.org\n%d\n", size), Cosigners: cosigners, PublishedAt: bkk(18, 30)})
	}
	produce(checkpoint(10), checkpoint(20), checkpoint(20, "witness.example.org"), checkpoint(15))
	// The call log: an approval (re-delivered: one row) and its retraction, in that order.
	callsTopic := env.Topic(schemas.TopicCalls)
	prob := 0.99
	approve := schemas.Call{CallID: "c-1", Race: "BKK_1", Action: schemas.ActionApprove, State: schemas.CallLikely, LeaderNo: 1,
		By: "desk-1", Org: "org-" + secret, Role: schemas.RoleDesk, At: bkk(18, 10), Reason: "ช่วงห่างพอ",
		Evidence: schemas.CallEvidence{EstimateID: "e-1805", Recommendation: schemas.CallLikely, WinProbability: &prob, MarginVotes: 50}}
	produce(record(callsTopic, approve), record(callsTopic, approve),
		record(callsTopic, schemas.Call{CallID: "c-2", Race: "BKK_1", Action: schemas.ActionRetract, By: "desk-2", At: bkk(18, 12), Reason: "พบหน่วยซ้ำ"}))

	out := filepath.Join(t.TempDir(), "export")
	cfg := DefaultConfig()
	cfg.Seeds, cfg.TopicPrefix, cfg.Country, cfg.OutDir, cfg.Arrow = env.Seeds, env.Prefix, smallCountry(t), out, true
	var progress bytes.Buffer
	cfg.Progress = &progress
	// Written after the cut is taken: the export must see none of it.
	cfg.afterCut = func() {
		produce(record(resultsTopic, result("BKK_1_001", "BKK_1", pl, 9, corr, fin, 1, 1, 0, nil, bkk(19, 0))),
			record(resultsTopic, result("BKK_2_001", "BKK_2", pl, 1, corr, fin, 1, 1, 0, nil, bkk(19, 0))))
		produce(record(anomaliesTopic, schemas.Anomaly{AnomalyID: "an-late", Code: schemas.AnomalyEarly, StationID: "BKK_2_001", DetectedAt: bkk(19, 0)}))
		produce(record(estimatesTopic, estimate("e-1900", bkk(19, 0))))
	}
	sum, err := Export(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "export: 23 records read in ") {
		t.Errorf("progress output %q lacks the final count", progress.String())
	}

	// Files: exactly these, nothing temporary left behind.
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	wantNames := []string{"anomalies.parquet", "calls.parquet", "estimate_constituencies.parquet",
		"estimate_history_constituencies.arrows", "estimate_history_constituencies.parquet",
		"estimate_history_parties.arrows", "estimate_history_parties.parquet",
		"estimate_parties.parquet", "manifest.json", "station_results.arrows", "station_results.parquet"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("files %q, want %q", names, wantNames)
	}

	// Station results: BKK_1_001 both ballots, CMI_1_001 at version 1, ZZZ_9_001.
	stations, err := pq.ReadFile[StationRow](filepath.Join(out, FileStationResults))
	if err != nil {
		t.Fatal(err)
	}
	ev := func(n int64) *int64 { return &n }
	wantStations := []StationRow{
		{StationID: "BKK_1_001", ConstituencyID: "BKK_1", ProvinceID: "BKK", Subdistrict: "พระบรมมหาราชวัง", Ballot: cons, Status: "provisional", Stage: "final",
			Version: 1, BallotsCast: 400, Invalid: 4, NoVote: 6, EligibleVoters: ev(520), Votes: []Vote{{1, 200}, {2, 150}, {3, 40}},
			Anomalies: []string{"BALLOT_GAP"}, Sources: 1, CountedAt: bkk(18, 4), UpdatedAt: bkk(18, 5)},
		{StationID: "BKK_1_001", ConstituencyID: "BKK_1", ProvinceID: "BKK", Subdistrict: "พระบรมมหาราชวัง", Ballot: pl, Status: "corroborated", Stage: "final",
			Version: 3, BallotsCast: 400, Invalid: 5, NoVote: 3, EligibleVoters: ev(520), Votes: []Vote{{7, 42}, {29, 100}, {31, 250}},
			Anomalies: []string{}, Sources: 1, CountedAt: bkk(18, 19), UpdatedAt: bkk(18, 20)},
		{StationID: "CMI_1_001", ConstituencyID: "CMI_1", ProvinceID: "CMI", Subdistrict: "ศรีภูมิ", Ballot: pl, Status: "disputed", Stage: "final",
			Version: 1, BallotsCast: 500, Invalid: 10, NoVote: 0, EligibleVoters: ev(700), Votes: []Vote{{7, 50}, {29, 300}, {31, 150}},
			Anomalies: []string{"ARITH"}, Sources: 1, CountedAt: bkk(18, 9), UpdatedAt: bkk(18, 10)},
		{StationID: "ZZZ_9_001", ConstituencyID: "ZZZ_9", Ballot: pl, Status: "provisional", Stage: "progress",
			Version: 1, BallotsCast: 50, Votes: []Vote{{31, 50}}, Anomalies: []string{}, Sources: 1, CountedAt: bkk(17, 49), UpdatedAt: bkk(17, 50)},
	}
	if len(stations) != len(wantStations) {
		t.Fatalf("%d station rows, want %d: %+v", len(stations), len(wantStations), stations)
	}
	for i, w := range wantStations {
		checkStation(t, i, stations[i], w)
	}

	anomalies, err := pq.ReadFile[AnomalyRow](filepath.Join(out, FileAnomalies))
	if err != nil {
		t.Fatal(err)
	}
	if len(anomalies) != 2 {
		t.Fatalf("%d anomaly rows, want 2: %+v", len(anomalies), anomalies)
	}
	if a := anomalies[0]; a.AnomalyID != "an-gap-1" || a.ProvinceID != "BKK" {
		t.Errorf("anomaly 0: %+v", a)
	}
	if a := anomalies[1]; a.AnomalyID != "an-arith-1" || a.Code != "ARITH" || a.Severity != "hard" || a.ProvinceID != "CMI" ||
		a.StationID != "CMI_1_001" || a.Ballot != pl || !a.DetectedAt.Equal(bkk(18, 10)) {
		t.Errorf("anomaly 1: %+v", a)
	}
	// No volunteer, reviewer, organisation or submission reaches any file, by column or value.
	checkExportFiles(t, out, secret)

	parties, err := pq.ReadFile[EstimatePartyRow](filepath.Join(out, FileEstimateParties))
	if err != nil {
		t.Fatal(err)
	}
	if len(parties) != 3 {
		t.Fatalf("%d party rows, want 3", len(parties))
	}
	if p := parties[0]; p.EstimateID != "e-1805" || p.PartyNo != 31 || p.NameTH != "ก้าวไกล" || p.NameEN != "Move Forward" ||
		p.ProjectedVotes != 1500 || p.Seats != 50 || p.ShareLo != 0.4 || !p.DataTime.Equal(bkk(18, 5)) || p.SharesState != "estimate" ||
		p.SeatsState != "estimate" || p.TotalSeats != 51 || p.ConstituencySeats != 1 || p.TotalLo95 != 49 || p.TotalHi90 != 52 || p.LargestProbability != 0.9 ||
		p.StationsReported != 2 || p.StationsTotal != 7 || p.EligibleReported != 1220 || p.EligibleTotal != 3600 || p.SeatDraws != 2000 {
		t.Errorf("party row 0: %+v", p)
	}
	if p := parties[2]; p.PartyNo != 7 || p.NameTH != "ภูมิใจไทย" || p.Seats != 10 || p.TotalSeats != 0 || p.SeatsState != "estimate" {
		t.Errorf("party row 2: %+v", p)
	}
	consts, err := pq.ReadFile[EstimateConstituencyRow](filepath.Join(out, FileEstimateConstituencies))
	if err != nil {
		t.Fatal(err)
	}
	if len(consts) != 1 {
		t.Fatalf("%d constituency rows, want 1", len(consts))
	}
	if k := consts[0]; k.EstimateID != "e-1805" || k.ConstituencyID != "BKK_1" || k.ProvinceID != "BKK" || k.LeaderNo != 1 || k.Call != "leading" ||
		k.EligibleTotal != 1500 || len(k.Candidates) != 2 || k.SharesState != "estimate" || k.SeatsState != "estimate" ||
		k.Candidates[0] != (CandidateVotes{1, 200, 600, 0.8, k.Candidates[0].Swing}) || k.Candidates[0].Swing == nil || *k.Candidates[0].Swing != swing ||
		k.Candidates[1] != (CandidateVotes{2, 150, 450, 0.2, nil}) {
		t.Errorf("constituency row: %+v", k)
	}

	calls, err := pq.ReadFile[CallRow](filepath.Join(out, FileCalls))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].CallID != "c-1" || calls[0].Action != "approve" || calls[0].By != "desk-1" || calls[0].Reason != "ช่วงห่างพอ" ||
		calls[0].WinProbability == nil || *calls[0].WinProbability != 0.99 || !calls[0].At.Equal(bkk(18, 10)) ||
		calls[1].Action != "retract" || calls[1].WinProbability != nil {
		t.Errorf("call rows: %+v", calls)
	}

	// The zone and data time travel with each file.
	f, err := os.Open(filepath.Join(out, FileStationResults))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := pq.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if tz, _ := pf.Lookup("votestream.time_zone"); tz != "Asia/Bangkok" {
		t.Errorf("time_zone metadata %q", tz)
	}
	// The newest current result is BKK_1_001 party-list v3 at 18:20 local, 11:20 UTC; the
	// stale, aborted and deleted results were later but are not current.
	if dt, _ := pf.Lookup("votestream.data_time"); dt != "2023-05-14T11:20:00Z" {
		t.Errorf("data_time metadata %q", dt)
	}

	checkArrow(t, filepath.Join(out, FileStationResultsArrow), wantStations)
	checkHistory(t, out)

	// The manifest, and the summary it repeats.
	raw, err := os.ReadFile(filepath.Join(out, FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	var m Summary
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]int{FileStationResults: 4, FileAnomalies: 2, FileEstimateParties: 3, FileEstimateConstituencies: 1, FileStationResultsArrow: 4, FileCalls: 2,
		FileHistoryParties: 9, FileHistoryConstituencies: 3, FileHistoryPartiesArrow: 9, FileHistoryConstituenciesArrow: 3}
	for name, n := range wantRows {
		if m.Rows[name] != n || sum.Rows[name] != n {
			t.Errorf("rows of %s: manifest %d, summary %d, want %d", name, m.Rows[name], sum.Rows[name], n)
		}
	}
	if m.EstimateID != "e-1805" || m.Estimates != 3 || !m.DataTime.Equal(bkk(18, 20)) || m.TimeZone != "Asia/Bangkok" || m.TopicPrefix != env.Prefix {
		t.Errorf("manifest: %+v", m)
	}
	if c := m.LogCheckpoint; c == nil || c.Size != 20 || len(c.Cosigners) != 1 || c.RootHash != "root20" {
		t.Errorf("manifest's log checkpoint %+v, want size 20 with its cosignature", c)
	}
	// Read: 8 results (3 + 1 + 1 + a result and its tombstone + 1; the aborted one is never
	// delivered), 4 anomaly records, 4 estimates, 4 checkpoints, 3 calls; skipped: the record
	// that is not JSON.
	if m.RecordsRead != 23 || m.RecordsSkipped != 1 {
		t.Errorf("manifest read %d skipped %d, want 23 and 1", m.RecordsRead, m.RecordsSkipped)
	}
	// End offsets of the cut: 8 results + the aborted one + its abort marker; 4 anomalies;
	// 3 estimates; every partition read from 0.
	ends := map[string]int64{}
	for _, c := range m.Cut {
		ends[c.Topic] += c.End
		if c.Start != 0 {
			t.Errorf("cut %s[%d] starts at %d", c.Topic, c.Partition, c.Start)
		}
	}
	if ends[resultsTopic] != 10 || ends[anomaliesTopic] != 4 || ends[estimatesTopic] != 4 || ends[cpTopic] != 4 || ends[callsTopic] != 3 || len(ends) != 5 {
		t.Errorf("cut end offsets by topic %v, want results 10, anomalies 4, estimates 4, checkpoints 4, calls 3", ends)
	}

	// A second export into the same folder takes a new cut, with what afterCut wrote, and
	// replaces every file and the manifest; without Arrow, the old Arrow file goes.
	cfg.afterCut, cfg.Arrow = nil, false
	if _, err := Export(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	stations, err = pq.ReadFile[StationRow](filepath.Join(out, FileStationResults))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range stations {
		keys = append(keys, fmt.Sprintf("%s/%s v%d", s.StationID, s.Ballot, s.Version))
	}
	wantKeys := []string{"BKK_1_001/constituency v1", "BKK_1_001/partylist v9", "BKK_2_001/partylist v1", "CMI_1_001/partylist v1", "ZZZ_9_001/partylist v1"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("second export: station rows %q, want %q", keys, wantKeys)
	}
	for _, name := range []string{FileStationResultsArrow, FileHistoryPartiesArrow, FileHistoryConstituenciesArrow} {
		if _, err := os.Stat(filepath.Join(out, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the first export's %s outlived a second export without Arrow: %v", name, err)
		}
	}
	raw, err = os.ReadFile(filepath.Join(out, FileManifest))
	if err != nil {
		t.Fatal(err)
	}
	m = Summary{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.EstimateID != "e-1900" || m.Estimates != 4 || m.Rows[FileHistoryParties] != 12 || m.Rows[FileAnomalies] != 3 || m.Rows[FileStationResults] != 5 || !m.DataTime.Equal(bkk(19, 0)) {
		t.Errorf("second manifest: %+v", m)
	}

	// A wrong prefix fails at once, naming the topic, and writes nothing.
	cfg.TopicPrefix, cfg.OutDir, cfg.afterCut = "absent."+env.Prefix, filepath.Join(t.TempDir(), "absent"), nil
	if _, err := Export(ctx, cfg); !errors.Is(err, ErrTopicMissing) {
		t.Errorf("export under a missing prefix: %v, want ErrTopicMissing", err)
	}
	if entries, _ := os.ReadDir(cfg.OutDir); len(entries) != 0 {
		t.Errorf("export under a missing prefix left %d files", len(entries))
	}
}

func checkStation(t *testing.T, i int, g, w StationRow) {
	t.Helper()
	same := g.StationID == w.StationID && g.ConstituencyID == w.ConstituencyID && g.ProvinceID == w.ProvinceID &&
		g.Subdistrict == w.Subdistrict && g.Ballot == w.Ballot && g.Status == w.Status && g.Stage == w.Stage &&
		g.Version == w.Version && g.BallotsCast == w.BallotsCast && g.Invalid == w.Invalid && g.NoVote == w.NoVote &&
		(g.EligibleVoters == nil) == (w.EligibleVoters == nil) && (g.EligibleVoters == nil || *g.EligibleVoters == *w.EligibleVoters) &&
		slices.Equal(g.Votes, w.Votes) && slices.Equal(g.Anomalies, w.Anomalies) && g.Sources == w.Sources &&
		g.CountedAt.Equal(w.CountedAt) && g.UpdatedAt.Equal(w.UpdatedAt)
	if !same {
		t.Errorf("station row %d:\n got %+v\nwant %+v", i, g, w)
	}
}

// checkArrow reads the Arrow stream with arrow-go's IPC reader and compares the columns an
// analyst reaches for first.
func checkArrow(t *testing.T, path string, want []StationRow) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	ts, ok := r.Schema().Field(16).Type.(*arrow.TimestampType)
	if !ok || ts.TimeZone != "Asia/Bangkok" || r.Schema().Field(16).Name != "updated_at" {
		t.Errorf("updated_at field %v", r.Schema().Field(16))
	}
	var rows int
	for r.Next() {
		rec := r.RecordBatch()
		ids := rec.Column(0).(*array.String)
		subdistricts := rec.Column(3).(*array.String)
		versions := rec.Column(7).(*array.Int64)
		eligible := rec.Column(11).(*array.Int64)
		votes := rec.Column(12).(*array.List)
		voteStruct := votes.ListValues().(*array.Struct)
		voteNo := voteStruct.Field(0).(*array.Int32)
		voteN := voteStruct.Field(1).(*array.Int64)
		updated := rec.Column(16).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			w := want[rows]
			if ids.Value(i) != w.StationID || subdistricts.Value(i) != w.Subdistrict || versions.Value(i) != w.Version {
				t.Errorf("arrow row %d: %s %s v%d, want %s %s v%d", rows, ids.Value(i), subdistricts.Value(i), versions.Value(i), w.StationID, w.Subdistrict, w.Version)
			}
			if (w.EligibleVoters == nil) != eligible.IsNull(i) || (w.EligibleVoters != nil && eligible.Value(i) != *w.EligibleVoters) {
				t.Errorf("arrow row %d: eligible voters null=%v", rows, eligible.IsNull(i))
			}
			start, end := votes.ValueOffsets(i)
			var got []Vote
			for j := start; j < end; j++ {
				got = append(got, Vote{voteNo.Value(int(j)), voteN.Value(int(j))})
			}
			if !slices.Equal(got, w.Votes) {
				t.Errorf("arrow row %d: votes %v, want %v", rows, got, w.Votes)
			}
			if ms := int64(updated.Value(i)); ms != w.UpdatedAt.UnixMilli() {
				t.Errorf("arrow row %d: updated_at %d ms, want %d", rows, ms, w.UpdatedAt.UnixMilli())
			}
			rows++
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != len(want) {
		t.Errorf("arrow rows %d, want %d", rows, len(want))
	}
}

func TestConfigValidate(t *testing.T) {
	country := smallCountry(t)
	good := func() ExportConfig {
		c := DefaultConfig()
		c.Seeds, c.Country, c.OutDir = []string{"127.0.0.1:9092"}, country, "out"
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*ExportConfig)
		ok     bool
	}{
		{"defaults plus the required fields", func(*ExportConfig) {}, true},
		{"no seeds", func(c *ExportConfig) { c.Seeds = nil }, false},
		{"no country", func(c *ExportConfig) { c.Country = nil }, false},
		{"unindexed country", func(c *ExportConfig) { c.Country = &election.Country{} }, false},
		{"no folder", func(c *ExportConfig) { c.OutDir = "" }, false},
		{"no estimate backlog", func(c *ExportConfig) { c.EstimateBacklog = 0 }, false},
		{"no idle timeout", func(c *ExportConfig) { c.IdleTimeout = 0 }, false},
		{"no start timeout", func(c *ExportConfig) { c.StartTimeout = 0 }, false},
		{"no progress interval", func(c *ExportConfig) { c.ProgressEvery = 0 }, false},
	} {
		c := good()
		tc.change(&c)
		err := c.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
