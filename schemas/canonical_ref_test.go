package schemas

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// canonicalReference is the first, plain implementation of CanonicalJSON (a bytes.Buffer,
// encoding/json for strings, keys re-parsed on every comparison), kept to hold the faster
// appendCanonical to the same bytes.
func canonicalReference(s Submission) []byte {
	str := func(b *bytes.Buffer, v string) {
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		b.Truncate(b.Len() - 1)
	}
	var b bytes.Buffer
	b.WriteString(`{"station_id":`)
	str(&b, s.StationID)
	b.WriteString(`,"ballot":`)
	str(&b, s.Ballot)
	b.WriteString(`,"stage":`)
	str(&b, string(s.Stage))
	b.WriteString(`,"counted_at":`)
	str(&b, s.CountedAt.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"ballots_cast":` + strconv.Itoa(s.BallotsCast) + `,"invalid":` + strconv.Itoa(s.Invalid) + `,"no_vote":` + strconv.Itoa(s.NoVote))
	b.WriteString(`,"votes":{`)
	var keys []string
	for k, n := range s.Votes {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, c string) int {
		na, errA := strconv.ParseUint(a, 10, 64)
		nc, errC := strconv.ParseUint(c, 10, 64)
		switch {
		case errA == nil && errC == nil && na != nc:
			if na < nc {
				return -1
			}
			return 1
		case errA == nil && errC != nil:
			return -1
		case errA != nil && errC == nil:
			return 1
		}
		return strings.Compare(a, c)
	})
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		str(&b, k)
		b.WriteString(":" + strconv.Itoa(s.Votes[k]))
	}
	b.WriteString(`},"evidence":[`)
	ev := slices.Clone(s.Evidence)
	slices.Sort(ev)
	for i, e := range ev {
		if i > 0 {
			b.WriteByte(',')
		}
		str(&b, e)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func FuzzCanonicalJSON(f *testing.F) {
	f.Add("BKK_1_0042", "constituency", "final", "1", "07", "7", "sha256:bb", "sha256:aa", 512, int64(1684061520), 7*3600)
	f.Add("ไทย\xff", "<&>", "\u2028", "x", "18446744073709551616", "", "", "\x00", -1, int64(-62135596800), -3600)
	f.Fuzz(func(t *testing.T, station, ballot, stage, k1, k2, k3, e1, e2 string, n int, sec int64, offset int) {
		s := Submission{StationID: station, Ballot: ballot, Stage: Stage(stage),
			CountedAt:   time.Unix(sec, int64(n)%1e9).In(time.FixedZone("z", offset%86400)),
			BallotsCast: n, Invalid: -n, NoVote: n / 7,
			Votes: map[string]int{k1: n, k2: n + 1, k3: 0, "10": 3, "9": 4}, Evidence: []string{e1, e2}}
		if e1 == "" {
			s.Evidence = nil
		}
		want := canonicalReference(s)
		if got := CanonicalJSON(s); !bytes.Equal(got, want) {
			t.Fatalf("CanonicalJSON\n got %s\nwant %s", got, want)
		}
	})
}
