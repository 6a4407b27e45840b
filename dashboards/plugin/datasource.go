package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	lv "github.com/grafana/grafana-plugin-sdk-go/live"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/dashboards/live"
)

// Datasource is one configured votestream data source in Grafana: its settings, and the
// Source reading Kafka for it. Grafana's instance manager makes one per data source and
// disposes of it when the settings change.
type Datasource struct {
	cfg         Settings
	settingsErr error // settings that cannot work: every request answers with it
	src         *Source
	log         log.Logger

	now       func() time.Time // the clock anomaly ages are measured with
	minPeriod time.Duration    // least time between two messages of one stream
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory Grafana's SDK calls per data source. Bad settings
// do not fail it: the data source then answers every query and health check with what is
// wrong, where a failed factory would only show a generic error.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	d := &Datasource{log: log.DefaultLogger, now: time.Now, minPeriod: time.Second}
	d.cfg, d.settingsErr = LoadSettings(s)
	if d.settingsErr == nil {
		d.src, d.settingsErr = NewSource(d.cfg, d.log)
	}
	return d, nil
}

// Dispose stops reading Kafka; Grafana calls it when the settings change.
func (d *Datasource) Dispose() {
	if d.src != nil {
		d.src.Close()
	}
}

// QueryData answers each query from the night read so far.
func (d *Datasource) QueryData(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	uid := ""
	if ds := req.PluginContext.DataSourceInstanceSettings; ds != nil {
		uid = ds.UID
	}
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(uid, q)
	}
	return resp, nil
}

func (d *Datasource) query(uid string, dq backend.DataQuery) backend.DataResponse {
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, d.settingsErr.Error())
	}
	q, err := parseQuery(dq)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	var f *data.Frame
	d.src.View(func(n *Night) {
		f, err = n.Frame(q, window{from: dq.TimeRange.From, to: dq.TimeRange.To}, d.now())
	})
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	f.RefID = dq.RefID
	channel := lv.Channel{Scope: lv.ScopeDatasource, Namespace: uid, Path: StreamPath(q)}
	if uid != "" && len(channel.String()) <= maxChannel {
		f.Meta.Channel = channel.String()
	} else {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "not live: the query's channel name is too long; the panel refreshes on the dashboard's interval"})
	}
	d.notePartial(f)
	return backend.DataResponse{Frames: data.Frames{f}}
}

// parseQuery reads a panel query: the plugin's JSON model, with Grafana's own queryType
// when the JSON has none.
func parseQuery(dq backend.DataQuery) (live.Query, error) {
	var q live.Query
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &q); err != nil {
			return live.Query{}, fmt.Errorf("%w: %v", live.ErrQuery, err)
		}
	}
	if q.QueryType == "" {
		q.QueryType = live.QueryType(dq.QueryType)
	}
	return q, q.Check()
}

// notePartial warns on a frame built before the reader caught up, or while it cannot read.
func (d *Datasource) notePartial(f *data.Frame) {
	p := d.src.Progress()
	if p.Err != nil {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "Kafka: " + p.Err.Error() + "; showing what was read before"})
	}
	if !p.CaughtUp {
		togo := ""
		if p.Behind > 0 {
			togo = fmt.Sprintf(" (%d records to go)", p.Behind)
		}
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: "still reading the night from Kafka" + togo + ": figures are partial"})
	}
}

// CheckHealth answers Grafana's "Save & test": the settings, the brokers, the three
// topics, and how far the reading is.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsErr.Error()}, nil
	}
	cl, err := kgo.NewClient(append(kafkaOpts(d.cfg), kgo.SeedBrokers(d.cfg.Brokers...))...)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: "Kafka client: " + err.Error()}, nil
	}
	defer cl.Close()
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = d.cfg.TopicPrefix + t
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := stableOffsets(ctx, kadm.NewClient(cl), names); err != nil {
		msg := fmt.Sprintf("Kafka %s: %v", strings.Join(d.cfg.Brokers, ","), err)
		if errors.Is(err, errTopicMissing) {
			msg += fmt.Sprintf(" (topic prefix %q; `votestream migrate` creates the topics)", d.cfg.TopicPrefix)
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	p := d.src.Progress()
	state := "caught up"
	if !p.CaughtUp {
		state = fmt.Sprintf("still reading, %d records to go", p.Behind)
	}
	msg := fmt.Sprintf("Kafka %s answers; topics %s found. Held: %d estimates, %d station results, %d anomalies (%s).",
		strings.Join(d.cfg.Brokers, ","), strings.Join(names, ", "), p.Estimates, p.Results, p.Anomalies, state)
	if n := sumValues(p.Rejected); n > 0 {
		msg += fmt.Sprintf(" %d records could not be read (see the Grafana server log).", n)
	}
	details, _ := json.Marshal(map[string]any{
		"caughtUp": p.CaughtUp, "behind": p.Behind, "records": p.Records, "rejected": p.Rejected,
		"latestEstimate": p.LatestEstimate,
	})
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg, JSONDetails: details}, nil
}

func sumValues(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// SubscribeStream admits a subscription to any channel whose path is a valid query: what
// a viewer may see is Grafana's decision (data source permissions), made before this call.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if d.settingsErr != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	if _, err := ParseStreamPath(req.Path); err != nil {
		d.log.Debug("votestream: subscription refused", "path", req.Path, "err", err)
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses every message: the election's figures enter through ingest,
// never through a browser's channel.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream sends the channel's query again whenever the part of the night it shows
// changes, at most once per minPeriod: a table whole (the front end replaces it), a time
// series by its new rows (the front end appends them). Streams of open anomalies are also
// sent every AnomalyRefresh, so ages move on. It returns when Grafana ends the stream
// (no subscriber left) or the data source is disposed of.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	if d.settingsErr != nil {
		return d.settingsErr
	}
	q, err := ParseStreamPath(req.Path)
	if err != nil {
		return err
	}
	st := streamState{q: q}
	d.src.View(func(n *Night) { st.init(n) })
	var refresh <-chan time.Time
	if q.QueryType == live.Anomalies || q.QueryType == live.AnomalyCounts {
		t := time.NewTicker(d.cfg.AnomalyRefresh)
		defer t.Stop()
		refresh = t.C
	}
	last := time.Time{}
	for {
		changed := d.src.Changed()
		var f *data.Frame
		d.src.View(func(n *Night) { f, err = st.next(n, d.now()) })
		if err != nil {
			return err
		}
		if f != nil {
			if wait := d.minPeriod - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
				continue // build again: more may have changed while waiting
			}
			if err := sender.SendFrame(f, data.IncludeAll); err != nil {
				return fmt.Errorf("votestream: send on %s: %w", req.Path, err)
			}
			st.sent()
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.src.done:
			return nil
		case <-changed:
		case <-refresh:
			st.due = true
		}
	}
}

// streamState is what one stream remembers between messages.
type streamState struct {
	q    live.Query
	seq  uint64 // the night's sequence numbers the last message reflected
	due  bool   // send even without a change (the anomaly refresh)
	last time.Time
	// Append streams: the data time of the last row the panel has, and for shares the
	// parties its columns are.
	parties []int
	pending struct {
		seq     uint64
		last    time.Time
		parties []int
	}
}

// seqOf is the part of the night a query type shows.
func seqOf(t live.QueryType, n *Night) uint64 {
	switch t {
	case live.Statuses:
		return n.ResultSeq
	case live.Anomalies, live.AnomalyCounts:
		return n.ResultSeq + n.AnomalySeq // an anomaly closes when its result moves on
	}
	return n.EstimateSeq
}

// init takes the night as the panel's QueryData showed it: nothing to send yet.
func (s *streamState) init(n *Night) {
	s.seq = seqOf(s.q.QueryType, n)
	if len(n.history) > 0 {
		s.last = n.history[len(n.history)-1].dataTime
	}
	if s.q.QueryType == live.Shares {
		s.parties = n.shareParties(s.q.Top)
	}
}

// next builds the message to send now, or nil when the panel is current. sent must
// follow a successful send.
func (s *streamState) next(n *Night, now time.Time) (*data.Frame, error) {
	seq := seqOf(s.q.QueryType, n)
	if seq == s.seq && !s.due {
		return nil, nil
	}
	s.pending.seq, s.pending.last, s.pending.parties = seq, s.last, s.parties
	if len(n.history) > 0 {
		s.pending.last = n.history[len(n.history)-1].dataTime
	}
	switch liveMode(s.q.QueryType) {
	case LiveReplace:
		return n.Frame(s.q, window{}, now)
	}
	w := window{after: s.last}
	if s.q.QueryType == live.Shares {
		s.pending.parties = n.shareParties(s.q.Top)
		if !slices.Equal(s.pending.parties, s.parties) {
			w = window{} // new columns: the whole history, which the front end takes as a reset
		}
	}
	f, err := n.Frame(s.q, w, now)
	if err != nil || f.Rows() == 0 {
		s.seq = seq // nothing new to show (a re-published or out-of-order estimate)
		return nil, err
	}
	return f, nil
}

// sent records that the message built by next reached Grafana.
func (s *streamState) sent() {
	s.seq, s.last, s.parties, s.due = s.pending.seq, s.pending.last, s.pending.parties, false
}
