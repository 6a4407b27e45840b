package election

import (
	"fmt"
	"strings"
	"time"
)

// Bangkok is Asia/Bangkok (UTC+7, no daylight saving) as a fixed zone, so that times read
// the same on any host.
var Bangkok = time.FixedZone("+07", 7*3600)

// DefaultElectionDay is the day of the election the reference data describes when nothing
// says otherwise: 14 May 2023, the first case. The reference CSV files carry no date.
var DefaultElectionDay = time.Date(2023, 5, 14, 0, 0, 0, 0, Bangkok)

// PollsCloseHour is when polls close in Thailand, local time (counting starts right after).
const PollsCloseHour = 17

// PollsClose returns when polls close on the election day of day (its date in Bangkok):
// 17:00 Asia/Bangkok.
func PollsClose(day time.Time) time.Time {
	y, m, d := day.In(Bangkok).Date()
	return time.Date(y, m, d, PollsCloseHour, 0, 0, 0, Bangkok)
}

// ParsePollsClose reads a polls-close setting: an RFC 3339 time ("2023-05-14T17:00:00+07:00"),
// or an election day ("2023-05-14"), meaning PollsClose of that day.
func ParsePollsClose(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, Bangkok); err == nil {
		return PollsClose(d), nil
	}
	return time.Time{}, fmt.Errorf("election: polls close %q: want an RFC 3339 time (2023-05-14T17:00:00+07:00) or an election day (2023-05-14)", s)
}
