package consolidate

import (
	"log/slog"

	"votestream/election"
	place "votestream/internal/partition"
)

// placement notices input records that are not on their constituency's partition: a
// producer that does not use internal/partition (or a station id that does not start with
// its constituency's). Such a station's constituency is split between partitions, so its
// outlier and block statistics are judged on part of it, and a station whose records are
// on two partitions has two states; the records are still applied (the station's own rules
// need nothing else), counted by topic and logged once per constituency and topic.
type placement struct {
	country    *election.Country
	partitions int                // of the input topics; 0 until known (nothing checked)
	logged     map[[2]string]bool // constituency, topic
	count      func(topic string)
	log        *slog.Logger
}

// check reports whether station's record on partition p of topic is where the partitioner
// puts its constituency, counting and logging it when not.
func (pl *placement) check(topic string, p int32, station string) bool {
	if pl.partitions <= 0 || station == "" {
		return true
	}
	st, ok := pl.country.StationByID(station)
	if !ok {
		return true // a dead letter
	}
	want := place.ForConstituency(st.ConstituencyID, pl.partitions)
	if want == p {
		return true
	}
	pl.count(topic)
	k := [2]string{st.ConstituencyID, topic}
	if !pl.logged[k] {
		if pl.logged == nil {
			pl.logged = map[[2]string]bool{}
		}
		pl.logged[k] = true
		pl.log.Warn("record on another partition than its constituency's: its producer does not place by constituency (internal/partition); outliers and block shifts of this constituency are judged on part of it",
			"topic", topic, "partition", p, "want_partition", want, "station", station, "constituency", st.ConstituencyID)
	}
	return false
}

// misnamedStations counts the stations of c whose id does not start with their
// constituency's id and an underscore: the partitioner, which sees only the key, cannot
// keep those with their constituency.
func misnamedStations(c *election.Country) (n int, example string) {
	if c == nil {
		return 0, ""
	}
	for _, s := range c.Stations {
		if place.Constituency(s.ID) != s.ConstituencyID {
			if n == 0 {
				example = s.ID
			}
			n++
		}
	}
	return n, example
}
