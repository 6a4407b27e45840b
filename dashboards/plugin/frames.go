package plugin

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"votestream/dashboards/live"
	"votestream/election"
	"votestream/schemas"
)

// LiveMode tells the front end how a stream's frames combine with what the panel holds:
// append rows to a time series, or replace a table. It rides in the frame's meta.custom.
type LiveMode string

const (
	LiveAppend  LiveMode = "append"
	LiveReplace LiveMode = "replace"
)

// FrameCustom is the frame's meta.custom.
type FrameCustom struct {
	Live LiveMode `json:"live"`
}

// liveMode is how each query type streams: time series grow, tables are replaced.
func liveMode(t live.QueryType) LiveMode {
	if t == live.Shares || t == live.Reporting {
		return LiveAppend
	}
	return LiveReplace
}

// window is the part of the estimate history a time-series frame covers.
type window struct {
	from, to time.Time // inclusive; zero = unbounded
	after    time.Time // only points strictly after it (a stream's next rows); zero = all
}

func (w window) keeps(t time.Time) bool {
	return (w.from.IsZero() || !t.Before(w.from)) && (w.to.IsZero() || !t.After(w.to)) &&
		(w.after.IsZero() || t.After(w.after))
}

// Frame answers q from the night: the one data frame a panel gets for it, built the same
// way for QueryData and for each message of a stream. now is the time anomaly ages are
// measured at.
func (n *Night) Frame(q live.Query, w window, now time.Time) (*data.Frame, error) {
	var f *data.Frame
	var err error
	switch q.QueryType {
	case live.Shares:
		f = n.sharesFrame(n.shareParties(q.Top), w)
	case live.Parties:
		f = n.partiesFrame()
	case live.Seats:
		f = n.seatsFrame()
	case live.Reporting:
		f = n.reportingFrame(w)
	case live.Statuses:
		f = n.statusesFrame()
	case live.Constituencies:
		f = n.constituenciesFrame(q)
	case live.Candidates:
		f = n.candidatesFrame(q)
	case live.Calls:
		f = n.callsFrame()
	case live.Anomalies:
		f = n.anomaliesFrame(q, now)
	case live.AnomalyCounts:
		f, err = n.anomalyCountsFrame(q, now)
	default:
		err = fmt.Errorf("%w: unknown queryType %q", live.ErrQuery, q.QueryType)
	}
	if err != nil {
		return nil, err
	}
	f.Name = string(q.QueryType)
	meta := f.Meta
	if meta == nil {
		meta = &data.FrameMeta{}
	}
	meta.Custom = FrameCustom{Live: liveMode(q.QueryType)}
	if liveMode(q.QueryType) == LiveAppend {
		meta.Type = data.FrameTypeTimeSeriesWide
	}
	f.SetMeta(meta)
	return f, nil
}

// partyName is how a party shows: its Thai name with its number, or "party N" without
// reference data.
func (n *Night) partyName(no int) string {
	if n.country != nil {
		if p, ok := n.country.Party(no); ok && p.NameTH != "" {
			return fmt.Sprintf("%s (%d)", p.NameTH, no)
		}
	}
	return "party " + strconv.Itoa(no)
}

// shareParties chooses the parties of a shares frame: those of the latest estimate, the
// first top of them by share when top > 0, in party-number order. Columns so depend only
// on the latest estimate, and a stream keeps its columns until the leading set changes.
func (n *Night) shareParties(top int) []int {
	if n.latest == nil {
		return nil
	}
	ps := slices.Clone(n.latest.Parties)
	slices.SortFunc(ps, func(a, b schemas.PartyEstimate) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		return a.PartyNo - b.PartyNo
	})
	if top > 0 && len(ps) > top {
		ps = ps[:top]
	}
	parties := make([]int, len(ps))
	for i, p := range ps {
		parties[i] = p.PartyNo
	}
	slices.Sort(parties)
	return parties
}

// palette gives each party of a shares frame one colour for its line and its band, so the
// band reads as the line's; Grafana's own palette would colour the three fields apart.
var palette = []string{"green", "yellow", "blue", "orange", "red", "purple", "dark-green", "dark-yellow",
	"dark-blue", "dark-orange", "dark-red", "dark-purple", "light-green", "light-blue", "light-orange", "light-purple"}

// sharesFrame is a wide time series: time, then per party its share and the low and high
// ends of its interval. The field config makes the high end fill down to the low end in
// the party's colour, out of the legend, so every party gets its band without a dashboard
// override per party.
func (n *Night) sharesFrame(parties []int, w window) *data.Frame {
	var times []time.Time
	cols := make([][3][]*float64, len(parties))
	for _, p := range n.history {
		if !w.keeps(p.dataTime) {
			continue
		}
		times = append(times, p.dataTime)
		for i, no := range parties {
			var v [3]*float64
			if b, ok := p.shares[no]; ok {
				v = [3]*float64{&b.share, &b.lo, &b.hi}
			}
			for k := range 3 {
				cols[i][k] = append(cols[i][k], v[k])
			}
		}
	}
	if times == nil {
		times = []time.Time{}
	}
	fields := data.Fields{data.NewField("time", nil, times)}
	hidden := map[string]any{"legend": true, "tooltip": false, "viz": false}
	for i, no := range parties {
		name := n.partyName(no)
		color := &data.FieldConfig{}
		color.Color = map[string]any{"mode": "fixed", "fixedColor": palette[i%len(palette)]}
		num := strconv.Itoa(no)
		for k, part := range []string{"share", "share_lo", "share_hi"} {
			vals := cols[i][k]
			if vals == nil {
				vals = []*float64{}
			}
			f := data.NewField(part+"_"+num, data.Labels{"party": num}, vals)
			cfg := *color
			cfg.Unit = "percentunit"
			switch part {
			case "share":
				cfg.DisplayNameFromDS = name
				cfg.Custom = map[string]any{"lineWidth": 2, "fillOpacity": 0}
			case "share_lo":
				cfg.DisplayNameFromDS = name + " low"
				cfg.Custom = map[string]any{"lineWidth": 0, "fillOpacity": 0, "hideFrom": hidden}
			case "share_hi":
				cfg.DisplayNameFromDS = name + " high"
				cfg.Custom = map[string]any{"lineWidth": 0, "fillOpacity": 20, "fillBelowTo": name + " low", "hideFrom": hidden}
			}
			f.Config = &cfg
			fields = append(fields, f)
		}
	}
	return data.NewFrame("", fields...)
}

// partiesFrame is the latest estimate, one row per party, largest share first.
func (n *Night) partiesFrame() *data.Frame {
	var parties []schemas.PartyEstimate
	if n.latest != nil {
		parties = slices.Clone(n.latest.Parties)
	}
	slices.SortFunc(parties, func(a, b schemas.PartyEstimate) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		return a.PartyNo - b.PartyNo
	})
	f := data.NewFrame("",
		data.NewField("party_no", nil, []int64{}),
		data.NewField("party", nil, []string{}),
		data.NewField("share", nil, []float64{}),
		data.NewField("share_lo", nil, []float64{}),
		data.NewField("share_hi", nil, []float64{}),
		data.NewField("counted_votes", nil, []int64{}),
		data.NewField("projected_votes", nil, []int64{}),
		data.NewField("seats", nil, []int64{}),
	)
	for _, p := range parties {
		f.AppendRow(int64(p.PartyNo), n.partyName(p.PartyNo), p.Share, p.ShareLo, p.ShareHi,
			p.CountedVotes, p.ProjectedVotes, int64(p.Seats))
	}
	for _, name := range []string{"share", "share_lo", "share_hi"} {
		f.Fields[slices.IndexFunc(f.Fields, func(fl *data.Field) bool { return fl.Name == name })].Config = &data.FieldConfig{Unit: "percentunit"}
	}
	n.noteEstimate(f)
	return f
}

// noteEstimate tells, on a frame built from the latest estimate, which one it is.
func (n *Night) noteEstimate(f *data.Frame) {
	if n.latest == nil {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "no estimate published yet"})
		return
	}
	e := n.latest
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf(
		"estimate %s: data time %s, %d of %d stations reported",
		e.EstimateID, e.DataTime.In(bangkok).Format("2006-01-02 15:04:05"), e.StationsReported, e.StationsTotal)})
}

// bangkok is the war room's clock (Asia/Bangkok has had no daylight saving since 1920).
var bangkok = time.FixedZone("ICT", 7*3600)

// seatsFrame: per party, party-list seats and constituencies where its candidate is the
// projected leader, most seats first; parties with none are left out. Leaders are
// candidate numbers, which are not party numbers: without reference data they cannot be
// counted per party, and the frame says so.
func (n *Night) seatsFrame() *data.Frame {
	list, led := map[int]int{}, map[int]int{}
	unmapped := 0
	if e := n.latest; e != nil {
		for _, p := range e.Parties {
			list[p.PartyNo] += p.Seats
		}
		for _, c := range e.Constituencies {
			if c.LeaderNo <= 0 {
				continue
			}
			cand, ok := election.Candidate{}, false
			if n.country != nil {
				cand, ok = n.country.Candidate(c.ConstituencyID, c.LeaderNo)
			}
			if !ok || cand.PartyNo <= 0 {
				unmapped++
				continue
			}
			led[cand.PartyNo]++
		}
	}
	var parties []int
	for no := range list {
		parties = append(parties, no)
	}
	for no := range led {
		if _, ok := list[no]; !ok {
			parties = append(parties, no)
		}
	}
	total := func(no int) int { return list[no] + led[no] }
	parties = slices.DeleteFunc(parties, func(no int) bool { return total(no) == 0 })
	slices.SortFunc(parties, func(a, b int) int {
		if total(a) != total(b) {
			return total(b) - total(a)
		}
		return a - b
	})
	f := data.NewFrame("",
		data.NewField("party_no", nil, []int64{}),
		data.NewField("party", nil, []string{}),
		data.NewField("list_seats", nil, []int64{}),
		data.NewField("constituency_seats", nil, []int64{}),
		data.NewField("seats", nil, []int64{}),
	)
	for _, no := range parties {
		f.AppendRow(int64(no), n.partyName(no), int64(list[no]), int64(led[no]), int64(total(no)))
	}
	if unmapped > 0 {
		why := "no reference data is set"
		if n.country != nil {
			why = "their candidates are not in the reference data or stand for no party"
		}
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf(
			"%d projected constituency leaders are not counted for a party: %s", unmapped, why)})
	}
	n.noteEstimate(f)
	return f
}

// reportingFrame is a time series of stations and eligible voters reported (party-list
// ballot, disputed stations not counted), one row per estimate.
func (n *Night) reportingFrame(w window) *data.Frame {
	f := data.NewFrame("",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("stations_reported", nil, []int64{}),
		data.NewField("stations_total", nil, []int64{}),
		data.NewField("eligible_reported", nil, []int64{}),
		data.NewField("eligible_total", nil, []int64{}),
	)
	for _, p := range n.history {
		if w.keeps(p.dataTime) {
			f.AppendRow(p.dataTime, int64(p.stationsReported), int64(p.stationsTotal), p.eligibleReported, p.eligibleTotal)
		}
	}
	return f
}

// statuses is the order of the status columns; reported counts what estimates count (every
// status but disputed).
var statuses = []schemas.Status{schemas.StatusProvisional, schemas.StatusCorroborated, schemas.StatusDisputed, schemas.StatusVerified}

// statusesFrame: per ballot, current station results by status, the stations reported
// (not disputed) and, with reference data, all stations.
func (n *Night) statusesFrame() *data.Frame {
	fields := data.Fields{data.NewField("ballot", nil, []string{})}
	for _, s := range statuses {
		fields = append(fields, data.NewField(string(s), nil, []int64{}))
	}
	fields = append(fields, data.NewField("reported", nil, []int64{}))
	if n.country != nil {
		fields = append(fields, data.NewField("stations", nil, []int64{}))
	}
	f := data.NewFrame("", fields...)
	for _, b := range []election.Ballot{election.BallotConstituency, election.BallotPartyList} {
		row := []any{string(b)}
		var reported int64
		for _, s := range statuses {
			c := int64(n.counts[string(b)][s])
			row = append(row, c)
			if s != schemas.StatusDisputed {
				reported += c
			}
		}
		row = append(row, reported)
		if n.country != nil {
			row = append(row, int64(len(n.country.Stations)))
		}
		f.AppendRow(row...)
	}
	return f
}

// constituenciesFrame: the latest estimate's projection per constituency, by id.
func (n *Night) constituenciesFrame(q live.Query) *data.Frame {
	fields := data.Fields{data.NewField("constituency_id", nil, []string{})}
	if n.country != nil {
		fields = append(fields, data.NewField("province", nil, []string{}))
	}
	fields = append(fields, data.NewField("leader_no", nil, []int64{}))
	if n.country != nil {
		fields = append(fields, data.NewField("leader", nil, []string{}), data.NewField("party", nil, []string{}))
	}
	fields = append(fields,
		data.NewField("win_probability", nil, []float64{}),
		data.NewField("call", nil, []string{}),
		data.NewField("stations_reported", nil, []int64{}),
		data.NewField("stations_total", nil, []int64{}),
	)
	fields[slices.IndexFunc(fields, func(fl *data.Field) bool { return fl.Name == "win_probability" })].Config = &data.FieldConfig{Unit: "percentunit"}
	f := data.NewFrame("", fields...)
	if n.latest == nil {
		n.noteEstimate(f)
		return f
	}
	cs := slices.Clone(n.latest.Constituencies)
	slices.SortFunc(cs, func(a, b schemas.ConstituencyEstimate) int {
		return strings.Compare(a.ConstituencyID, b.ConstituencyID)
	})
	for _, c := range cs {
		if (q.Constituency != "" && c.ConstituencyID != q.Constituency) || (q.Call != "" && string(c.Call) != q.Call) {
			continue
		}
		row := []any{c.ConstituencyID}
		if n.country != nil {
			row = append(row, n.provinceName(c.ConstituencyID))
		}
		row = append(row, int64(c.LeaderNo))
		if n.country != nil {
			leader, party := n.candidateName(c.ConstituencyID, c.LeaderNo)
			row = append(row, leader, party)
		}
		row = append(row, c.WinProbability, string(c.Call), int64(c.StationsReported), int64(c.StationsTotal))
		f.AppendRow(row...)
	}
	n.noteEstimate(f)
	return f
}

// candidatesFrame: the latest estimate's candidates, by constituency, most projected votes
// first: counted votes are those the estimate saw (non-disputed stations up to its data
// time), so the panel moves with each run.
func (n *Night) candidatesFrame(q live.Query) *data.Frame {
	fields := data.Fields{
		data.NewField("constituency_id", nil, []string{}),
		data.NewField("candidate_no", nil, []int64{}),
	}
	if n.country != nil {
		fields = append(fields, data.NewField("name", nil, []string{}), data.NewField("party", nil, []string{}))
	}
	fields = append(fields,
		data.NewField("counted_votes", nil, []int64{}),
		data.NewField("projected_votes", nil, []int64{}),
		data.NewField("win_probability", nil, []float64{}),
		data.NewField("leader", nil, []bool{}),
	)
	fields[len(fields)-2].Config = &data.FieldConfig{Unit: "percentunit"}
	f := data.NewFrame("", fields...)
	if n.latest == nil {
		n.noteEstimate(f)
		return f
	}
	cs := slices.Clone(n.latest.Constituencies)
	slices.SortFunc(cs, func(a, b schemas.ConstituencyEstimate) int {
		return strings.Compare(a.ConstituencyID, b.ConstituencyID)
	})
	for _, c := range cs {
		if q.Constituency != "" && c.ConstituencyID != q.Constituency {
			continue
		}
		cands := slices.Clone(c.Candidates)
		slices.SortFunc(cands, func(a, b schemas.CandidateEstimate) int {
			if a.ProjectedVotes != b.ProjectedVotes {
				if a.ProjectedVotes > b.ProjectedVotes {
					return -1
				}
				return 1
			}
			if a.CountedVotes != b.CountedVotes {
				if a.CountedVotes > b.CountedVotes {
					return -1
				}
				return 1
			}
			return a.CandidateNo - b.CandidateNo
		})
		for _, k := range cands {
			row := []any{c.ConstituencyID, int64(k.CandidateNo)}
			if n.country != nil {
				name, party := n.candidateName(c.ConstituencyID, k.CandidateNo)
				row = append(row, name, party)
			}
			row = append(row, k.CountedVotes, k.ProjectedVotes, k.WinProbability, c.LeaderNo == k.CandidateNo)
			f.AppendRow(row...)
		}
	}
	n.noteEstimate(f)
	return f
}

// candidateName is a candidate's name and party from the reference data, "" when unknown.
func (n *Night) candidateName(constituencyID string, no int) (name, party string) {
	cand, ok := n.country.Candidate(constituencyID, no)
	if !ok {
		return "", ""
	}
	if cand.PartyNo > 0 {
		party = n.partyName(cand.PartyNo)
	}
	return cand.Name, party
}

// provinceName is the Thai name of a constituency's province, "" when unknown.
func (n *Night) provinceName(constituencyID string) string {
	if p, ok := n.province(constituencyID); ok {
		return p.NameTH
	}
	return ""
}

func (n *Night) province(constituencyID string) (election.Province, bool) {
	if n.country == nil {
		return election.Province{}, false
	}
	c, ok := n.country.Constituency(constituencyID)
	if !ok {
		return election.Province{}, false
	}
	return n.country.Province(c.ProvinceID)
}

// callsFrame: constituencies of the latest estimate per call state, every state listed.
func (n *Night) callsFrame() *data.Frame {
	count := map[schemas.CallState]int64{}
	if n.latest != nil {
		for _, c := range n.latest.Constituencies {
			count[c.Call]++
		}
	}
	f := data.NewFrame("", data.NewField("call", nil, []string{}), data.NewField("constituencies", nil, []int64{}))
	for _, s := range schemas.CallStates {
		f.AppendRow(string(s), count[s])
	}
	n.noteEstimate(f)
	return f
}

// anomalyFilter keeps the anomalies a query's filters name.
func anomalyFilter(q live.Query) func(anomalyItem) bool {
	return func(a anomalyItem) bool {
		return (q.Code == "" || a.code == q.Code) && (q.Severity == "" || string(a.severity) == q.Severity) &&
			(q.Constituency == "" || a.constituencyID == q.Constituency)
	}
}

// anomaliesFrame: every open anomaly, oldest first, with its age at now. No limit: the
// table pages through them.
func (n *Night) anomaliesFrame(q live.Query, now time.Time) *data.Frame {
	fields := data.Fields{
		data.NewField("detected_at", nil, []time.Time{}),
		data.NewField("age", nil, []int64{}),
		data.NewField("code", nil, []string{}),
		data.NewField("severity", nil, []string{}),
		data.NewField("station_id", nil, []string{}),
		data.NewField("ballot", nil, []string{}),
		data.NewField("constituency_id", nil, []string{}),
	}
	if n.country != nil {
		fields = append(fields, data.NewField("province", nil, []string{}))
	}
	fields = append(fields,
		data.NewField("volunteer_id", nil, []string{}),
		data.NewField("message", nil, []string{}),
		data.NewField("anomaly_id", nil, []string{}),
	)
	fields[1].Config = &data.FieldConfig{Unit: "s"}
	f := data.NewFrame("", fields...)
	for _, a := range n.openAnomalies(anomalyFilter(q)) {
		row := []any{a.detectedAt, int64(max(0, now.Sub(a.detectedAt)/time.Second)), a.code, string(a.severity),
			a.stationID, a.ballot, a.constituencyID}
		if n.country != nil {
			row = append(row, n.provinceName(a.constituencyID))
		}
		row = append(row, a.volunteerID, a.message, a.id)
		f.AppendRow(row...)
	}
	return f
}

// ageBuckets are the AnomalyCounts groups by age, youngest first.
var ageBuckets = []struct {
	name  string
	under time.Duration // 0 = no upper bound
}{
	{"under 5 min", 5 * time.Minute},
	{"5-15 min", 15 * time.Minute},
	{"15-60 min", time.Hour},
	{"1-3 h", 3 * time.Hour},
	{"over 3 h", 0},
}

func ageBucket(age time.Duration) string {
	for _, b := range ageBuckets {
		if b.under == 0 || age < b.under {
			return b.name
		}
	}
	return ageBuckets[len(ageBuckets)-1].name
}

// ErrNoReference: a query needs the reference data setting, which is empty.
var ErrNoReference = fmt.Errorf("%w: this grouping needs the data source's reference data folder", live.ErrQuery)

// anomalyCountsFrame: open anomalies per group and severity. Codes and age buckets are
// listed in full, in their own order, so bars keep their place at zero; constituencies,
// provinces and regions with open anomalies come most first.
func (n *Night) anomalyCountsFrame(q live.Query, now time.Time) (*data.Frame, error) {
	if (q.GroupBy == live.ByProvince || q.GroupBy == live.ByRegion) && n.country == nil {
		return nil, ErrNoReference
	}
	key := func(a anomalyItem) string {
		switch q.GroupBy {
		case live.ByConstituency:
			return a.constituencyID
		case live.ByProvince:
			p, _ := n.province(a.constituencyID)
			return p.NameTH
		case live.ByRegion:
			p, _ := n.province(a.constituencyID)
			return p.Region
		case live.ByAge:
			return ageBucket(now.Sub(a.detectedAt))
		}
		return a.code
	}
	counts := map[string]map[schemas.Severity]int64{}
	var keys []string
	add := func(k string) {
		if counts[k] == nil {
			counts[k] = map[schemas.Severity]int64{}
			keys = append(keys, k)
		}
	}
	fixedOrder := q.GroupBy == live.ByCode || q.GroupBy == live.ByAge
	switch q.GroupBy {
	case live.ByCode:
		for _, c := range schemas.AnomalyCodes {
			if q.Code == "" || c == q.Code {
				add(c)
			}
		}
	case live.ByAge:
		for _, b := range ageBuckets {
			add(b.name)
		}
	}
	for _, a := range n.openAnomalies(anomalyFilter(q)) {
		k := key(a)
		add(k)
		counts[k][a.severity]++
	}
	total := func(k string) int64 {
		var t int64
		for _, c := range counts[k] {
			t += c
		}
		return t
	}
	if !fixedOrder {
		slices.SortFunc(keys, func(a, b string) int {
			if ta, tb := total(a), total(b); ta != tb {
				if ta > tb {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
	}
	name := map[live.GroupBy]string{live.ByConstituency: "constituency_id"}[q.GroupBy]
	if name == "" {
		name = string(q.GroupBy)
	}
	fields := data.Fields{data.NewField(name, nil, []string{})}
	for _, s := range live.Severities {
		fields = append(fields, data.NewField(string(s), nil, []int64{}))
	}
	fields = append(fields, data.NewField("total", nil, []int64{}))
	f := data.NewFrame("", fields...)
	for _, k := range keys {
		row := []any{k}
		for _, s := range live.Severities {
			row = append(row, counts[k][s])
		}
		f.AppendRow(append(row, total(k))...)
	}
	return f, nil
}
