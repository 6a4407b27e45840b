package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"votestream/dashboards/live"
	"votestream/internal/testenv"
)

// TestLivePanelsOnALiveNight (`make dashboards-check`, VOTESTREAM_DASHBOARDS_CHECK=1): the
// data source, with the reference data folder set, reads a night that `votestream up`
// replays through the real pipeline on the real broker (records as the roles write them,
// not made by hand); a stream sends the night's next estimate; then every live panel of the
// generated dashboards answers with rows, names come from the reference data and
// constituency seats are counted per party.
func TestLivePanelsOnALiveNight(t *testing.T) {
	if os.Getenv("VOTESTREAM_DASHBOARDS_CHECK") != "1" {
		t.Skip("set VOTESTREAM_DASHBOARDS_CHECK=1 (make dashboards-check): a minute of a simulated night")
	}
	env := testenv.Kafka(t)
	dir := t.TempDir()
	bin := testenv.VotestreamBinary(t)
	// A synthetic country: up's reference data and the data source's reference data folder.
	ref := filepath.Join(dir, "ref")
	if out, err := exec.Command(bin, "simulate", "country", "--seed", "1", "--scale", "0.02", "--out", ref).CombinedOutput(); err != nil {
		t.Fatalf("simulate country: %v\n%s", err, out)
	}
	upLog := &testenv.LogBuffer{}
	up := exec.Command(bin, "up", "--kafka", strings.Join(env.Seeds, ","), "--topic-prefix", env.Prefix,
		"--data", filepath.Join(dir, "up"), "--ref", ref, "--simulate", "--sim-scale", "0.02", "--sim-speed", "300",
		"--listen", testenv.FreeAddr(t), "--feed-listen", testenv.FreeAddr(t), "--console-listen", testenv.FreeAddr(t),
		"--log-listen", testenv.FreeAddr(t), "--metrics", "", "--memory-limit", "1GiB")
	testenv.StartCommand(t, up, "votestream up", upLog)
	d := newDatasource(t, fmt.Sprintf(`{"brokers":%q,"topicPrefix":%q,"referenceDir":%q}`,
		strings.Join(env.Seeds, ","), env.Prefix, ref), nil)
	waitFor(t, d.src, "a first estimate", func(p Progress) bool { return !p.LatestEstimate.IsZero() })

	// The night goes on: the reporting stream sends the next estimate's row.
	p := make(packets, 16)
	ctx, cancel := context.WithCancel(context.Background())
	streamDone := make(chan error, 1)
	go func() {
		streamDone <- d.RunStream(ctx, &backend.RunStreamRequest{Path: "reporting"}, backend.NewStreamSender(p))
	}()
	f := nextFrame(t, p)
	cancel()
	if err := <-streamDone; err != nil {
		t.Errorf("RunStream: %v", err)
	}
	if f.Rows() == 0 {
		t.Errorf("reporting stream message without rows")
	}

	// Panels once the replay has been read and some stations are in an estimate.
	waitFor(t, d.src, "the night read, anomalies and an estimate with stations", func(p Progress) bool {
		if !p.CaughtUp || p.Anomalies == 0 {
			return false
		}
		reported := 0
		d.src.View(func(n *Night) {
			if e := n.Latest(); e != nil {
				reported = e.StationsReported
			}
		})
		return reported > 0
	})
	q := func(qq live.Query) map[string][]any {
		t.Helper()
		f := query(t, d, qq, time.Time{}, time.Time{})
		cols := map[string][]any{}
		for _, fl := range f.Fields {
			cols[fl.Name] = column(t, f, fl.Name)
		}
		return cols
	}
	// The constituency with the most open anomalies: every constituency panel has rows.
	byConstituency := q(live.Query{QueryType: live.AnomalyCounts, GroupBy: live.ByConstituency})
	if len(byConstituency["constituency_id"]) == 0 {
		t.Fatal("no open anomaly on a simulated night with faults")
	}
	constituency := byConstituency["constituency_id"][0].(string)

	for _, pnl := range dashboardLivePanels(t) {
		tg := json.RawMessage(strings.ReplaceAll(string(pnl.target), `"$constituency"`, fmt.Sprintf("%q", constituency)))
		resp, _ := d.QueryData(context.Background(), &backend.QueryDataRequest{
			PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: pnl.uid}},
			Queries:       []backend.DataQuery{{RefID: "A", JSON: tg, TimeRange: backend.TimeRange{From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(48 * time.Hour)}}},
		})
		r := resp.Responses["A"]
		if r.Error != nil || len(r.Frames) != 1 || r.Frames[0].Rows() == 0 {
			t.Errorf("%s panel %q: error %v, frames %v: want one frame with rows", pnl.file, pnl.title, r.Error, r.Frames)
			continue
		}
		t.Logf("%s panel %q: %d rows", pnl.file, pnl.title, r.Frames[0].Rows())
	}

	// With the reference data: Thai party names, candidate names, leaders counted as seats.
	for _, name := range q(live.Query{QueryType: live.Parties})["party"] {
		if strings.HasPrefix(name.(string), "party ") {
			t.Errorf("party %v has no name from the reference data", name)
		}
	}
	cands := q(live.Query{QueryType: live.Candidates, Constituency: constituency})
	for i, name := range cands["name"] {
		if name == "" || cands["party"][i] == "" {
			t.Errorf("candidate %v: name %q party %q, want both from the reference data", cands["candidate_no"][i], name, cands["party"][i])
		}
	}
	var led int64
	for _, n := range q(live.Query{QueryType: live.Seats})["constituency_seats"] {
		led += n.(int64)
	}
	if led == 0 {
		t.Error("no constituency seat counted per party with the reference data")
	}
}
