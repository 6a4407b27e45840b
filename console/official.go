package console

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"strings"
	"sync"

	"votestream/schemas"
)

// Mismatch is a station and ballot whose official figure differs from the consolidated one.
type Mismatch struct {
	StationID string  `json:"station_id"`
	Ballot    string  `json:"ballot"`
	Status    string  `json:"status"` // the consolidated result's status before the upload
	Official  Figures `json:"official"`
	Result    Figures `json:"result"`
}

// UploadSummary answers a CSV of official figures.
type UploadSummary struct {
	File       string     `json:"file"`
	Rows       int        `json:"rows"`    // stations and ballots in the file
	Applied    int        `json:"applied"` // accepted by ingest (new or already sent); 0 while pending
	Failed     []string   `json:"failed,omitempty"`
	Unreported int        `json:"unreported"` // stations and ballots with no consolidated result yet
	Matches    int        `json:"matches"`
	Mismatches []Mismatch `json:"mismatches"`
	// Override is the pending import: nothing is sent to ingest until another member of
	// the war room approves it (POST /v1/overrides/{id}/approve).
	Override *Override `json:"override,omitempty"`
}

// handleOfficialCSV: POST /v1/official/csv?name=<file name>, the body a CSV of official
// figures (OfficialColumns). War room only. Every row is checked first; a file with any
// error is refused whole (422 BAD_CSV, "file:line: message" each) and nothing is sent.
// A good file is sent to ingest one station and ballot at a time with ids derived from the
// file, so if ingest fails half-way, sending the same file again completes it without
// doubling anything.
func (s *Server) handleOfficialCSV(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	if !u.warRoom() {
		s.refuse(w, r, u, "", apiErr(CodeForbiddenRole, "", "only the war room uploads official figures in bulk; a district lead enters them station by station"))
		return
	}
	name := path.Base(strings.TrimSpace(r.URL.Query().Get("name")))
	if name == "." || name == "/" || name == "" {
		name = "upload.csv"
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxCSVBytes)
	rows, errs := ParseOfficialCSV(name, body, s.cfg.Country)
	if _, err := io.Copy(io.Discard, body); err != nil || len(errs) > 0 && strings.Contains(strings.Join(errs, ""), "request body too large") {
		writeError(w, apiErr(CodeBodyTooLarge, "", "the file is above the limit of %d bytes; split it", s.cfg.MaxCSVBytes))
		return
	}
	if len(errs) > 0 {
		e := apiErr(CodeBadCSV, "", "%s has %d error(s); nothing was applied. Fix them and send the whole file again.", name, len(errs))
		e.Lines = errs
		writeError(w, e)
		return
	}
	sum := UploadSummary{File: name, Rows: len(rows), Mismatches: []Mismatch{}}
	ctx, cancel := contextWithTimeout(r, s.cfg.QueryTimeout)
	current, err := s.store.results(ctx, rows)
	cancel()
	if err != nil {
		s.log.Error("console: official upload: reading results", "err", err)
		writeError(w, &APIError{Code: CodeUpstream, Message: "ClickHouse did not answer; nothing was applied, send the file again"})
		return
	}
	for _, row := range rows {
		cur, ok := current[schemas.StationResultKey(row.StationID, row.Ballot)]
		switch {
		case !ok:
			sum.Unreported++
		case sameFigures(cur.Figures, row.Figures):
			sum.Matches++
		default:
			sum.Mismatches = append(sum.Mismatches, Mismatch{StationID: row.StationID, Ballot: row.Ballot, Status: cur.status, Official: row.Figures, Result: cur.Figures})
		}
	}
	// A bulk import needs a second war room member: until approved, nothing is sent.
	o := s.RequestOverride(r.Context(), u, OverrideRequest{Kind: KindOfficialImport,
		Summary: fmt.Sprintf("official figures %s: %d stations and ballots, %d match, %d differ, %d not reported yet", name, sum.Rows, sum.Matches, len(sum.Mismatches), sum.Unreported),
		Reason:  "bulk import of " + name},
		func(ctx context.Context, _, approver who) (string, error) {
			done := UploadSummary{File: name, Rows: len(rows)}
			s.sendOfficial(ctx, approver, rows, &done)
			if len(done.Failed) > 0 {
				return "", fmt.Errorf("%d of %d sent, %d failed: %s", done.Applied, done.Rows, len(done.Failed), strings.Join(done.Failed, "; "))
			}
			return fmt.Sprintf("%d of %d sent to ingest", done.Applied, done.Rows), nil
		})
	sum.Override = &o
	writeJSON(w, http.StatusAccepted, sum)
}

// sendOfficial forwards the rows to ingest, four at a time.
func (s *Server) sendOfficial(ctx context.Context, u who, rows []OfficialRow, sum *UploadSummary) {
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := map[string]any{"official_id": row.OfficialID, "station_id": row.StationID, "ballot": row.Ballot,
				"ballots_cast": row.BallotsCast, "invalid": row.Invalid, "no_vote": row.NoVote, "votes": row.Votes}
			status, answer, err := s.postAs(ctx, u, "/v1/official", body)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				s.metrics.forwards.WithLabelValues("official", "error").Inc()
				sum.Failed = append(sum.Failed, fmt.Sprintf("%s:%d: station %s %s: ingest did not answer: %v", sum.File, row.Line, row.StationID, row.Ballot, err))
			case status >= 300:
				s.metrics.forwards.WithLabelValues("official", fmt.Sprint(status)).Inc()
				sum.Failed = append(sum.Failed, fmt.Sprintf("%s:%d: station %s %s: ingest answered %d %s", sum.File, row.Line, row.StationID, row.Ballot, status, strings.TrimSpace(string(answer))))
			default:
				s.metrics.forwards.WithLabelValues("official", fmt.Sprint(status)).Inc()
				sum.Applied++
			}
		}()
	}
	wg.Wait()
}

func sameFigures(a, b Figures) bool {
	if a.BallotsCast != b.BallotsCast || a.Invalid != b.Invalid || a.NoVote != b.NoVote {
		return false
	}
	nz := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	return maps.Equal(nz(a.Votes), nz(b.Votes))
}

type currentResult struct {
	Figures
	status string
}

// results reads the current consolidated figures of the rows' stations.
func (s *store) results(ctx context.Context, rows []OfficialRow) (map[string]currentResult, error) {
	ids := make([]string, 0, len(rows))
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.StationID] {
			seen[r.StationID] = true
			ids = append(ids, r.StationID)
		}
	}
	out := map[string]currentResult{}
	q, err := s.conn.Query(ctx, s.q(`SELECT station_id, ballot, status, ballots_cast, invalid, no_vote, vote_no, votes
		FROM {db}.station_results_current WHERE station_id IN `+inList(ids)))
	if err != nil {
		return nil, err
	}
	defer q.Close()
	for q.Next() {
		var (
			id, ballot, status string
			cast, invalid, noV uint32
			nos                []uint16
			vs                 []uint32
		)
		if err := q.Scan(&id, &ballot, &status, &cast, &invalid, &noV, &nos, &vs); err != nil {
			return nil, err
		}
		out[schemas.StationResultKey(id, ballot)] = currentResult{status: status,
			Figures: Figures{BallotsCast: int(cast), Invalid: int(invalid), NoVote: int(noV), Votes: votesOf(nos, vs)}}
	}
	return out, q.Err()
}
