package schemas

import (
	"slices"
	"strconv"
	"time"
)

// AppendJSON appends exactly what json.Marshal(r) writes, and fails where it fails (a time
// RFC 3339 cannot hold), without reflection: ingest encodes one Report per accepted
// submission, and reflection was a tenth of its CPU. Strings outside the common case go
// through encoding/json itself, so the bytes never differ.
func (r *Report) AppendJSON(dst []byte) ([]byte, error) {
	s := &r.Submission
	dst = append(dst, `{"submission_id":`...)
	dst = appendJSONString(dst, true, s.SubmissionID)
	dst = append(dst, `,"station_id":`...)
	dst = appendJSONString(dst, true, s.StationID)
	dst = append(dst, `,"ballot":`...)
	dst = appendJSONString(dst, true, s.Ballot)
	dst = append(dst, `,"stage":`...)
	dst = appendJSONString(dst, true, string(s.Stage))
	dst = append(dst, `,"counted_at":`...)
	dst, err := appendJSONTime(dst, s.CountedAt)
	if err != nil {
		return nil, err
	}
	dst = append(dst, `,"ballots_cast":`...)
	dst = strconv.AppendInt(dst, int64(s.BallotsCast), 10)
	dst = append(dst, `,"invalid":`...)
	dst = strconv.AppendInt(dst, int64(s.Invalid), 10)
	dst = append(dst, `,"no_vote":`...)
	dst = strconv.AppendInt(dst, int64(s.NoVote), 10)
	dst = append(dst, `,"votes":`...)
	if s.Votes == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '{')
		var buf [64]string
		keys := buf[:0]
		for k := range s.Votes {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys by bytes
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, true, k)
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, int64(s.Votes[k]), 10)
		}
		dst = append(dst, '}')
	}
	if len(s.Evidence) > 0 {
		dst = append(dst, `,"evidence":[`...)
		for i, e := range s.Evidence {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, true, e)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"volunteer_id":`...)
	dst = appendJSONString(dst, true, r.VolunteerID)
	dst = append(dst, `,"org":`...)
	dst = appendJSONString(dst, true, r.Org)
	dst = append(dst, `,"role":`...)
	dst = appendJSONString(dst, true, r.Role)
	dst = append(dst, `,"received_at":`...)
	if dst, err = appendJSONTime(dst, r.ReceivedAt); err != nil {
		return nil, err
	}
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, true, r.Hash)
	if r.Person != "" {
		dst = append(dst, `,"person":`...)
		dst = appendJSONString(dst, true, r.Person)
	}
	return append(dst, '}'), nil
}

// AppendJSON appends exactly what json.Marshal(r) writes, and fails where it fails (ingest
// answers every accepted submission with one).
func (r *Receipt) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"submission_id":`...)
	dst = appendJSONString(dst, true, r.SubmissionID)
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, true, r.Hash)
	dst = append(dst, `,"received_at":`...)
	dst, err := appendJSONTime(dst, r.ReceivedAt)
	if err != nil {
		return nil, err
	}
	if r.Duplicate {
		dst = append(dst, `,"duplicate":true`...)
	}
	if r.LeafHash != "" {
		dst = append(dst, `,"leaf_hash":`...)
		dst = appendJSONString(dst, true, r.LeafHash)
	}
	if r.ProofURL != "" {
		dst = append(dst, `,"proof_url":`...)
		dst = appendJSONString(dst, true, r.ProofURL)
	}
	return append(dst, '}'), nil
}

// appendJSONTime appends t as its MarshalJSON writes it, and fails where that fails.
func appendJSONTime(dst []byte, t time.Time) ([]byte, error) {
	b, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}
