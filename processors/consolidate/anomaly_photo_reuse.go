package consolidate

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"votestream/schemas"
)

// photoReuse: the same evidence hash on reports for different stations. A photo shows one
// station's tally board or form, so a second station carrying it was not photographed there.
// Every station and ballot carrying it is flagged, the first one too: the copy often arrives
// before the original (a volunteer forwards the photo while its taker is still in the
// queue), so which one is genuine is for a person to decide. One anomaly per hash, station
// and ballot. evidence is the report's evidence hashes (rep is the copy the Ledger keeps,
// without them).
func (l *Ledger) photoReuse(p int32, rep *Report, evidence []string) []Output {
	var out []Output
	for _, h := range evidence {
		k := photoKeyOf(h)
		old := l.photoUses(k)
		if slices.ContainsFunc(old, func(u photoUse) bool { return u.submission() == rep.SubmissionID }) {
			continue
		}
		uses := append(slices.Clip(old), photoUse{rep: rep}) // rep.part is p (Ledger.Apply)
		l.setPhotoUses(k, uses)
		l.record(func() { l.setPhotoUses(k, old) })
		stations := distinctStations(uses)
		if len(stations) < 2 {
			continue
		}
		local := !slices.ContainsFunc(uses, func(u photoUse) bool { return u.part() != p })
		type target struct {
			part    int32
			station string
			ballot  int
		}
		first := slices.MinFunc(uses, func(a, b photoUse) int {
			return cmp.Or(a.at().Compare(b.at()), strings.Compare(a.submission(), b.submission()))
		}).station()
		var targets []target
		for _, u := range uses {
			t := target{u.part(), u.station(), u.ballot()}
			if !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
		for _, t := range targets {
			var subs, vols []string
			for _, u := range uses {
				if u.station() == t.station && u.ballot() == t.ballot {
					subs = append(subs, u.submission())
					vols = append(vols, u.volunteer())
				}
			}
			others := slices.DeleteFunc(slices.Clone(stations), func(s string) bool { return s == t.station })
			st, ok := l.Station(t.part, t.station)
			if !ok {
				st, _ = l.rules.NewStation(t.station)
			}
			a := newAnomaly(schemas.AnomalyPhotoReuse, &st, ballotName(t.ballot), rep.ReceivedAt,
				"evidence "+h+" is also on reports for "+strings.Join(others, ", "),
				map[string]string{
					"evidence":       h,
					"other_stations": strings.Join(others, ","),
					"first_station":  first,
					"stations":       strings.Join(stations, ","),
					"volunteers":     strings.Join(vols, ","),
				},
				h, t.station, ballotName(t.ballot))
			a.Submissions = subs
			if len(vols) == 1 {
				a.VolunteerID = vols[0]
			}
			out = append(out, l.flag(t.part, t.station, Flag{Ballot: ballotOf(t.ballot), Code: schemas.AnomalyPhotoReuse, On: true, Anomaly: a, At: rep.ReceivedAt}, local)...)
		}
	}
	return out
}

func distinctStations(uses []photoUse) []string {
	var s []string
	for _, u := range uses {
		if !slices.Contains(s, u.station()) {
			s = append(s, u.station())
		}
	}
	return s
}

// photoKey is an evidence hash as the photo index keys it: a "sha256:" and 64 lowercase hex
// digits (what ingest writes) as its 32 bytes, anything else as itself behind a zero byte
// (so never empty, and never equal to a digest's key). The index holds one key per photo
// of the night; the text form cost a 71-byte string each (issue 18).
type photoKey struct {
	sum   [32]byte
	other string
}

func photoKeyOf(h string) photoKey {
	const prefix = "sha256:"
	var k photoKey
	if len(h) != len(prefix)+64 || h[:len(prefix)] != prefix {
		return photoKey{other: "\x00" + h}
	}
	for i := range 64 {
		c := h[len(prefix)+i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		default:
			return photoKey{other: "\x00" + h}
		}
		k.sum[i/2] |= v << (4 * (1 - i%2))
	}
	return k
}

// photoUses returns every report that carried a photo, in the order they came. A photo
// seen once (nearly all of them) is held in l.photos without a slice of its own, a reused
// one in l.reused. The result must not be changed.
func (l *Ledger) photoUses(k photoKey) []photoUse {
	if uses, ok := l.reused[k]; ok {
		return uses
	}
	if u, ok := l.photos.get(k); ok {
		return []photoUse{u}
	}
	return nil
}

// setPhotoUses replaces the reports that carried a photo; none forgets the photo.
func (l *Ledger) setPhotoUses(k photoKey, uses []photoUse) {
	switch len(uses) {
	case 0:
		l.photos.delete(k)
		delete(l.reused, k)
	case 1:
		l.photos.set(k, uses[0])
		delete(l.reused, k)
	default:
		l.photos.delete(k)
		l.reused[k] = uses
	}
}

// photoIndex holds the photos seen once, keyed as photoKey: a digest by its 32 bytes alone
// (an entry of 40 bytes, not the 64 of photoKey and a use with its partition: a national
// night holds one per report, issue 18), any other text in a map of its own.
type photoIndex struct {
	sums  map[[32]byte]photoUse
	other map[string]photoUse
}

func (x *photoIndex) get(k photoKey) (photoUse, bool) {
	if k.other != "" {
		u, ok := x.other[k.other]
		return u, ok
	}
	u, ok := x.sums[k.sum]
	return u, ok
}

func (x *photoIndex) set(k photoKey, u photoUse) {
	if k.other != "" {
		x.other[k.other] = u
	} else {
		x.sums[k.sum] = u
	}
}

func (x *photoIndex) delete(k photoKey) {
	if k.other != "" {
		delete(x.other, k.other)
	} else {
		delete(x.sums, k.sum)
	}
}

// dropPartition forgets the photos of partition p's reports.
func (x *photoIndex) dropPartition(p int32) {
	maps.DeleteFunc(x.sums, func(_ [32]byte, u photoUse) bool { return u.part() == p })
	maps.DeleteFunc(x.other, func(_ string, u photoUse) bool { return u.part() == p })
}
