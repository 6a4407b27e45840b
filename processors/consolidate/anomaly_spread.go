package consolidate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"votestream/schemas"
)

// spread: one volunteer reporting more distinct stations than anyone plausibly can
// (SpreadMaxStations). Only station volunteers count: district leads and the war room may
// report for many stations. The stations the volunteer reported first (by received_at) are
// presumed their assignment; every station beyond the limit is flagged, each ballot with one
// anomaly (per volunteer, station and ballot). Ingest's own flag (a station outside the
// token's scope, see outsideScope) needs no count. arr is the report's arrival (rep is the
// copy the Ledger keeps, without it).
func (l *Ledger) spread(p int32, rep *Report, arr *arrival) []Output {
	if arr.Role != "" && arr.Role != schemas.RoleStation {
		return nil
	}
	b := ballotIndex(rep.Ballot())
	var out []Output
	if slices.Contains(arr.IngestFlags, schemas.AnomalySpread) {
		out = append(out, l.outsideScope(p, rep)...)
	}
	old := l.volunteers[rep.VolunteerID]
	k := slices.IndexFunc(old, func(u spreadUse) bool { return u.station == rep.StationID })
	if k >= 0 && old[k].ballots[b] && len(old) <= l.rules.SpreadMaxStations {
		return out
	}
	uses := slices.Clone(old)
	if k < 0 {
		uses = append(uses, spreadUse{part: p, station: rep.StationID, submission: rep.SubmissionID, at: rep.ReceivedAt})
		k = len(uses) - 1
	} else if rep.ReceivedAt.Before(uses[k].at) {
		uses[k].submission, uses[k].at = rep.SubmissionID, rep.ReceivedAt
	}
	uses[k].ballots[b] = true
	slices.SortStableFunc(uses, func(a, b spreadUse) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.station, b.station))
	})
	l.volunteers[rep.VolunteerID] = uses
	l.record(func() {
		if len(old) == 0 {
			delete(l.volunteers, rep.VolunteerID)
		} else {
			l.volunteers[rep.VolunteerID] = old
		}
	})
	if len(uses) <= l.rules.SpreadMaxStations {
		return out
	}
	stations := make([]string, len(uses))
	for i, u := range uses {
		stations[i] = u.station
	}
	local := !slices.ContainsFunc(uses, func(u spreadUse) bool { return u.part != p })
	for _, u := range uses[l.rules.SpreadMaxStations:] {
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
			out = append(out, l.flag(u.part, u.station, Flag{Ballot: ballotOf(bi), Code: schemas.AnomalySpread, On: true, Anomaly: a, At: rep.ReceivedAt}, local)...)
		}
	}
	return out
}

// outsideScope: ingest accepted the report although its station is outside the volunteer's
// token scope, and said so in the record's flags header. Same anomaly id as the count rule,
// so a volunteer caught both ways raises one record per station and ballot.
func (l *Ledger) outsideScope(p int32, rep *Report) []Output {
	st, ok := l.Station(p, rep.StationID)
	if !ok {
		st, _ = l.rules.NewStation(rep.StationID)
	}
	a := newAnomaly(schemas.AnomalySpread, &st, rep.Ballot(), rep.ReceivedAt,
		"volunteer "+rep.VolunteerID+" reported station "+rep.StationID+", outside their assignment",
		map[string]string{"assignment": "outside", "flagged_by": "ingest", "org": rep.Org},
		rep.VolunteerID, rep.StationID, rep.Ballot())
	a.VolunteerID = rep.VolunteerID
	a.Submissions = []string{rep.SubmissionID}
	return l.flag(p, rep.StationID, Flag{Ballot: ballotOf(ballotIndex(rep.Ballot())), Code: schemas.AnomalySpread, On: true, Anomaly: a, At: rep.ReceivedAt}, true)
}
