package estimate

import (
	"strings"
	"testing"

	"votestream/schemas"
)

// Thai vowel and tone marks take no column; wide characters two.
func TestDisplayWidth(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{"Move Forward", 12},
		{"ก้าวไกล", 6},   // ก ้ า ว ไ ก ล: the tone mark ้ takes no column
		{"เพื่อไทย", 6},  // ิ ่ above
		{"ภูมิใจไทย", 7}, // ู ิ
		{"日本", 4},
	} {
		if got := DisplayWidth(tt.s); got != tt.want {
			t.Errorf("DisplayWidth(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func boardEstimate(state schemas.EstimateState) schemas.Estimate {
	e := schemas.Estimate{StationsReported: 300, StationsTotal: 1000, SharesState: state, SeatsState: state,
		Parties: []schemas.PartyEstimate{
			{PartyNo: 29, CountedVotes: 900, Share: 0.3, ShareLo: 0.28, ShareHi: 0.32, Seats: 30},
			{PartyNo: 31, CountedVotes: 1000, Share: 0.38, ShareLo: 0.36, ShareHi: 0.4, Seats: 39},
		},
		Constituencies: []schemas.ConstituencyEstimate{{Call: schemas.CallCalled}, {Call: schemas.CallLikely}, {Call: schemas.CallLeading}, {Call: schemas.CallTooEarly}},
	}
	if state != schemas.StateTooEarly {
		e.SeatDraws = 2000
		e.Parties[0].SeatRange = &schemas.SeatRange{Total: 134, TotalLo90: 121, TotalHi90: 147, LargestProbability: 0.19}
		e.Parties[1].SeatRange = &schemas.SeatRange{Total: 151, TotalLo90: 139, TotalHi90: 163, LargestProbability: 0.81}
	}
	return e
}

var thaiNames = map[int]string{29: "เพื่อไทย", 31: "ก้าวไกล"}

// The board lists the parties by seats with their ranges, aligned by display width, and the
// calls; too early says so instead of publishing anything.
func TestBoard(t *testing.T) {
	name := func(no int) string { return thaiNames[no] }
	lines := Board(boardEstimate(schemas.StateEstimate), name, 5)
	text := strings.Join(lines, "\n")
	for _, want := range []string{"30.0 % of stations", "2000 simulated nights", "[139, 163]", "81 %", "[121, 147]",
		"1 leading, 1 likely, 1 called), 1 too early", "3 of 4 with a leader named"} {
		if !strings.Contains(text, want) {
			t.Errorf("board lacks %q:\n%s", want, text)
		}
	}
	if !(strings.Index(text, "ก้าวไกล") < strings.Index(text, "เพื่อไทย")) {
		t.Errorf("the party with more seats is not first:\n%s", text)
	}
	// The table's rows (header and two parties) have one display width.
	w := DisplayWidth(lines[1])
	for _, l := range lines[2:4] {
		if DisplayWidth(l) != w {
			t.Errorf("rows not aligned (%d vs %d columns):\n%s", DisplayWidth(l), w, text)
		}
	}

	early := strings.Join(Board(boardEstimate(schemas.StateTooEarly), name, 5), "\n")
	if !strings.Contains(early, "too early for shares and seats") || strings.Contains(early, "%]") || strings.Contains(early, "[") {
		t.Errorf("too early board publishes figures:\n%s", early)
	}
}
