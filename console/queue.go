package console

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Figures are one count of one ballot at one station.
type Figures struct {
	BallotsCast int            `json:"ballots_cast"`
	Invalid     int            `json:"invalid"`
	NoVote      int            `json:"no_vote"`
	Votes       map[string]int `json:"votes"`
}

// Outcome is who would lead a race (a constituency's seat, or the national party-list vote)
// if one set of figures were right, the station's other figures aside.
type Outcome struct {
	Leader     string `json:"leader"`                 // candidate_no or party_no
	LeaderName string `json:"leader_name"`            // the candidate's or the party's name
	RunnerUp   string `json:"runner_up,omitempty"`    // "" when only one number has votes
	Margin     int    `json:"margin"`                 // leader's votes minus the runner-up's
	Flips      bool   `json:"flips,omitempty"`        // another leader than the consolidated figures give
	Share      string `json:"leader_share,omitempty"` // the leader's share of the race, e.g. "41.2%"
}

// Source is one volunteer's newest report on the item's station and ballot.
type Source struct {
	SubmissionID string    `json:"submission_id"`
	VolunteerID  string    `json:"volunteer_id"`
	Org          string    `json:"org"`
	Stage        string    `json:"stage"`
	CountedAt    time.Time `json:"counted_at"`
	ReceivedAt   time.Time `json:"received_at"`
	Figures
	Evidence []string `json:"evidence"`
	// InResult: consolidate used this report for the current figures.
	InResult bool `json:"in_result"`
	// IfRight is what the race would look like if this report were the station's count.
	IfRight *Outcome `json:"if_right,omitempty"`
	// Track is the record of the volunteer and their organisation, when they have one.
	Track *Track `json:"track,omitempty"`
}

// Record counts final reports on settled stations (corroborated or verified) and how many
// of them had the consolidated figures exactly.
type Record struct {
	Agreed  int `json:"agreed"`
	Reports int `json:"reports"`
}

// minRecord is how many settled reports a record needs before it weighs on a priority.
const minRecord = 5

// Track is a source's record: the volunteer's own, and their organisation's.
type Track struct {
	Volunteer Record `json:"volunteer"`
	Org       Record `json:"org"`
}

// credibility is the agreement rate of the volunteer, or of the organisation while the
// volunteer has fewer than minRecord settled reports; 1 with no record to speak of, so
// nobody is doubted for being new.
func (t *Track) credibility() float64 {
	switch {
	case t == nil:
		return 1
	case t.Volunteer.Reports >= minRecord:
		return float64(t.Volunteer.Agreed) / float64(t.Volunteer.Reports)
	case t.Org.Reports >= minRecord:
		return float64(t.Org.Agreed) / float64(t.Org.Reports)
	}
	return 1
}

// Flag is one open anomaly on the item, with its one-line explanation.
type Flag struct {
	AnomalyID  string            `json:"anomaly_id"`
	Code       string            `json:"code"`
	Severity   string            `json:"severity"`
	Message    string            `json:"message"`
	Evidence   map[string]string `json:"evidence,omitempty"`
	DetectedAt time.Time         `json:"detected_at"`
}

// Item is one open piece of work: a station and ballot that is disputed or carries an
// unresolved anomaly.
type Item struct {
	Key              string    `json:"key"` // station_id/ballot
	StationID        string    `json:"station_id"`
	StationNumber    int       `json:"station_number"`
	Subdistrict      string    `json:"subdistrict"`
	Ballot           string    `json:"ballot"`
	ConstituencyID   string    `json:"constituency_id"`
	ConstituencyName string    `json:"constituency_name"`
	ProvinceID       string    `json:"province_id"`
	Status           string    `json:"status"`
	Version          int64     `json:"version"`
	Priority         int       `json:"priority"` // 0-499: 100 x evidence class + stake and doubt
	Severity         string    `json:"severity"` // the worst: hard, soft or info
	Why              []string  `json:"why"`      // the parts of the priority, for a person
	Codes            []string  `json:"codes"`
	Result           Figures   `json:"result"` // the consolidated figures now
	Current          *Outcome  `json:"current,omitempty"`
	Flags            []Flag    `json:"anomalies"`
	Sources          []Source  `json:"sources"`
	Evidence         []string  `json:"evidence"`
	UpdatedAt        time.Time `json:"updated_at"`
	// Escalated is the newest request for the war room to decide, if any.
	Escalated *Escalation `json:"escalated,omitempty"`
}

// Escalation is a lead's request that the war room decide an item.
type Escalation struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// race is the vote totals of one race without the item's station.
type race map[string]int

// leaderOf returns the outcome of a race's totals plus one station's figures.
func leaderOf(rest race, station map[string]int) Outcome {
	type nv struct {
		no string
		v  int
	}
	all := make([]nv, 0, len(rest)+len(station))
	seen := make(map[string]bool, len(rest)+len(station))
	total := 0
	for no := range rest {
		seen[no] = true
	}
	for no := range station {
		seen[no] = true
	}
	for no := range seen {
		v := rest[no] + station[no]
		total += v
		all = append(all, nv{no, v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return numLess(all[i].no, all[j].no)
	})
	var o Outcome
	if len(all) == 0 {
		return o
	}
	o.Leader, o.Margin = all[0].no, all[0].v
	if len(all) > 1 {
		o.RunnerUp, o.Margin = all[1].no, all[0].v-all[1].v
	}
	if total > 0 {
		o.Share = strconv.FormatFloat(100*float64(all[0].v)/float64(total), 'f', 1, 64) + "%"
	}
	return o
}

// numLess orders vote numbers numerically ("2" before "10").
func numLess(a, b string) bool {
	x, ex := strconv.Atoi(a)
	y, ey := strconv.Atoi(b)
	if ex == nil && ey == nil {
		return x < y
	}
	return a < b
}

// severityWeight orders severities (the item's Severity is its worst): a disputed station
// counts as unreported in every estimate; a soft flag leaves the count in; info only informs.
func severityWeight(s string) int {
	switch s {
	case string(schemas.SeverityHard):
		return 3
	case string(schemas.SeveritySoft):
		return 2
	}
	return 1
}

// prioritise fills Current, each source's IfRight, Severity, Priority and Why. rest is the
// race without this station (constituency totals for the constituency ballot, national
// party totals for the party-list). names names a vote number in this race. other is the
// station's other ballot when it is in the queue too (nil otherwise).
//
// Priority = 100 x class + 99 x (1 - (1 - stake) x (1 - doubt)), rounded: the class (0-4,
// see class) is how strongly the system's evidence says the item needs a person, and
// decides first; within a class, stake and doubt order the items. stake, in [0, 1], is what
// the station can change: when two of its sources (or a source and the consolidated
// figures) name different leaders, the track record of the more credible side that is not
// the most credible one (the challenger's agreement rate; 1 without a record), so a lone
// source with a poor record weighs little; otherwise the station's ballots over the race's
// margin, capped at 1. doubt is 1 less the poorest record among the sources the result
// stands on (0 without a record): figures resting on a source that often disagreed with
// settled results are likelier wrong. Without doubt the stake alone orders a class, so a
// lead sees close races first.
func (it *Item) prioritise(rest race, names func(no string) string, other *Item) {
	sev := string(schemas.SeverityInfo)
	if it.Status == string(schemas.StatusDisputed) {
		sev = string(schemas.SeverityHard)
	}
	for _, f := range it.Flags {
		if severityWeight(f.Severity) > severityWeight(sev) {
			sev = f.Severity
		}
	}
	it.Severity = sev
	cur := leaderOf(rest, it.Result.Votes)
	cur.LeaderName = names(cur.Leader)
	it.Current = &cur
	leaders := map[string]float64{} // leader -> the best credibility among those naming it
	name := func(leader string, cred float64) {
		if c, ok := leaders[leader]; !ok || cred > c {
			leaders[leader] = cred
		}
	}
	if it.Status != string(schemas.StatusDisputed) && cur.Leader != "" {
		name(cur.Leader, 1) // independent sources agreed on it
	}
	swing := it.Result.BallotsCast
	doubt := 0.0
	for i := range it.Sources {
		s := &it.Sources[i]
		o := leaderOf(rest, s.Votes)
		o.LeaderName = names(o.Leader)
		o.Flips = o.Leader != cur.Leader
		s.IfRight = &o
		cred := s.Track.credibility()
		if o.Leader != "" {
			name(o.Leader, cred)
		}
		if s.InResult {
			doubt = max(doubt, 1-cred)
		}
		swing = max(swing, s.BallotsCast)
	}
	var stake float64
	var why []string
	if len(leaders) > 1 {
		creds := slices.Sorted(maps.Values(leaders))
		stake = creds[len(creds)-2]
		why = append(why, "sources name different leaders")
		if stake < 1 {
			why = append(why, fmt.Sprintf("the challenger's record: %.0f%% of its settled reports agreed", 100*stake))
		}
	} else {
		margin := leaderOf(rest, nil).Margin
		stake = math.Min(1, float64(swing)/float64(max(margin, 1)))
		why = append(why, fmt.Sprintf("%d ballots here against a margin of %d", swing, margin))
	}
	if doubt > 0 {
		why = append(why, "the result rests on a source whose record is "+strconv.Itoa(int(math.Round(100*(1-doubt))))+"% agreed")
	}
	c, reason := it.classify(other)
	it.Priority = 100*int(c) + int(math.Round(99*(1-(1-stake)*(1-doubt))))
	it.Why = append([]string{sev + " (class " + strconv.Itoa(int(c)) + " of 4): " + reason}, why...)
}

// Queue is an ordered snapshot of the open items: priority first, then station and ballot.
// Immutable once built; safe for concurrent reads.
type Queue struct {
	Items []Item
	At    time.Time // when it was read from ClickHouse
	Seq   uint64    // grows with every rebuild that changed something

	encoded [][]byte // each item's JSON, when encode was called
}

func sortItems(items []Item) {
	slices.SortFunc(items, func(a, b Item) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// Filter selects items. Empty fields select everything.
type Filter struct {
	Constituency string
	Subdistrict  string // with Constituency only (names repeat across constituencies)
	Province     string
	Code         string
	Status       string // a result status, "flagged" for everything not disputed, or "escalated"
	Ballot       string
}

func (f Filter) match(it *Item) bool {
	switch {
	case f.Constituency != "" && it.ConstituencyID != f.Constituency,
		f.Subdistrict != "" && it.Subdistrict != f.Subdistrict,
		f.Province != "" && it.ProvinceID != f.Province,
		f.Ballot != "" && it.Ballot != f.Ballot,
		f.Code != "" && !slices.Contains(it.Codes, f.Code):
		return false
	case f.Status == "escalated":
		return it.Escalated != nil
	case f.Status == "flagged":
		return it.Status != string(schemas.StatusDisputed)
	case f.Status != "":
		return it.Status == f.Status
	}
	return true
}

// cursor is the position after the last item of a page.
type cursor struct {
	Priority int    `json:"p"`
	Key      string `json:"k"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Key == "" {
		return c, fmt.Errorf("cursor %q is not one this server gave", clip(s))
	}
	return c, nil
}

// after reports whether it sorts after the cursor's item.
func (c cursor) after(it *Item) bool {
	return it.Priority < c.Priority || it.Priority == c.Priority && it.Key > c.Key
}

// Page is one page of the queue.
type Page struct {
	Items      []Item    `json:"items"`
	Total      int       `json:"total"` // items matching the filter, on every page
	NextCursor string    `json:"next_cursor,omitempty"`
	AsOf       time.Time `json:"as_of"`
	Seq        uint64    `json:"seq"`
}

// Page returns up to limit items matching f after cur ("" for the first page). Items keep
// their order across rebuilds, so a cursor stays valid; an item that moved up past the
// cursor since is seen on the next pass.
func (q *Queue) Page(f Filter, cur string, limit int) (Page, error) {
	p := Page{Items: []Item{}, AsOf: q.At, Seq: q.Seq}
	idx, total, next, err := q.pageIndex(f, cur, limit)
	if err != nil {
		return p, err
	}
	for _, i := range idx {
		p.Items = append(p.Items, q.Items[i])
	}
	p.Total, p.NextCursor = total, next
	return p, nil
}

// PageJSON is Page's JSON, put together from each item's JSON encoded once per rebuild
// (encode), so that a request costs a scan and a copy instead of encoding 50 items.
func (q *Queue) PageJSON(f Filter, cur string, limit int) ([]byte, error) {
	idx, total, next, err := q.pageIndex(f, cur, limit)
	if err != nil {
		return nil, err
	}
	size := 128
	for _, i := range idx {
		size += len(q.item(i)) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"items":[`...)
	for k, i := range idx {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, q.item(i)...)
	}
	tail, _ := json.Marshal(struct {
		Total      int       `json:"total"`
		NextCursor string    `json:"next_cursor,omitempty"`
		AsOf       time.Time `json:"as_of"`
		Seq        uint64    `json:"seq"`
	}{total, next, q.At, q.Seq})
	b = append(b, "],"...)
	b = append(b, tail[1:]...) // the fields of tail's object, after its '{'
	return b, nil
}

// encode keeps every item's JSON; call it once the queue is built, before it is shared.
func (q *Queue) encode() {
	q.encoded = make([][]byte, len(q.Items))
	for i := range q.Items {
		q.encoded[i], _ = json.Marshal(&q.Items[i]) // our own types always encode
	}
}

func (q *Queue) item(i int) []byte {
	if q.encoded != nil {
		return q.encoded[i]
	}
	b, _ := json.Marshal(&q.Items[i])
	return b
}

// pageIndex finds a page: the indexes of its items in q.Items, how many items match f in
// all, and the cursor of the next page ("" on the last).
func (q *Queue) pageIndex(f Filter, cur string, limit int) (idx []int, total int, next string, err error) {
	var c *cursor
	if cur != "" {
		cc, err := decodeCursor(cur)
		if err != nil {
			return nil, 0, "", err
		}
		c = &cc
	}
	more := false
	for i := range q.Items {
		it := &q.Items[i]
		if !f.match(it) {
			continue
		}
		total++
		if c == nil || c.after(it) {
			if len(idx) < limit {
				idx = append(idx, i)
			} else {
				more = true // something matching is left after the page
			}
		}
	}
	if more {
		last := &q.Items[idx[len(idx)-1]]
		next = cursor{last.Priority, last.Key}.encode()
	}
	return idx, total, next, nil
}

// raceNames returns the namer of vote numbers in the race of a ballot.
func raceNames(c *election.Country, ballot, constituency string) func(string) string {
	return func(no string) string {
		n, err := strconv.Atoi(no)
		if err != nil {
			return ""
		}
		if ballot == string(election.BallotPartyList) {
			if p, ok := c.Party(n); ok {
				return p.NameTH
			}
			return ""
		}
		if cd, ok := c.Candidate(constituency, n); ok {
			if p, ok := c.Party(cd.PartyNo); ok {
				return cd.Name + " (" + p.NameTH + ")"
			}
			return cd.Name
		}
		return ""
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
