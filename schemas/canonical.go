package schemas

import (
	"bytes"
	"cmp"
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
	return appendCanonical(make([]byte, 0, 256), s)
}

// voteKey is a votes key with its numeric value, parsed once for sorting.
type voteKey struct {
	key     string
	n       uint64
	numeric bool
}

func appendCanonical(b []byte, s Submission) []byte {
	b = append(b, `{"station_id":`...)
	b = appendJSONString(b, false, s.StationID)
	b = append(b, `,"ballot":`...)
	b = appendJSONString(b, false, s.Ballot)
	b = append(b, `,"stage":`...)
	b = appendJSONString(b, false, string(s.Stage))
	b = append(b, `,"counted_at":"`...)
	b = s.CountedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","ballots_cast":`...)
	b = strconv.AppendInt(b, int64(s.BallotsCast), 10)
	b = append(b, `,"invalid":`...)
	b = strconv.AppendInt(b, int64(s.Invalid), 10)
	b = append(b, `,"no_vote":`...)
	b = strconv.AppendInt(b, int64(s.NoVote), 10)
	b = append(b, `,"votes":{`...)
	var buf [64]voteKey
	keys := buf[:0]
	for k, n := range s.Votes {
		if n != 0 {
			v, err := strconv.ParseUint(k, 10, 64)
			keys = append(keys, voteKey{key: k, n: v, numeric: err == nil})
		}
	}
	slices.SortFunc(keys, compareVoteKeys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, false, k.key)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(s.Votes[k.key]), 10)
	}
	b = append(b, `},"evidence":[`...)
	ev := s.Evidence
	if !slices.IsSorted(ev) {
		ev = slices.Sorted(slices.Values(ev))
	}
	for i, e := range ev {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, false, e)
	}
	return append(b, `]}`...)
}

// CanonicalHash is "sha256:" and the lower-case hex SHA-256 of CanonicalJSON(s): the hash
// ingest stamps on a report and consolidate compares. Equal figures give equal hashes
// whatever the client's key order, spacing or time zone.
func CanonicalHash(s Submission) string {
	var buf [512]byte // most submissions fit: no allocation but the result
	sum := sha256.Sum256(appendCanonical(buf[:0], s))
	var out [len("sha256:") + 2*sha256.Size]byte
	copy(out[:], "sha256:")
	hex.Encode(out[len("sha256:"):], sum[:])
	return string(out[:])
}

// compareVoteKeys orders decimal keys by value, then anything else by bytes.
func compareVoteKeys(a, b voteKey) int {
	switch {
	case a.numeric && b.numeric:
		if c := cmp.Compare(a.n, b.n); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key) // "7" and "07": both sort, in a fixed order
	case a.numeric:
		return -1
	case b.numeric:
		return 1
	}
	return strings.Compare(a.key, b.key)
}

// appendJSONString appends s as encoding/json writes it: with HTML escaping (<, >, & as
// \u003c...), as json.Marshal does, or without, as the canonical form wants.
func appendJSONString(b []byte, escapeHTML bool, s string) []byte {
	if plainASCII(s) && (!escapeHTML || !strings.ContainsAny(s, "<>&")) {
		// What the encoder below writes for such a string, without building an encoder for
		// every field of every report (a hot path of ingest).
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
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
