package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Overrides are actions one person may not take alone: figures no volunteer sent, a
// `verified` that contradicts every source, a bulk import of official figures, and (the
// desk's) a retraction of a call. Each waits, pending, for a second member of the war room
// (another person) to approve it; only then does it take effect. Every step is audited in
// staff_actions with both names.
//
//	pending --approve (war room, not the requester)--> applied (or failed: ingest refused)
//	pending --reject (war room, or the requester withdrawing)--> rejected
//	pending --OverrideTTL passes--> expired
//
// The store is in memory: a console restart drops pending overrides (they are in
// staff_actions as requested, never as applied, and can be asked for again).

// Override kinds.
const (
	KindUnsourcedFigures  = "unsourced_figures"  // a lead's figures that match no volunteer's report
	KindVerifyContradicts = "verify_contradicts" // `verified` on figures every source contradicts
	KindOfficialImport    = "official_import"    // a bulk CSV of official figures
	KindRetraction        = "retraction"         // a retraction of a call (the decision desk's)
)

// Override states.
const (
	OverridePending  = "pending"
	OverrideApplied  = "applied"
	OverrideFailed   = "failed" // approved, but the action was refused when applied
	OverrideRejected = "rejected"
	OverrideExpired  = "expired"
)

// ApplyFunc carries an approved override out, as the approver (whose token reaches
// ingest); it returns a one-line outcome for the log, and an error when the action failed.
type ApplyFunc func(ctx context.Context, requester, approver who) (outcome string, err error)

// Override is one action waiting for, or past, its second approver.
type Override struct {
	ID             string    `json:"id"`
	Kind           string    `json:"kind"`
	State          string    `json:"state"`
	StationID      string    `json:"station_id,omitempty"`
	Ballot         string    `json:"ballot,omitempty"`
	ConstituencyID string    `json:"constituency_id,omitempty"`
	Summary        string    `json:"summary"` // what takes effect, for the approver
	Reason         string    `json:"reason"`
	RequestedBy    string    `json:"requested_by"`
	RequestedName  string    `json:"requested_name,omitempty"`
	RequestedRole  string    `json:"requested_role"`
	RequestedAt    time.Time `json:"requested_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedName    string    `json:"decided_name,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	Outcome        string    `json:"outcome,omitempty"`

	requester who
	apply     ApplyFunc
}

// OverrideRequest is what RequestOverride needs besides the requester and the action.
type OverrideRequest struct {
	Kind                              string
	StationID, Ballot, ConstituencyID string
	Summary, Reason                   string
}

type overrides struct {
	mu sync.Mutex
	m  map[string]*Override
}

// RequestOverride records a pending override and audits the request. p19a's retraction of
// a call plugs in here: build the retraction, and pass as apply the function that
// publishes it; it runs once another war room member approves.
func (s *Server) RequestOverride(ctx context.Context, u who, req OverrideRequest, apply ApplyFunc) Override {
	now := s.now()
	o := &Override{
		ID: uuid.NewString(), Kind: req.Kind, State: OverridePending, StationID: req.StationID, Ballot: req.Ballot,
		ConstituencyID: req.ConstituencyID, Summary: req.Summary, Reason: req.Reason,
		RequestedBy: u.VolunteerID, RequestedName: u.name, RequestedRole: u.Role, RequestedAt: now,
		ExpiresAt: now.Add(s.cfg.OverrideTTL), requester: u, apply: apply,
	}
	s.overrides.mu.Lock()
	if s.overrides.m == nil {
		s.overrides.m = map[string]*Override{}
	}
	s.overrides.m[o.ID] = o
	out := *o
	s.overrides.mu.Unlock()
	s.audit(ctx, u, o.audit("override_requested", "pending"))
	s.changedNow()
	return out
}

func (o *Override) audit(action, outcome string) Audit {
	return Audit{Action: action, What: o.Summary, StationID: o.StationID, Ballot: o.Ballot, OverrideID: o.ID,
		OverrideKind: o.Kind, RequestedBy: o.RequestedBy, ApprovedBy: o.approvedBy(), Outcome: outcome, Detail: o.Reason}
}

func (o *Override) approvedBy() string {
	if o.State == OverrideApplied || o.State == OverrideFailed {
		return o.DecidedBy
	}
	return ""
}

// expire marks pending overrides past their time; called with the lock held. It returns
// those it expired, for the audit.
func (s *Server) expireLocked(now time.Time) []Override {
	var out []Override
	for _, o := range s.overrides.m {
		if o.State == OverridePending && !now.Before(o.ExpiresAt) {
			o.State, o.DecidedAt, o.Outcome = OverrideExpired, now, "no second approver within "+s.cfg.OverrideTTL.String()
			out = append(out, *o)
		}
	}
	return out
}

func (s *Server) expireOverrides(ctx context.Context) {
	s.overrides.mu.Lock()
	gone := s.expireLocked(s.now())
	s.overrides.mu.Unlock()
	for i := range gone {
		s.audit(ctx, gone[i].requester, gone[i].audit("override_expired", OverrideExpired))
	}
}

// changedNow tells the live streams that something changed (the queue shows overrides).
func (s *Server) changedNow() {
	s.overrideSeq.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// handleOverrides: GET /v1/overrides?state=pending|all: newest first; the war room sees
// every override, a lead those of their constituency.
func (s *Server) handleOverrides(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	state := r.URL.Query().Get("state")
	if state != "" && state != "all" && state != OverridePending {
		writeError(w, apiErr(CodeInvalidValue, "state", "state %q: want pending or all", clip(state)))
		return
	}
	s.expireOverrides(r.Context())
	s.overrides.mu.Lock()
	list := []Override{}
	for _, o := range s.overrides.m {
		if (state == "" || state == OverridePending) && o.State != OverridePending {
			continue
		}
		if !u.warRoom() && o.ConstituencyID != u.Constituency {
			continue
		}
		list = append(list, *o)
	}
	s.overrides.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].RequestedAt.After(list[j].RequestedAt) })
	writeJSON(w, http.StatusOK, struct {
		Overrides []Override `json:"overrides"`
	}{list})
}

// handleOverrideDecision: POST /v1/overrides/{id}/approve or /reject {"reason": "..."}.
// Approving takes a war room member other than the requester; rejecting, a war room
// member or the requester (withdrawing).
func (s *Server) handleOverrideDecision(w http.ResponseWriter, r *http.Request) {
	u, ok := s.admit(w, r)
	if !ok {
		return
	}
	verb := r.PathValue("verb")
	if verb != "approve" && verb != "reject" {
		writeError(w, apiErr(CodeNotFound, "", "POST /v1/overrides/{id}/approve or /reject"))
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if b, _ := io.ReadAll(io.LimitReader(r.Body, 8192)); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			writeError(w, apiErr(CodeMalformedJSON, "", "send {\"reason\": \"...\"}"))
			return
		}
	}
	s.expireOverrides(r.Context())
	now := s.now()
	s.overrides.mu.Lock()
	o, found := s.overrides.m[r.PathValue("id")]
	var e *APIError
	switch {
	case !found:
		e = apiErr(CodeNotFound, "id", "no override %s", clip(r.PathValue("id")))
	case o.State != OverridePending:
		e = apiErr(CodeConflict, "id", "override %s is already %s", o.ID, o.State)
	case verb == "approve" && !u.warRoom():
		e = apiErr(CodeForbiddenRole, "", "only the war room approves overrides; your role is %s", u.Role)
	case verb == "approve" && samePerson(o.requester, u):
		e = apiErr(CodeSamePerson, "", "you asked for this override: another member of the war room must approve it")
	case verb == "reject" && !u.warRoom() && !samePerson(o.requester, u):
		e = apiErr(CodeForbiddenRole, "", "only the war room, or whoever asked for it, rejects an override")
	}
	if e != nil {
		s.overrides.mu.Unlock()
		s.refuse(w, r, u, stationOf(o), e)
		return
	}
	o.DecidedBy, o.DecidedName, o.DecidedAt = u.VolunteerID, u.name, now
	if verb == "reject" {
		o.State, o.Outcome = OverrideRejected, strings.TrimSpace(body.Reason)
		out := *o
		s.overrides.mu.Unlock()
		a := out.audit("override_rejected", OverrideRejected)
		a.Detail = out.Outcome
		s.audit(r.Context(), u, a)
		s.changedNow()
		writeJSON(w, http.StatusOK, out)
		return
	}
	// Taken out of pending before applying, so two approvers at once apply it once.
	o.State = "applying"
	requester, apply := o.requester, o.apply
	s.overrides.mu.Unlock()

	outcome, err := apply(r.Context(), requester, u)
	s.overrides.mu.Lock()
	o.State, o.Outcome = OverrideApplied, outcome
	if err != nil {
		o.State, o.Outcome = OverrideFailed, err.Error()
	}
	out := *o
	s.overrides.mu.Unlock()
	s.audit(r.Context(), u, out.audit("override_approved", out.State))
	s.audit(r.Context(), requester, out.audit("override_"+out.State, out.Outcome))
	s.changedNow()
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadGateway
	}
	writeJSON(w, status, out)
}

func stationOf(o *Override) string {
	if o == nil {
		return ""
	}
	return o.StationID
}

// samePerson: the same token holder, or two ids of one person (the roster's phone hash).
func samePerson(a, b who) bool {
	return a.VolunteerID == b.VolunteerID || a.Person != "" && a.Person == b.Person
}

// sourced reports whether f equals the figures of one of the item's sources.
func sourced(it *Item, f Figures) bool {
	return it != nil && slices.ContainsFunc(it.Sources, func(s Source) bool { return sameFigures(s.Figures, f) })
}

// applyReview is the ApplyFunc of an overriding decision: the review goes to ingest with
// the approver's token, both names in its reason, so reviews.v1 and ClickHouse's reviews
// hold them too.
func (s *Server) applyReview(id string, review map[string]any) ApplyFunc {
	return func(ctx context.Context, requester, approver who) (string, error) {
		r := make(map[string]any, len(review)+1)
		for k, v := range review {
			r[k] = v
		}
		r["reason"] = fmt.Sprintf("%s [override %s: requested by %s, approved by %s]", review["reason"], id, requester.VolunteerID, approver.VolunteerID)
		status, answer, err := s.postAs(ctx, approver, "/v1/reviews", r)
		if err != nil {
			s.metrics.forwards.WithLabelValues("review", "error").Inc()
			return "", fmt.Errorf("ingest did not answer: %w", err)
		}
		s.metrics.forwards.WithLabelValues("review", fmt.Sprint(status)).Inc()
		if status >= 300 {
			return "", fmt.Errorf("ingest answered %d %s", status, strings.TrimSpace(string(answer)))
		}
		return fmt.Sprintf("ingest answered %d", status), nil
	}
}
