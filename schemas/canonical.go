package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CanonicalJSON is the one byte sequence that stands for what a submission reports, however
// the client spelled it. CanonicalHash hashes it. The encoding, for anyone re-implementing it
// (an app checking its receipt, an auditor):
//
//   - one JSON object, no white space, fields in this fixed order:
//     station_id, ballot, stage, counted_at, ballots_cast, invalid, no_vote, votes, evidence;
//   - submission_id is left out: it names the sending, not what was reported, so the same
//     report re-sent under a fresh id has the same hash, and a retry under the same id with a
//     different body is caught by comparing hashes;
//   - counted_at in UTC, RFC 3339 with fractional seconds only when non-zero and without
//     trailing zeros (Go's time.RFC3339Nano): "2023-05-14T10:12:00Z";
//   - votes: an object whose keys are sorted by numeric value ("2" before "10"); entries of 0
//     votes are dropped, since a missing number means 0; keys that are not decimal numbers
//     (never valid, but a hash must still be defined) sort after the numbers, by byte order;
//   - evidence: always present, sorted by byte order, duplicates kept; [] when none;
//   - strings as Go's encoding/json writes them with HTML escaping off: ", \, control
//     characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD; integers in
//     plain decimal.
func CanonicalJSON(s Submission) []byte {
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString(`{"station_id":`)
	writeString(&b, s.StationID)
	b.WriteString(`,"ballot":`)
	writeString(&b, s.Ballot)
	b.WriteString(`,"stage":`)
	writeString(&b, string(s.Stage))
	b.WriteString(`,"counted_at":`)
	writeString(&b, s.CountedAt.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"ballots_cast":`)
	b.WriteString(strconv.Itoa(s.BallotsCast))
	b.WriteString(`,"invalid":`)
	b.WriteString(strconv.Itoa(s.Invalid))
	b.WriteString(`,"no_vote":`)
	b.WriteString(strconv.Itoa(s.NoVote))
	b.WriteString(`,"votes":{`)
	keys := make([]string, 0, len(s.Votes))
	for k, n := range s.Votes {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareVoteKeys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(s.Votes[k]))
	}
	b.WriteString(`},"evidence":[`)
	ev := slices.Clone(s.Evidence)
	slices.Sort(ev)
	for i, e := range ev {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, e)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// CanonicalHash is "sha256:" and the lower-case hex SHA-256 of CanonicalJSON(s): the hash
// ingest stamps on a report and consolidate compares. Equal figures give equal hashes
// whatever the client's key order, spacing or time zone.
func CanonicalHash(s Submission) string {
	sum := sha256.Sum256(CanonicalJSON(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// compareVoteKeys orders decimal keys by value, then anything else by bytes.
func compareVoteKeys(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		if na != nb {
			if na < nb {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b) // "7" and "07": both sort, in a fixed order
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func writeString(b *bytes.Buffer, s string) {
	if plainASCII(s) {
		// What the encoder below writes for such a string, without building an encoder for
		// every field of every report (a hot path of ingest).
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

// plainASCII reports whether s is printable ASCII that JSON leaves unescaped.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
