package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/dashboards/live"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// The test binary doubles as the plugin: started with this variable set, it runs main, as
// Grafana starts gpx_votestream.
const runAsPlugin = "VOTESTREAM_TEST_RUN_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsPlugin) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestOverGRPC starts the plugin the way Grafana does (hashicorp/go-plugin, the SDK's
// handshake, gRPC) and talks to it as Grafana would: health check, a query, a subscription
// and a stream, with data source settings pointing at a fresh topic set on the real broker.
func TestOverGRPC(t *testing.T) {
	env := testenv.Kafka(t)
	cl := env.Client(t, kgo.UnknownTopicRetries(-1)) // fresh topics reach the metadata late on a busy broker; produce is bounded by its context
	produceEstimate := func(id string, minute int, share float64) {
		t.Helper()
		e := schemas.Estimate{
			EstimateID: id, DataTime: time.Date(2026, 3, 8, 11, minute, 0, 0, time.UTC), ComputedAt: time.Date(2026, 3, 8, 11, minute, 1, 0, time.UTC),
			StationsReported: 10 + minute, StationsTotal: 100, Constituencies: []schemas.ConstituencyEstimate{},
			Parties: []schemas.PartyEstimate{{PartyNo: 1, Share: share, ShareLo: share - 0.01, ShareHi: share + 0.01, Seats: 50}},
		}
		rec, err := kgorecord.New(env.Topic(schemas.TopicEstimates), e)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(pctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceEstimate("e1", 0, 0.4)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), runAsPlugin+"=1")
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion: grpcplugin.ProtocolVersion, MagicCookieKey: grpcplugin.MagicCookieKey, MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: {
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"data":        &grpcplugin.DataGRPCPlugin{},
			"stream":      &grpcplugin.StreamGRPCPlugin{},
		}},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		SyncStdout:       io.Discard,
		SyncStderr:       io.Discard,
		StartTimeout:     2 * time.Minute,
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("plugin handshake: %v", err)
	}
	dispense := func(name string) any {
		t.Helper()
		c, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("dispense %s: %v", name, err)
		}
		return c
	}
	diag := dispense("diagnostics").(pluginv2.DiagnosticsClient)
	dataClient := dispense("data").(pluginv2.DataClient)
	stream := dispense("stream").(pluginv2.StreamClient)

	pctx := &pluginv2.PluginContext{OrgId: 1, PluginId: live.PluginID, DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
		Id: 1, Uid: live.DatasourceUID, Name: "votestream-live", LastUpdatedMS: time.Now().UnixMilli(),
		JsonData: fmt.Appendf(nil, `{"brokers":%q,"topicPrefix":%q}`, strings.Join(env.Seeds, ","), env.Prefix),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Health: Kafka answers and the estimate is read. The reader may still be catching up
	// at the first call, so ask until it has read the estimate (each call waits on Kafka).
	var health *pluginv2.CheckHealthResponse
	for ctx.Err() == nil {
		health, err = diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: pctx})
		if err != nil {
			t.Fatalf("CheckHealth: %v", err)
		}
		if health.Status != pluginv2.CheckHealthResponse_OK || strings.Contains(health.Message, "Held: 1 estimates") {
			break
		}
	}
	if health.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(health.Message, "Held: 1 estimates") {
		t.Fatalf("CheckHealth = %v %q; want OK holding the estimate", health.Status, health.Message)
	}

	// A query as a panel sends it.
	resp, err := dataClient.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: pctx, Queries: []*pluginv2.DataQuery{{
		RefId: "A", Json: []byte(`{"refId":"A","queryType":"parties"}`),
		TimeRange: &pluginv2.TimeRange{FromEpochMS: 0, ToEpochMS: time.Now().UnixMilli()},
	}}})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	qdr, err := backend.FromProto().QueryDataResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	r := qdr.Responses["A"]
	if r.Error != nil || len(r.Frames) != 1 {
		t.Fatalf("parties: error %v, %d frames", r.Error, len(r.Frames))
	}
	f := r.Frames[0]
	share, _ := f.FieldByName("share")
	if f.Rows() != 1 || share.At(0) != 0.4 || f.Meta.Channel != "ds/"+live.DatasourceUID+"/parties" {
		t.Fatalf("parties frame: %d rows, share %v, channel %q", f.Rows(), share.At(0), f.Meta.Channel)
	}

	// Grafana asks before subscribing a browser; the browser may not publish.
	for path, want := range map[string]pluginv2.SubscribeStreamResponse_Status{
		"parties": pluginv2.SubscribeStreamResponse_OK, "parties/top=3": pluginv2.SubscribeStreamResponse_NOT_FOUND,
	} {
		sub, err := stream.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: pctx, Path: path})
		if err != nil || sub.Status != want {
			t.Errorf("SubscribeStream %s = %v, %v; want %v", path, sub.GetStatus(), err, want)
		}
	}
	pub, err := stream.PublishStream(ctx, &pluginv2.PublishStreamRequest{PluginContext: pctx, Path: "parties", Data: []byte(`{}`)})
	if err != nil || pub.Status != pluginv2.PublishStreamResponse_PERMISSION_DENIED {
		t.Errorf("PublishStream = %v, %v; want permission denied", pub.GetStatus(), err)
	}

	// The stream: a new estimate on Kafka reaches the channel as a replaced table.
	run, err := stream.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: pctx, Path: "parties"})
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	// The stream starts from the night as it stands when the plugin takes it up, which the
	// test cannot see: an estimate produced before then is no change. So produce newer ones
	// until the stream sends.
	type recv struct {
		pk  *pluginv2.StreamPacket
		err error
	}
	got1 := make(chan recv, 1)
	go func() {
		pk, err := run.Recv()
		got1 <- recv{pk, err}
	}()
	var pk *pluginv2.StreamPacket
	for minute := 5; pk == nil; minute++ {
		if minute == 60 {
			t.Fatal("stream: no packet after 55 new estimates")
		}
		produceEstimate(fmt.Sprintf("e%d", minute), minute, 0.45)
		select {
		case r := <-got1:
			if r.err != nil {
				t.Fatalf("stream: %v", r.err)
			}
			pk = r.pk
		case <-time.After(2 * time.Second):
		}
	}
	var got data.Frame
	if err := json.Unmarshal(pk.Data, &got); err != nil {
		t.Fatalf("stream packet %s: %v", pk.Data, err)
	}
	share, _ = got.FieldByName("share")
	if got.Rows() != 1 || share.At(0) != 0.45 {
		t.Fatalf("stream frame: %d rows, share %v; want the new estimate's 0.45", got.Rows(), share.At(0))
	}
	if c, _ := json.Marshal(got.Meta.Custom); string(c) != `{"live":"replace"}` {
		t.Errorf("stream meta.custom %s, want replace", c)
	}
}
