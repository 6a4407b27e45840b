package console

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Audit is one privileged action for the staff_actions table (0011_staff_actions.sql).
type Audit struct {
	Action       string // signed_in, sign_in_refused, signed_out, refused, decision, official_csv, override_requested, override_approved, override_rejected, override_expired, override_applied
	What         string // the request or a short description
	StationID    string
	Ballot       string
	OverrideID   string
	OverrideKind string
	RequestedBy  string
	ApprovedBy   string
	Outcome      string // ok, an error code, or ingest's HTTP status
	Detail       string
}

// audit records a privileged action: in the log at once, and in ClickHouse. A failed
// insert is logged as an error with the whole record, so the log collector still has it;
// the action itself is not undone.
func (s *Server) audit(ctx context.Context, u who, a Audit) {
	now := s.now()
	s.log.Info("console: audit", "action", a.Action, "who", u.VolunteerID, "name", u.name, "role", u.Role, "org", u.Org,
		"from", u.from, "what", a.What, "station", a.StationID, "ballot", a.Ballot, "override", a.OverrideID,
		"requested_by", a.RequestedBy, "approved_by", a.ApprovedBy, "outcome", a.Outcome, "at", now.UTC().Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.QueryTimeout)
	defer cancel()
	err := func() error {
		// A batch: ClickHouse 18.16 takes INSERT data over the native protocol only so.
		b, err := s.store.conn.PrepareBatch(ctx, s.store.q(`INSERT INTO {db}.staff_actions (action_id, at, actor_id,
			actor_name, actor_role, actor_org, token_id, remote_addr, action, what, station_id, ballot, override_id,
			override_kind, requested_by, approved_by, outcome, detail)`))
		if err != nil {
			return err
		}
		if err := b.Append(uuid.NewString(), now, u.VolunteerID, u.name, u.Role, u.Org, u.TokenID, u.from, a.Action, a.What,
			a.StationID, a.Ballot, a.OverrideID, a.OverrideKind, a.RequestedBy, a.ApprovedBy, a.Outcome, a.Detail); err != nil {
			_ = b.Abort()
			return err
		}
		return b.Send()
	}()
	if err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Error("console: audit not stored in ClickHouse", "action", a.Action, "who", u.VolunteerID, "err", err)
	}
}
