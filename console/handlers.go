package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"votestream/election"
	"votestream/schemas"
)

// session is what the console tells the browser about who signed in.
type session struct {
	VolunteerID      string    `json:"volunteer_id"`
	Org              string    `json:"org"`
	Role             string    `json:"role"`
	Constituency     string    `json:"constituency,omitempty"`
	ConstituencyName string    `json:"constituency_name,omitempty"`
	ExpiresAt        time.Time `json:"expires_at"`
}

func (s *Server) sessionOf(u who) session {
	out := session{VolunteerID: u.VolunteerID, Org: u.Org, Role: u.Role, Constituency: u.Constituency, ExpiresAt: u.ExpiresAt}
	if u.Constituency != "" {
		probe := Item{ConstituencyID: u.Constituency}
		s.store.describeStation(&probe)
		out.ConstituencyName = probe.ConstituencyName
	}
	return out
}

// handleLogin: POST /v1/session {"token": "..."} checks the token and sets the session
// cookie, valid until the token expires.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8192)).Decode(&body); err != nil {
		writeError(w, apiErr(CodeMalformedJSON, "", "send {\"token\": \"vt1....\"}"))
		return
	}
	u, e := s.authenticate(strings.TrimSpace(body.Token), s.now())
	if e != nil {
		s.metrics.refused.WithLabelValues(e.Code).Inc()
		writeError(w, e)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: u.raw, Path: "/", Expires: u.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	writeJSON(w, http.StatusOK, s.sessionOf(u))
}

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.sessionOf(u))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// handleQueue: GET /v1/queue?constituency=&province=&code=&status=&ballot=&cursor=&limit=
func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	q := s.queue.Load()
	if q == nil {
		w.Header().Set("Retry-After", "2")
		writeError(w, apiErr(CodeNotReady, "", "the queue has not been read from ClickHouse yet; retry in a moment"))
		return
	}
	v := r.URL.Query()
	f := Filter{Constituency: v.Get("constituency"), Province: v.Get("province"), Code: v.Get("code"),
		Status: v.Get("status"), Ballot: v.Get("ballot")}
	if e := s.checkFilter(f); e != nil {
		writeError(w, e)
		return
	}
	if !u.warRoom() {
		if f.Constituency != "" && f.Constituency != u.Constituency {
			s.metrics.refused.WithLabelValues(CodeOutOfScope).Inc()
			writeError(w, apiErr(CodeOutOfScope, "constituency", "your token is for constituency %s, not %s", u.Constituency, f.Constituency))
			return
		}
		f.Constituency = u.Constituency
	}
	limit := 50
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > s.cfg.PageMax {
			writeError(w, apiErr(CodeInvalidValue, "limit", "limit must be 1-%d", s.cfg.PageMax))
			return
		}
		limit = n
	}
	body, err := q.PageJSON(f, v.Get("cursor"), limit)
	if err != nil {
		writeError(w, apiErr(CodeInvalidValue, "cursor", "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

func (s *Server) checkFilter(f Filter) *APIError {
	c := s.cfg.Country
	if f.Constituency != "" {
		if _, ok := c.Constituency(f.Constituency); !ok {
			return apiErr(CodeInvalidValue, "constituency", "constituency %q is not in the reference data", clip(f.Constituency))
		}
	}
	if f.Province != "" {
		if _, ok := c.Province(f.Province); !ok {
			return apiErr(CodeInvalidValue, "province", "province %q is not in the reference data", clip(f.Province))
		}
	}
	if f.Code != "" && !contains(schemas.AnomalyCodes, f.Code) {
		return apiErr(CodeInvalidValue, "code", "code %q is not an anomaly code (%s)", clip(f.Code), strings.Join(schemas.AnomalyCodes, ", "))
	}
	switch schemas.Status(f.Status) {
	case "", "flagged", "escalated", schemas.StatusDisputed, schemas.StatusProvisional, schemas.StatusCorroborated:
	default:
		return apiErr(CodeInvalidValue, "status", "status %q: want disputed, flagged, escalated, provisional or corroborated", clip(f.Status))
	}
	if f.Ballot != "" && !election.Ballot(f.Ballot).Valid() {
		return apiErr(CodeInvalidValue, "ballot", "ballot %q: want constituency or partylist", clip(f.Ballot))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// handleEvents: GET /v1/queue/events, Server-Sent Events: an event "queue" with the queue's
// seq whenever it changed (and once at once); the browser then re-reads its page.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.admit(w, r); !ok {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, apiErr(CodeUpstream, "", "streaming unsupported"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	var sent uint64
	for {
		s.mu.Lock()
		ch, closing := s.changed, s.closing
		s.mu.Unlock()
		if closing {
			return
		}
		if q := s.queue.Load(); q != nil && q.Seq != sent {
			sent = q.Seq
			if _, err := fmt.Fprintf(w, "event: queue\nid: %d\ndata: {\"seq\":%d,\"open\":%d}\n\n", q.Seq, q.Seq, len(q.Items)); err != nil {
				return
			}
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			if r.Context().Err() != nil {
				return
			}
		case <-hb.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// handleStation: GET /v1/stations/{id}: the station page.
func (s *Server) handleStation(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	st, ok := s.cfg.Country.StationByID(r.PathValue("id"))
	if !ok {
		writeError(w, apiErr(CodeNotFound, "id", "station %q is not in the reference data", clip(r.PathValue("id"))))
		return
	}
	if !u.mayOpen(st.ConstituencyID) {
		s.metrics.refused.WithLabelValues(CodeOutOfScope).Inc()
		writeError(w, apiErr(CodeOutOfScope, "id", "station %s is in constituency %s; your token is for %s", st.ID, st.ConstituencyID, u.Constituency))
		return
	}
	open := map[string]*Item{}
	if q := s.queue.Load(); q != nil {
		for i := range q.Items {
			if q.Items[i].StationID == st.ID {
				it := q.Items[i]
				open[it.Ballot] = &it
			}
		}
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.QueryTimeout)
	defer cancel()
	v, err := s.store.station(ctx, st, open)
	if err != nil {
		s.log.Error("console: station page", "station", st.ID, "err", err)
		w.Header().Set("Retry-After", "2")
		writeError(w, &APIError{Code: CodeUpstream, Message: "ClickHouse did not answer; retry in a moment"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// handleEvidence: GET /v1/evidence/sha256:<hex> for the war room, and for the lead of a
// station whose report cites it. Photos never change (the name is the content's hash), so
// they are cached for a year, privately: they are not for shared caches.
func (s *Server) handleEvidence(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("ref")
	digest, ok := parseRef(ref)
	if !ok {
		writeError(w, apiErr(CodeInvalidValue, "ref", "the path must end in sha256: and 64 lowercase hex digits"))
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.QueryTimeout)
	defer cancel()
	if !u.warRoom() {
		cited, err := s.store.citedIn(ctx, ref, s.cfg.Country.StationsIn(u.Constituency))
		if err != nil {
			s.log.Error("console: evidence scope", "err", err)
			writeError(w, &APIError{Code: CodeUpstream, Message: "ClickHouse did not answer; retry in a moment"})
			return
		}
		if !cited {
			// The same answer whether or not the photo exists: a lead learns nothing of
			// other constituencies' evidence.
			s.metrics.refused.WithLabelValues(CodeOutOfScope).Inc()
			writeError(w, apiErr(CodeOutOfScope, "ref", "no report from constituency %s cites this photo", u.Constituency))
			return
		}
	}
	if r.Header.Get("If-None-Match") == `"`+digest+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	rc, n, err := s.photos.Open(r.Context(), digest)
	if errors.Is(err, ErrNotFound) {
		writeError(w, apiErr(CodeNotFound, "ref", "no photo %s is stored (yet: a volunteer on a poor link may send it later)", ref))
		return
	}
	if err != nil {
		s.log.Error("console: evidence store", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, &APIError{Code: CodeUpstream, Message: "the evidence store failed; retry in a moment"})
		return
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	head, _ := br.Peek(8)
	h := w.Header()
	h.Set("Content-Type", photoType(head))
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("ETag", `"`+digest+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, br)
}

// decisionWire is POST /v1/decisions: what a lead decided in the console.
type decisionWire struct {
	// DecisionID becomes the review_id: the browser makes it once per decision, so a
	// double click or a retry is one review.
	DecisionID string `json:"decision_id"`
	StationID  string `json:"station_id"`
	Ballot     string `json:"ballot"`
	// Action: "accept" (SubmissionID's figures are right), "correct" (Figures are),
	// "verify" (the consolidated figures are right), "escalate" (the war room should decide).
	Action       string   `json:"action"`
	SubmissionID string   `json:"submission_id,omitempty"`
	Figures      *Figures `json:"figures,omitempty"`
	Reason       string   `json:"reason"`
}

// handleDecision turns a decision into ingest's review and forwards it with the lead's
// token; ingest checks, scopes, records (reviews.v1, then ClickHouse) and answers.
func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	var d decisionWire
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		writeError(w, apiErr(CodeMalformedJSON, "", "the decision is not valid JSON: %v", err))
		return
	}
	review, e := s.reviewOf(u, d)
	if e != nil {
		if e.Code == CodeOutOfScope {
			s.metrics.refused.WithLabelValues(e.Code).Inc()
		}
		writeError(w, e)
		return
	}
	s.forward(w, r, u, "/v1/reviews", "review", review)
}

func (s *Server) reviewOf(u who, d decisionWire) (map[string]any, *APIError) {
	switch {
	case strings.TrimSpace(d.Reason) == "":
		return nil, apiErr(CodeMissingField, "reason", "every decision needs a reason")
	case d.StationID == "":
		return nil, apiErr(CodeMissingField, "station_id", "station_id is required")
	case !election.Ballot(d.Ballot).Valid():
		return nil, apiErr(CodeInvalidValue, "ballot", "ballot %q: want constituency or partylist", clip(d.Ballot))
	}
	st, ok := s.cfg.Country.StationByID(d.StationID)
	if !ok {
		return nil, apiErr(CodeNotFound, "station_id", "station %q is not in the reference data", clip(d.StationID))
	}
	if !u.mayOpen(st.ConstituencyID) {
		return nil, apiErr(CodeOutOfScope, "station_id", "station %s is outside constituency %s", st.ID, u.Constituency)
	}
	id := d.DecisionID
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return nil, apiErr(CodeInvalidValue, "decision_id", "decision_id must be a UUID")
	}
	review := map[string]any{"review_id": id, "station_id": st.ID, "ballot": d.Ballot, "reason": strings.TrimSpace(d.Reason)}
	putFigures := func(f *Figures) {
		review["ballots_cast"], review["invalid"], review["no_vote"], review["votes"] = f.BallotsCast, f.Invalid, f.NoVote, f.Votes
	}
	switch d.Action {
	case "accept":
		if d.SubmissionID == "" {
			return nil, apiErr(CodeMissingField, "submission_id", "accept needs the submission_id of the source you accept")
		}
		review["accept_submission_id"] = d.SubmissionID
	case "correct":
		if d.Figures == nil || d.Figures.Votes == nil {
			return nil, apiErr(CodeMissingField, "figures", "correct needs the figures: ballots_cast, invalid, no_vote and votes")
		}
		putFigures(d.Figures)
	case "verify":
		it := s.openItem(schemas.StationResultKey(st.ID, d.Ballot))
		if it == nil {
			return nil, apiErr(CodeNotFound, "station_id", "station %s has no open %s item to verify; reload the station", st.ID, d.Ballot)
		}
		putFigures(&it.Result)
	case "escalate":
		review["escalate"] = true
	default:
		return nil, apiErr(CodeInvalidValue, "action", "action %q: want accept, correct, verify or escalate", clip(d.Action))
	}
	return review, nil
}

func (s *Server) openItem(key string) *Item {
	q := s.queue.Load()
	if q == nil {
		return nil
	}
	for i := range q.Items {
		if q.Items[i].Key == key {
			it := q.Items[i]
			return &it
		}
	}
	return nil
}

// forward posts body to ingest with the lead's token and relays ingest's answer.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, u who, path, kind string, body any) {
	status, answer, err := s.post(r, u, path, body)
	if err != nil {
		s.metrics.forwards.WithLabelValues(kind, "error").Inc()
		s.log.Error("console: forward to ingest", "path", path, "err", err)
		w.Header().Set("Retry-After", "2")
		writeError(w, &APIError{Code: CodeUpstream, Message: "ingest did not answer; your decision was not recorded, send it again"})
		return
	}
	s.metrics.forwards.WithLabelValues(kind, strconv.Itoa(status)).Inc()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (s *Server) post(r *http.Request, u who, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, strings.TrimRight(s.cfg.IngestURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.raw)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, answer, nil
}
