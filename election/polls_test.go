package election_test

import (
	"fmt"
	"testing"
	"time"

	"votestream/election"
)

func ExamplePollsClose() {
	fmt.Println(election.PollsClose(election.DefaultElectionDay).Format(time.RFC3339))
	// Output: 2023-05-14T17:00:00+07:00
}

func TestParsePollsClose(t *testing.T) {
	for in, want := range map[string]string{
		"2023-05-14":                "2023-05-14T10:00:00Z",
		"2027-03-01":                "2027-03-01T10:00:00Z",
		"2023-05-14T18:30:00+07:00": "2023-05-14T11:30:00Z",
		" 2023-05-14T10:00:00Z ":    "2023-05-14T10:00:00Z",
	} {
		got, err := election.ParsePollsClose(in)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("ParsePollsClose(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "17:00", "14/05/2023", "2023-05-14 17:00"} {
		if _, err := election.ParsePollsClose(bad); err == nil {
			t.Errorf("ParsePollsClose(%q) accepted", bad)
		}
	}
	// A day given late in the evening elsewhere is still the Bangkok day it names.
	if got := election.PollsClose(time.Date(2023, 5, 13, 20, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("PollsClose of 13 May 20:00 UTC = %v, want 14 May 17:00 Bangkok", got)
	}
}
