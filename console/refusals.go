package console

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Refused is one request ingest refused, as refusals.v1 sampled it (schemas.Refusal).
type Refused struct {
	RefusalID      string    `json:"refusal_id"`
	At             time.Time `json:"at"`
	Endpoint       string    `json:"endpoint"`
	Code           string    `json:"code"`
	Status         int       `json:"status"`
	Message        string    `json:"message"`
	Field          string    `json:"field,omitempty"`
	StationID      string    `json:"station_id,omitempty"`
	ConstituencyID string    `json:"constituency_id,omitempty"`
	SubmissionID   string    `json:"submission_id,omitempty"`
	VolunteerID    string    `json:"volunteer_id,omitempty"`
	Org            string    `json:"org,omitempty"`
	Role           string    `json:"role,omitempty"`
	Suppressed     int       `json:"suppressed"`
}

// handleRefusals: GET /v1/refusals?limit=N, newest first. The war room sees every refused
// request (those without a valid token too); a district lead those about a station of
// their constituency, or made with a lead token of it.
func (s *Server) handleRefusals(w http.ResponseWriter, r *http.Request) {
	serveScopedList(s, w, r, "refusals", s.store.refusals, func(out []Refused) any {
		return struct {
			Refusals []Refused `json:"refusals"`
		}{out}
	})
}

// refusals reads the newest refusals, of one constituency unless constituency is "".
func (s *store) refusals(ctx context.Context, constituency string, limit int) ([]Refused, error) {
	where := ""
	if constituency != "" {
		where = "WHERE constituency_id IN " + inList([]string{constituency})
	}
	rows, err := s.conn.Query(ctx, s.q(fmt.Sprintf(`SELECT refusal_id, at, endpoint, code, status, message, field,
		station_id, constituency_id, submission_id, volunteer_id, org, role, suppressed
		FROM {db}.refusals FINAL %s ORDER BY at DESC, refusal_id LIMIT %d`, where, limit)))
	if err != nil {
		return nil, fmt.Errorf("console: refusals: %w", err)
	}
	defer rows.Close()
	out := []Refused{}
	for rows.Next() {
		var (
			x          Refused
			status     uint16
			suppressed uint32
		)
		if err := rows.Scan(&x.RefusalID, &x.At, &x.Endpoint, &x.Code, &status, &x.Message, &x.Field, &x.StationID,
			&x.ConstituencyID, &x.SubmissionID, &x.VolunteerID, &x.Org, &x.Role, &suppressed); err != nil {
			return nil, fmt.Errorf("console: refusals: %w", err)
		}
		x.Status, x.Suppressed = int(status), int(suppressed)
		out = append(out, x)
	}
	return out, rows.Err()
}
