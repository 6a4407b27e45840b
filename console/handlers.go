package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
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
	Name             string    `json:"name,omitempty"`
	Org              string    `json:"org"`
	Role             string    `json:"role"`
	Constituency     string    `json:"constituency,omitempty"`
	ConstituencyName string    `json:"constituency_name,omitempty"`
	ExpiresAt        time.Time `json:"expires_at"` // the token's expiry
	// SessionEnds is when the session ends if unused (idle limit) or at the latest
	// (absolute limit).
	SessionEnds time.Time `json:"session_ends"`
}

func (s *Server) sessionOf(u who) session {
	out := session{VolunteerID: u.VolunteerID, Name: u.name, Org: u.Org, Role: u.Role, Constituency: u.Constituency, ExpiresAt: u.ExpiresAt}
	if u.Constituency != "" {
		probe := Item{ConstituencyID: u.Constituency}
		s.store.describeStation(&probe)
		out.ConstituencyName = probe.ConstituencyName
	}
	s.sessions.mu.Lock()
	if st, ok := s.sessions.m[u.session]; ok {
		out.SessionEnds = s.expiry(st)
	}
	s.sessions.mu.Unlock()
	return out
}

// handleLogin: POST /v1/session {"token": "vt1...", "code": "123456"} checks the token
// (staff key), its holder's enrolment and the authenticator code, then opens a session:
// the cookie for browsers, and {"session": id} for scripts (Authorization: Bearer <id>).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
		Code  string `json:"code"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8192)).Decode(&body); err != nil {
		writeError(w, apiErr(CodeMalformedJSON, "", "send {\"token\": \"vt1....\", \"code\": \"123456\"}"))
		return
	}
	now := s.now()
	u, e := s.signIn(strings.TrimSpace(body.Token), body.Code, now)
	u.from = clientAddr(r)
	if e != nil {
		s.metrics.refused.WithLabelValues(e.Code).Inc()
		s.log.Warn("console: sign-in refused", "who", u.VolunteerID, "role", u.Role, "code", e.Code, "from", u.from)
		if u.VolunteerID != "" {
			s.audit(r.Context(), u, Audit{Action: "sign_in_refused", What: "POST /v1/session", Outcome: e.Code, Detail: e.Message})
		}
		s.publishRefusal(r, u, "", e)
		writeError(w, e)
		return
	}
	id := s.sessions.create(u, now)
	u.session = id
	s.audit(r.Context(), u, Audit{Action: "signed_in", What: "POST /v1/session", Outcome: "ok"})
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || s.cfg.SecureCookies,
	})
	out := struct {
		session
		Session string `json:"session"`
	}{s.sessionOf(u), id}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.sessionOf(u))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if u, e := s.authenticate(sessionID(r), s.now()); e == nil {
		u.from = clientAddr(r)
		s.sessions.drop(u.session)
		s.audit(r.Context(), u, Audit{Action: "signed_out", What: "DELETE /v1/session", Outcome: "ok"})
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || s.cfg.SecureCookies})
	w.WriteHeader(http.StatusNoContent)
}

// handleQueue: GET /v1/queue?constituency=&subdistrict=&province=&code=&status=&ballot=&cursor=&limit=
func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	q, f, ok := s.admitQueue(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
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

// admitQueue admits the request and reads its queue filter (queueRequest); on refusal it
// has answered and returns false.
func (s *Server) admitQueue(w http.ResponseWriter, r *http.Request) (*Queue, Filter, bool) {
	u, ok := s.admit(w, r)
	if !ok {
		return nil, Filter{}, false
	}
	return s.queueRequest(w, r, u)
}

// queueRequest reads the queue's filter from a request and scopes it to the person: the
// queue now and the filter, or false when it answered already.
func (s *Server) queueRequest(w http.ResponseWriter, r *http.Request, u who) (*Queue, Filter, bool) {
	q := s.queue.Load()
	if q == nil {
		w.Header().Set("Retry-After", "2")
		writeError(w, apiErr(CodeNotReady, "", "the queue has not been read from ClickHouse yet; retry in a moment"))
		return nil, Filter{}, false
	}
	v := r.URL.Query()
	f := Filter{Constituency: v.Get("constituency"), Subdistrict: v.Get("subdistrict"), Province: v.Get("province"),
		Code: v.Get("code"), Status: v.Get("status"), Ballot: v.Get("ballot")}
	if e := s.checkFilter(f); e != nil {
		writeError(w, e)
		return nil, Filter{}, false
	}
	if !u.warRoom() {
		if f.Constituency != "" && f.Constituency != u.Constituency {
			s.refuse(w, r, u, "", apiErr(CodeOutOfScope, "constituency", "your token is for constituency %s, not %s", u.Constituency, f.Constituency))
			return nil, Filter{}, false
		}
		f.Constituency = u.Constituency
	}
	if f.Subdistrict != "" && f.Constituency == "" {
		writeError(w, apiErr(CodeInvalidValue, "subdistrict", "a subdistrict needs its constituency: names repeat across constituencies"))
		return nil, Filter{}, false
	}
	return q, f, true
}

func (s *Server) checkFilter(f Filter) *APIError {
	c := s.cfg.Country
	if len(f.Subdistrict) > 200 {
		return apiErr(CodeInvalidValue, "subdistrict", "subdistrict %q is too long", clip(f.Subdistrict))
	}
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
	var sent, sentOv uint64
	for {
		s.mu.Lock()
		ch, closing := s.changed, s.closing
		s.mu.Unlock()
		if closing {
			return
		}
		// The queue changed, or an override came or went (the war room's list of them).
		if q, ov := s.queue.Load(), s.overrideSeq.Load(); q != nil && (q.Seq != sent || ov != sentOv) {
			sent, sentOv = q.Seq, ov
			if _, err := fmt.Fprintf(w, "event: queue\nid: %d\ndata: {\"seq\":%d,\"open\":%d,\"overrides_seq\":%d}\n\n", q.Seq, q.Seq, len(q.Items), ov); err != nil {
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
		s.refuse(w, r, u, st.ID, apiErr(CodeOutOfScope, "id", "station %s is in constituency %s; your token is for %s", st.ID, st.ConstituencyID, u.Constituency))
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
			s.refuse(w, r, u, "", apiErr(CodeOutOfScope, "ref", "no report from constituency %s cites this photo", u.Constituency))
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
		s.refuse(w, r, u, d.StationID, e)
		return
	}
	if kind, summary := s.overrideKind(d); kind != "" {
		id := review["review_id"].(string)
		st, _ := s.cfg.Country.StationByID(d.StationID)
		o := s.RequestOverride(r.Context(), u, OverrideRequest{Kind: kind, StationID: st.ID, Ballot: d.Ballot,
			ConstituencyID: st.ConstituencyID, Summary: summary, Reason: strings.TrimSpace(d.Reason)}, s.applyReview(id, review))
		writeJSON(w, http.StatusAccepted, struct {
			Override Override `json:"override"`
			Message  string   `json:"message"`
		}{o, "this decision overrides every volunteer's report: it takes effect once another member of the war room approves it"})
		return
	}
	s.audit(r.Context(), u, Audit{Action: "decision", What: d.Action, StationID: d.StationID, Ballot: d.Ballot, Detail: strings.TrimSpace(d.Reason)})
	s.forward(w, r, u, "/v1/reviews", "review", review)
}

// figuresText writes figures as a person reads them: "cast 560, invalid 6, no vote 4; 1: 300, 2: 200".
func figuresText(f Figures) string {
	nos := make([]string, 0, len(f.Votes))
	for no := range f.Votes {
		nos = append(nos, no)
	}
	sort.Slice(nos, func(i, j int) bool {
		a, _ := strconv.Atoi(nos[i])
		b, _ := strconv.Atoi(nos[j])
		return a < b
	})
	votes := make([]string, len(nos))
	for i, no := range nos {
		votes[i] = fmt.Sprintf("%s: %d", no, f.Votes[no])
	}
	return fmt.Sprintf("cast %d, invalid %d, no vote %d; %s", f.BallotsCast, f.Invalid, f.NoVote, strings.Join(votes, ", "))
}

// overrideKind tells whether a decision needs a second approver: corrected figures that
// match no source, or `verify` of figures every source contradicts.
func (s *Server) overrideKind(d decisionWire) (kind, summary string) {
	it := s.openItem(schemas.StationResultKey(d.StationID, d.Ballot))
	switch d.Action {
	case "correct":
		if !sourced(it, *d.Figures) {
			return KindUnsourcedFigures, fmt.Sprintf("station %s %s: figures no volunteer sent: %s", d.StationID, d.Ballot, figuresText(*d.Figures))
		}
	case "verify":
		if it != nil && len(it.Sources) > 0 && !sourced(it, it.Result) {
			return KindVerifyContradicts, fmt.Sprintf("station %s %s: verify figures every source contradicts: %s", d.StationID, d.Ballot, figuresText(it.Result))
		}
	}
	return "", ""
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
	return s.postAs(r.Context(), u, path, body)
}

// postAs posts body to ingest with u's token, signed with the console key: ingest takes a
// privileged token's decision only so (CONSOLE_ONLY), since only here were u's second
// factor and, for an override, the second approver checked.
func (s *Server) postAs(ctx context.Context, u who, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.IngestURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.raw)
	if s.signer != nil {
		s.signer.Sign(req, path, b, s.now())
	}
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

// handleDecisionLog: GET /v1/decisions?limit=: the newest decisions (reviews), newest
// first, as ingest recorded them: all of them for the war room, a lead's constituency's
// for a lead.
func (s *Server) handleDecisionLog(w http.ResponseWriter, r *http.Request) {
	serveScopedList(s, w, r, "decision log", s.store.decisionLog, func(log []LoggedDecision) any {
		return struct {
			Decisions []LoggedDecision `json:"decisions"`
		}{log}
	})
}

// serveScopedList answers a newest-first list read from ClickHouse within the caller's
// scope: everything for the war room, their constituency for a lead; ?limit= from 1 to
// PageMax, default 200.
func serveScopedList[T any](s *Server, w http.ResponseWriter, r *http.Request, what string,
	read func(ctx context.Context, constituency string, limit int) ([]T, error), answer func([]T) any) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	limit := 200
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > s.cfg.PageMax {
			writeError(w, apiErr(CodeInvalidValue, "limit", "limit must be 1-%d", s.cfg.PageMax))
			return
		}
		limit = n
	}
	cons := ""
	if !u.warRoom() {
		cons = u.Constituency
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.QueryTimeout)
	defer cancel()
	out, err := read(ctx, cons, limit)
	if err != nil {
		s.log.Error("console: "+what, "err", err)
		writeError(w, &APIError{Code: CodeUpstream, Message: "ClickHouse did not answer; retry in a moment"})
		return
	}
	writeJSON(w, http.StatusOK, answer(out))
}
