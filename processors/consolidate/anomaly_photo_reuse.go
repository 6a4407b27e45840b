package consolidate

import (
	"cmp"
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
		old := l.photos[h]
		if slices.ContainsFunc(old, func(u photoUse) bool { return u.submission() == rep.SubmissionID }) {
			continue
		}
		uses := append(slices.Clip(old), photoUse{part: p, rep: rep})
		l.photos[h] = uses
		l.record(func() {
			if len(old) == 0 {
				delete(l.photos, h)
			} else {
				l.photos[h] = old
			}
		})
		stations := distinctStations(uses)
		if len(stations) < 2 {
			continue
		}
		local := !slices.ContainsFunc(uses, func(u photoUse) bool { return u.part != p })
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
			t := target{u.part, u.station(), u.ballot()}
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
