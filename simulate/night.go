package simulate

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"votestream/election"
	"votestream/schemas"
)

// Volunteer is one person on an organisation's roster, assigned one or more stations.
type Volunteer struct {
	ID       string   `json:"id"`
	Org      string   `json:"org"`
	Name     string   `json:"name"`
	Phone    string   `json:"phone"`
	Stations []string `json:"stations"` // the assignment: the token's scope
}

// Event is one submission sent by one volunteer at one moment of the night.
type Event struct {
	At         time.Time          `json:"at"` // when the volunteer sends it (Asia/Bangkok)
	Volunteer  Volunteer          `json:"volunteer"`
	Submission schemas.Submission `json:"submission"`
	// Faults labels what is wrong with this submission; empty for an honest one.
	Faults []Fault `json:"faults,omitempty"`
}

// kinds of planned submissions.
const (
	kindProgress uint8 = iota
	kindFinal
	kindCorrection
	kindSpread
)

// planned is one submission to send, compact enough to hold a national night (about a
// million of them) and everything needed to rebuild its body deterministically.
type planned struct {
	at       int64 // ms after close: when it is sent
	counted  int64 // ms after close: counted_at
	idSeed   uint64
	related  uint64 // correction: idSeed of the final it replaces
	station  int32
	vol      int32
	k        int32 // progress: ballots counted so far
	reuseSt  int32 // photo reuse: the station whose form photo is sent, else -1
	reuseVol int32
	ballot   uint8
	kind     uint8
	fault    uint8 // content fault (cf*)
	early    bool
	dup      bool // a resend of the same submission_id
	others   bool // falsification: other volunteers send this station's final too
	seq      uint8
}

// Night is a whole election night's submissions, planned compactly and built one by one as
// they are iterated. It is read-only once built: Events may be iterated concurrently.
type Night struct {
	cfg        NightConfig
	seed       uint64
	truth      *Truth
	country    *election.Country
	volunteers []Volunteer
	plan       []planned
}

// NewNight plans the night of truth's country: the roster, then per volunteer, station and
// ballot the tally-board updates, the final form and the faults of cfg. Planning a national
// night takes a second or two and about 60 bytes per submission.
func NewNight(seed uint64, t *Truth, cfg NightConfig) (*Night, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Night{cfg: cfg, seed: seed, truth: t, country: t.country}
	stationVols := n.buildRoster()
	n.planStations(stationVols)
	n.planSpread(stationVols)
	n.resolvePhotoReuse()
	n.planDuplicates()
	slices.SortFunc(n.plan, func(a, b planned) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.station, b.station), cmp.Compare(a.vol, b.vol),
			cmp.Compare(a.ballot, b.ballot), cmp.Compare(a.seq, b.seq), cmp.Compare(a.kind, b.kind), cmpBool(a.dup, b.dup))
	})
	return n, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// Volunteers is the roster, in volunteer id order.
func (n *Night) Volunteers() []Volunteer { return n.volunteers }

// Len is the number of events (submissions sent, resends included).
func (n *Night) Len() int { return len(n.plan) }

// Close is when polls close: event times count from it.
func (n *Night) Close() time.Time { return n.cfg.Close }

// orgNames makes the organisations: local government associations, party volunteer
// wings, civic groups and universities, with very different sizes.
func orgNames(count int) []string {
	kinds := []struct {
		prefix string
		share  float64
	}{{"localgov", 0.1}, {"party", 0.2}, {"civic", 0.4}, {"univ", 0.3}}
	shares := make([]float64, len(kinds))
	for i, k := range kinds {
		shares[i] = k.share
	}
	counts := apportion(count, shares)
	var out []string
	for i, k := range kinds {
		for j := 1; j <= counts[i]; j++ {
			out = append(out, fmt.Sprintf("%s-%02d", k.prefix, j))
		}
	}
	return out
}

// buildRoster draws which organisations cover each station and their volunteers; an
// organisation's volunteer sometimes also covers the next station of the same subdistrict.
// It returns each station's volunteers (indexes into n.volunteers), in slot order.
func (n *Night) buildRoster() [][]int32 {
	c := n.country
	orgs := orgNames(n.cfg.Orgs)
	r := newRand(n.seed, "roster")
	weights := make([]float64, len(orgs))
	for i, rank := range r.Perm(len(orgs)) {
		weights[i] = 1 / math.Pow(float64(rank+1), 0.7)
	}
	cum := make([]float64, len(weights))
	total := 0.0
	for i, w := range weights {
		total += w
		cum[i] = total
	}
	stationVols := make([][]int32, len(c.Stations))
	chosen := make([]int, 0, 3)
	orgOf := map[string]int{}
	for i, o := range orgs {
		orgOf[o] = i
	}
	for si, s := range c.Stations {
		k := 0
		u := r.Float64()
		for k < 3 && u >= n.cfg.VolunteersPerStation[k] {
			u -= n.cfg.VolunteersPerStation[k]
			k++
		}
		chosen = chosen[:0]
		// A volunteer of the previous station in the same subdistrict may carry on here.
		if si > 0 {
			prev := c.Stations[si-1]
			for _, v := range stationVols[si-1] {
				stay := r.Float64() < n.cfg.MultiStationRate
				if len(chosen) < k && stay && prev.ConstituencyID == s.ConstituencyID && prev.Subdistrict == s.Subdistrict &&
					len(n.volunteers[v].Stations) < 3 {
					n.volunteers[v].Stations = append(n.volunteers[v].Stations, s.ID)
					stationVols[si] = append(stationVols[si], v)
					chosen = append(chosen, orgOf[n.volunteers[v].Org])
				}
			}
		}
		for len(chosen) < k {
			o, _ := slices.BinarySearch(cum, r.Float64()*total)
			o = min(o, len(orgs)-1)
			if slices.Contains(chosen, o) {
				continue
			}
			chosen = append(chosen, o)
			v := int32(len(n.volunteers))
			n.volunteers = append(n.volunteers, Volunteer{
				ID:       fmt.Sprintf("V%06d", v+1),
				Org:      orgs[o],
				Name:     personName(r),
				Phone:    phone(int(v)),
				Stations: []string{s.ID},
			})
			stationVols[si] = append(stationVols[si], v)
		}
	}
	return stationVols
}

// phone gives volunteer i a Thai mobile number unique among volunteers (multiplication by
// an odd number not divisible by 5 permutes 0..10^8-1).
func phone(i int) string {
	prefixes := []string{"08", "09", "06"}
	return fmt.Sprintf("%s%08d", prefixes[i%3], (uint64(i)*2654435761+12345678)%100000000)
}

// sendDelay is how long a volunteer takes to send what they photographed, in minutes:
// usually under a minute or two, sometimes much longer on a poor connection.
func sendDelay(r *rand.Rand) float64 {
	return min(lognormal(r, math.Log(0.7), 0.9), 90)
}

func ms(minutes float64) int64 { return int64(math.Round(minutes * 60000)) }

// planStations plans, for every station, volunteer and ballot, the progress reports, the
// final form, its faults and a correction. Each draws from its own stream, so the plan of
// one station does not depend on any other.
func (n *Night) planStations(stationVols [][]int32) {
	f := n.cfg.Faults
	src := rand.NewPCG(0, 0)
	r := rand.New(src)
	for si := range n.country.Stations {
		tl := n.truth.times[si]
		cnt := n.truth.counts[si]
		for slot, v := range stationVols[si] {
			for b := 0; b < 2; b++ {
				reseed(src, n.seed, "plan", uint64(si), uint64(slot), uint64(b))
				start, end, final := tl.window(b)
				cast := int(cnt.cast[b])
				seq := uint8(0)
				idSeed := func() uint64 { return mix(n.seed, "submission", uint64(si), uint64(v), uint64(b), uint64(seq)) }

				times := make([]float64, min(poisson(r, n.cfg.ProgressUpdates), 6))
				for i := range times {
					times[i] = start + (end-start)*r.Float64()
				}
				slices.Sort(times)
				// A phone sends its queue in order: nothing overtakes an earlier report.
				lastAt := math.Inf(-1)
				inOrder := func(at float64) float64 {
					at = max(at, lastAt+1.0/60)
					lastAt = at
					return at
				}
				prevK := 0
				for _, t := range times {
					k := int(float64(cast) * (t - start) / max(end-start, 1e-9))
					if k < 1 || k >= cast || k <= prevK {
						continue
					}
					prevK = k
					n.plan = append(n.plan, planned{
						at: ms(inOrder(t + sendDelay(r))), counted: ms(t), idSeed: idSeed(), station: int32(si), vol: v,
						k: int32(k), reuseSt: -1, ballot: uint8(b), kind: kindProgress, seq: seq,
					})
					seq++
				}

				dropout := r.Float64() < n.cfg.DropoutRate
				counted := final + 0.5 + lognormal(r, math.Log(2), 0.6)
				at := inOrder(counted + sendDelay(r))
				u := r.Float64()
				early := r.Float64() < f.Early
				reuse := r.Float64() < f.PhotoReuse
				corrects := r.Float64() < f.Correction
				correctionAt := at + 10 + 80*r.Float64()
				if dropout {
					continue
				}
				fault := cfNone
				for i, rate := range []float64{f.Typo, f.SwappedDigits, f.NumberSwap, f.MissingParty, f.Falsification} {
					if u < rate {
						fault = uint8(i) + cfTypo
						break
					}
					u -= rate
				}
				if n.inBlock(v, si) {
					fault = cfBlock // the whole block, whatever the form's own draw
				}
				p := planned{
					at: ms(at), counted: ms(counted), idSeed: idSeed(), station: int32(si), vol: v,
					reuseSt: -1, ballot: uint8(b), kind: kindFinal, fault: fault, early: early, seq: seq,
					others: len(stationVols[si]) > 1,
				}
				if reuse {
					p.reuseSt = int32(si) // resolved by resolvePhotoReuse
				}
				n.plan = append(n.plan, p)
				seq++
				if corrects && fault != cfNone && fault != cfFalsify {
					n.plan = append(n.plan, planned{
						at: ms(correctionAt), counted: ms(counted), idSeed: idSeed(), related: p.idSeed,
						station: int32(si), vol: v, reuseSt: -1, ballot: uint8(b), kind: kindCorrection, seq: seq,
					})
				}
			}
		}
	}
}

// planSpread makes a few volunteers report stations outside their assignment: party-list
// finals copied from elsewhere, for SpreadStations nearby stations each.
func (n *Night) planSpread(stationVols [][]int32) {
	f := n.cfg.Faults
	if f.Spread <= 0 {
		return
	}
	nStations := len(n.country.Stations)
	home := make([]int, len(n.volunteers)) // the first station of each volunteer
	for i := range home {
		home[i] = -1
	}
	for si, vs := range stationVols {
		for _, v := range vs {
			if home[v] < 0 {
				home[v] = si
			}
		}
	}
	for v := range n.volunteers {
		r := newRand(n.seed, "spread", uint64(v))
		if r.Float64() >= f.Spread {
			continue
		}
		scope := n.volunteers[v].Stations
		want := min(f.SpreadStations, nStations-len(scope))
		lo, hi := max(0, home[v]-300), min(nStations, home[v]+300)
		if hi-lo-len(scope) < want {
			lo, hi = 0, nStations
		}
		picked := map[int]bool{}
		for len(picked) < want {
			j := lo + r.IntN(hi-lo)
			if picked[j] || slices.Contains(scope, n.country.Stations[j].ID) {
				continue
			}
			picked[j] = true
			counted := n.truth.times[j].PartyListFinal + 1 + 10*r.Float64()
			n.plan = append(n.plan, planned{
				at: ms(counted + sendDelay(r)), counted: ms(counted), station: int32(j), vol: int32(v),
				idSeed: mix(n.seed, "spread-submission", uint64(v), uint64(j)), reuseSt: -1,
				ballot: ballotPL, kind: kindSpread,
			})
		}
	}
}

// resolvePhotoReuse points each photo-reuse final at the next station (cyclically) that has
// an honest final of the same ballot, whose form photo it then carries.
func (n *Night) resolvePhotoReuse() {
	nStations := len(n.country.Stations)
	first := make([]int32, 2*nStations) // station*2+ballot -> volunteer of a clean final
	for i := range first {
		first[i] = -1
	}
	var reusers []int
	for i, p := range n.plan {
		if p.kind != kindFinal {
			continue
		}
		if p.reuseSt >= 0 {
			reusers = append(reusers, i)
			continue
		}
		if key := int(p.station)*2 + int(p.ballot); first[key] < 0 {
			first[key] = p.vol
		}
	}
	for _, i := range reusers {
		p := &n.plan[i]
		p.reuseSt = -1
		for d := 1; d < nStations; d++ {
			j := (int(p.station) + d) % nStations
			if v := first[j*2+int(p.ballot)]; v >= 0 {
				p.reuseSt, p.reuseVol = int32(j), v
				break
			}
		}
	}
}

// planDuplicates resends a share of all submissions with the same submission_id and body,
// a little later, as flaky connections and impatient thumbs do.
func (n *Night) planDuplicates() {
	if n.cfg.Faults.Duplicate <= 0 {
		return
	}
	src := rand.NewPCG(0, 0)
	r := rand.New(src)
	count := len(n.plan)
	for i := 0; i < count; i++ {
		p := n.plan[i]
		reseed(src, n.seed, "duplicate", p.idSeed)
		if r.Float64() >= n.cfg.Faults.Duplicate {
			continue
		}
		p.dup = true
		p.at += ms(0.2 + 5*r.Float64())
		n.plan = append(n.plan, p)
	}
}

// Events yields the night's submissions in time order, building each only when it is
// reached, so a national night never sits in memory as submissions.
func (n *Night) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		var scratch eventScratch
		for i := range n.plan {
			if !yield(n.event(&n.plan[i], &scratch)) {
				return
			}
		}
	}
}

// Faults returns every fault label of the night, in event order. It builds only the
// submissions that carry one.
func (n *Night) Faults() []Fault {
	var out []Fault
	var scratch eventScratch
	for i := range n.plan {
		p := &n.plan[i]
		if p.fault == cfNone && !p.early && p.reuseSt < 0 && !p.dup && p.kind != kindCorrection && p.kind != kindSpread {
			continue
		}
		out = append(out, n.event(p, &scratch).Faults...)
	}
	return out
}

type eventScratch struct {
	src   *rand.PCG
	r     *rand.Rand
	box   []int32
	nums  []int
	tally []int
}

// uuidFrom formats a version-4 UUID from a seed, so submission ids are reproducible.
func uuidFrom(seed uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], splitmix64(seed))
	binary.BigEndian.PutUint64(b[8:], splitmix64(seed^0xa5a5a5a5a5a5a5a5))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// photoHash is the evidence hash of a synthetic photo named by its parts.
func photoHash(parts ...uint64) string {
	buf := make([]byte, 8*len(parts))
	for i, p := range parts {
		binary.BigEndian.PutUint64(buf[8*i:], p)
	}
	sum := sha256.Sum256(buf)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// formPhoto is the photo of a station's posted final form of a ballot taken by a volunteer.
func (n *Night) formPhoto(station int32, ballot uint8, vol int32) string {
	return photoHash(n.seed, labelHash("form"), uint64(station), uint64(ballot), uint64(vol))
}

// event builds the submission of one planned entry with its labels.
func (n *Night) event(p *planned, s *eventScratch) Event {
	if s.src == nil {
		s.src = rand.NewPCG(0, 0)
		s.r = rand.New(s.src)
	}
	st := n.country.Stations[p.station]
	vol := n.volunteers[p.vol]
	ballot := ballotOf[p.ballot]
	b := int(p.ballot)
	var f form
	if p.kind == kindProgress {
		f = n.boardAt(int(p.station), b, int(p.k), s)
	} else {
		tl := n.truth.tally(int(p.station), b)
		f = form{cast: tl.BallotsCast, invalid: tl.Invalid, noVote: tl.NoVote, votes: tl.Votes}
	}
	sub := schemas.Submission{
		SubmissionID: uuidFrom(p.idSeed),
		StationID:    st.ID,
		Ballot:       string(ballot),
		Stage:        schemas.StageProgress,
		CountedAt:    n.cfg.Close.Add(time.Duration(p.counted/1000) * time.Second),
	}
	if p.kind == kindProgress {
		sub.Evidence = []string{photoHash(n.seed, labelHash("board"), p.idSeed)}
	} else {
		sub.Stage = schemas.StageFinal
		sub.Evidence = []string{n.formPhoto(p.station, p.ballot, p.vol)}
	}
	label := func(kind FaultKind, anomaly string) Fault {
		return Fault{StationID: st.ID, Ballot: ballot, SubmissionID: sub.SubmissionID, VolunteerID: vol.ID, Kind: kind, Anomaly: anomaly}
	}
	var faults []Fault
	if p.fault != cfNone {
		reseed(s.src, n.seed, "fault", p.idSeed)
		fl := label(contentKinds[p.fault], expectedAnomaly(p.fault, p.others))
		applied := true
		switch p.fault {
		case cfTypo:
			fl.Detail = typo(s.r, &f)
		case cfSwap:
			if fl.Detail, applied = swapDigits(s.r, &f); !applied {
				fl.Kind, fl.Detail, applied = FaultTypo, typo(s.r, &f), true
			}
		case cfMissing:
			fl.Detail, applied = missing(s.r, &f)
		case cfFalsify:
			fl.Detail, applied = falsify(s.r, &f, n.ballotNumbers(int(p.station), b))
		case cfBlock:
			to, frac := n.blockTarget(vol.Org, st.ConstituencyID, ballot)
			if applied = to > 0; applied {
				fl.Detail, applied = blockShift(&f, to, frac)
				fl.Detail = vol.Org + " in " + st.ConstituencyID + ": " + fl.Detail
			}
		case cfNumberSwap:
			var refused bool
			fl.Detail, refused, applied = numberSwap(&f, b, n.country.CandidatesIn(st.ConstituencyID), func(no int) bool {
				return n.country.ValidNumber(st.ConstituencyID, ballot, no)
			})
			fl.MayBeRefused = refused
		}
		if applied {
			fl.MayBeRefused = fl.MayBeRefused || f.overEligible(st.EligibleVoters)
			faults = append(faults, fl)
		}
	}
	if p.early {
		reseed(s.src, n.seed, "early", p.idSeed)
		minutes := 5 + 175*s.r.Float64()
		sub.CountedAt = n.cfg.Close.Add(-time.Duration(minutes * float64(time.Minute))).Truncate(time.Second)
		fl := label(FaultEarly, schemas.AnomalyEarly)
		fl.Detail = "counted_at " + sub.CountedAt.Format(time.RFC3339)
		faults = append(faults, fl)
	}
	if p.reuseSt >= 0 {
		sub.Evidence = []string{n.formPhoto(p.reuseSt, p.ballot, p.reuseVol)}
		fl := label(FaultPhotoReuse, schemas.AnomalyPhotoReuse)
		fl.Related = n.country.Stations[p.reuseSt].ID
		fl.Detail = "form photo of station " + fl.Related + " by " + n.volunteers[p.reuseVol].ID
		faults = append(faults, fl)
	}
	switch p.kind {
	case kindCorrection:
		fl := label(FaultCorrection, "")
		fl.Related = uuidFrom(p.related)
		fl.Detail = "replaces " + fl.Related
		faults = append(faults, fl)
	case kindSpread:
		fl := label(FaultSpread, schemas.AnomalySpread)
		fl.MayBeRefused = true
		fl.Detail = "outside the assignment " + fmt.Sprint(vol.Stations)
		faults = append(faults, fl)
	}
	if p.dup {
		fl := label(FaultDuplicate, "")
		fl.Detail = "resend"
		faults = []Fault{fl}
	}
	sub.BallotsCast, sub.Invalid, sub.NoVote = f.cast, f.invalid, f.noVote
	sub.Votes = make(map[string]int, len(f.votes))
	for no, v := range f.votes {
		if v > 0 {
			sub.Votes[strconv.Itoa(no)] = v
		}
	}
	return Event{
		At:         n.cfg.Close.Add(time.Duration(p.at) * time.Millisecond),
		Volunteer:  vol,
		Submission: sub,
		Faults:     faults,
	}
}

func (f *form) overEligible(eligible int) bool {
	if f.cast > eligible || f.invalid > eligible || f.noVote > eligible {
		return true
	}
	for _, v := range f.votes {
		if v > eligible {
			return true
		}
	}
	return false
}

// ballotNumbers lists the numbers on station i's ballot b.
func (n *Night) ballotNumbers(i, b int) []int {
	var out []int
	n.truth.eachVote(i, b, func(no int, _ int32) { out = append(out, no) })
	return out
}

// boardAt is the tally board of station i's ballot b after k papers: the first k of one
// fixed random order of the papers in the box, so every volunteer photographing the board
// at the same moment sees the same figures and a board never goes down.
func (n *Night) boardAt(i, b, k int, s *eventScratch) form {
	cnt := n.truth.counts[i]
	s.box = s.box[:0]
	s.nums = s.nums[:0]
	// Papers: -1 invalid, -2 no vote, else the index on the ballot list.
	for range cnt.invalid[b] {
		s.box = append(s.box, -1)
	}
	for range cnt.noVote[b] {
		s.box = append(s.box, -2)
	}
	n.truth.eachVote(i, b, func(no int, v int32) {
		j := int32(len(s.nums))
		s.nums = append(s.nums, no)
		for range v {
			s.box = append(s.box, j)
		}
	})
	s.tally = append(s.tally[:0], make([]int, len(s.nums))...)
	reseed(s.src, n.seed, "box", uint64(i), uint64(b))
	k = min(k, len(s.box))
	f := form{cast: k, votes: map[int]int{}}
	for j := 0; j < k; j++ {
		x := j + s.r.IntN(len(s.box)-j)
		s.box[j], s.box[x] = s.box[x], s.box[j]
		switch paper := s.box[j]; paper {
		case -1:
			f.invalid++
		case -2:
			f.noVote++
		default:
			s.tally[paper]++
		}
	}
	for j, v := range s.tally {
		if v > 0 {
			f.votes[s.nums[j]] = v
		}
	}
	return f
}

// inBlock reports whether volunteer v's organisation shifts its finals in station si's
// constituency (FaultRates.BlockShift, drawn once per organisation and constituency).
func (n *Night) inBlock(v int32, si int) bool {
	rate := n.cfg.Faults.BlockShift
	if rate <= 0 {
		return false
	}
	h := mix(n.seed, "block", labelHash(n.volunteers[v].Org), labelHash(n.country.Stations[si].ConstituencyID))
	return float64(h>>11)/(1<<53) < rate
}

// blockTarget is the number an organisation's block in a constituency moves votes to on
// ballot b (one party: its candidate there on the constituency ballot, its list number on
// the party list) and the share of the other numbers' votes it moves; 0 when there is none.
func (n *Night) blockTarget(org, constituency string, b election.Ballot) (int, float64) {
	r := newRand(n.seed, "block-target", labelHash(org), labelHash(constituency))
	lo, hi := n.cfg.Faults.BlockShiftFrac[0], n.cfg.Faults.BlockShiftFrac[1]
	frac := lo + (hi-lo)*r.Float64()
	var cands []election.Candidate
	for _, c := range n.country.CandidatesIn(constituency) {
		if n.country.ValidNumber(constituency, election.BallotPartyList, c.PartyNo) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return 0, 0
	}
	c := cands[r.IntN(len(cands))]
	if b == election.BallotPartyList {
		return c.PartyNo, frac
	}
	return c.No, frac
}
