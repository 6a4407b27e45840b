package consolidate

import (
	"slices"
	"strconv"
	"strings"

	"votestream/schemas"
)

// spread: one volunteer reporting more distinct stations than anyone plausibly can
// (SpreadMaxStations). Only station volunteers count: district leads and the war room may
// report for many stations. Once over the limit, every station and ballot the volunteer
// reported is flagged, and each further one as it comes: one anomaly per volunteer, station
// and ballot.
func (l *Ledger) spread(p int32, rep *Report) []Output {
	if rep.Role != "" && rep.Role != schemas.RoleStation {
		return nil
	}
	b := ballotIndex(rep.Ballot)
	old := l.volunteers[rep.VolunteerID]
	k := slices.IndexFunc(old, func(u spreadUse) bool { return u.station == rep.StationID })
	if k >= 0 && old[k].ballots[b] && len(old) <= l.rules.SpreadMaxStations {
		return nil
	}
	uses := slices.Clone(old)
	if k < 0 {
		uses = append(uses, spreadUse{part: p, station: rep.StationID, submission: rep.SubmissionID})
		k = len(uses) - 1
	}
	uses[k].ballots[b] = true
	l.volunteers[rep.VolunteerID] = uses
	l.record(func() {
		if len(old) == 0 {
			delete(l.volunteers, rep.VolunteerID)
		} else {
			l.volunteers[rep.VolunteerID] = old
		}
	})
	if len(uses) <= l.rules.SpreadMaxStations {
		return nil
	}
	stations := make([]string, len(uses))
	for i, u := range uses {
		stations[i] = u.station
	}
	var out []Output
	for _, u := range uses {
		for bi, reported := range u.ballots {
			if !reported {
				continue
			}
			st, ok := l.Station(u.part, u.station)
			if !ok {
				st, _ = l.rules.NewStation(u.station)
			}
			a := newAnomaly(schemas.AnomalySpread, &st, ballotName(bi), rep.ReceivedAt,
				"volunteer "+rep.VolunteerID+" reported "+strconv.Itoa(len(uses))+" stations, more than the "+
					strconv.Itoa(l.rules.SpreadMaxStations)+" one volunteer can cover",
				map[string]string{
					"stations":     strconv.Itoa(len(uses)),
					"limit":        strconv.Itoa(l.rules.SpreadMaxStations),
					"station_list": strings.Join(stations, ","),
					"org":          rep.Org,
				},
				rep.VolunteerID, u.station, ballotName(bi))
			a.VolunteerID = rep.VolunteerID
			a.Submissions = []string{u.submission}
			out = append(out, l.flag(u.part, u.station, Flag{Ballot: ballotOf(bi), Code: schemas.AnomalySpread, On: true, Anomaly: a, At: rep.ReceivedAt})...)
		}
	}
	return out
}
