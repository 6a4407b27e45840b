package ingest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/internal/refusals"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Refusals on refusals.v1 are a sample (internal/refusals): per source (the token's
// volunteer, or the client's address when no valid token came), refusalBurst at once and
// then one each refusalEvery; in all, refusalsPerSecond (burst refusalsBurst). Every
// refusal is still counted in the metrics. Publishing never waits: a full producer buffer
// (Kafka away) drops the record.
const (
	refusalBurst      = refusals.Burst
	refusalEvery      = refusals.Every
	refusalsPerSecond = refusals.PerSecond
	refusalsBurst     = refusals.GlobalBurst
	refusalMessageMax = refusals.MessageMax
)

// tryProducer is the non-blocking produce of *kgo.Client.
type tryProducer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

type refusalLog struct{ refusals.Sampler }

func (l *refusalLog) admit(source string, now time.Time) (ok bool, suppressed int) {
	return l.Admit(source, now)
}

// refusalItem is what a refused body said about itself, read leniently (it may be broken).
type refusalItem struct {
	StationID    string `json:"station_id"`
	SubmissionID string `json:"submission_id"`
	ReviewID     string `json:"review_id"`
	OfficialID   string `json:"official_id"`
}

func peekItem(body []byte) refusalItem {
	var it refusalItem
	_ = json.Unmarshal(body, &it) // a body that does not decode names nothing
	return it
}

// refused publishes (a sample of) one refusal. c is the token's claims when it verified
// (zero otherwise); station and id are what the refused item named, if anything.
func (s *Server) refused(r *http.Request, c token.Claims, e *APIError, station, id string) {
	if e == nil || e.Code == CodeRateLimited || e.Code == CodeStarting || e.Status() == http.StatusServiceUnavailable {
		return // our own limits and outages, not attempts anyone needs to follow up
	}
	tp, ok := s.prod.(tryProducer)
	if !ok {
		return
	}
	now := s.now()
	source := "volunteer:" + c.VolunteerID
	if c.VolunteerID == "" {
		source, _, _ = net.SplitHostPort(r.RemoteAddr)
		source = "addr:" + source
	}
	ok, suppressed := s.refusals.admit(source, now)
	if !ok {
		s.metrics.refusals.WithLabelValues("suppressed").Inc()
		return
	}
	ref := schemas.Refusal{
		RefusalID: uuid.NewString(), At: now.UTC(), Endpoint: r.URL.Path, Code: e.Code, Status: e.Status(),
		Message: clipBytes(e.Message, refusalMessageMax), Field: clipBytes(e.Field, 200),
		VolunteerID: c.VolunteerID, Org: c.Org, Role: c.Role, Suppressed: suppressed,
		SubmissionID: clipBytes(id, 200),
	}
	if st, ok := s.country.StationByID(station); ok {
		ref.StationID, ref.ConstituencyID = st.ID, st.ConstituencyID
	} else if c.Role == schemas.RoleDistrictLead {
		ref.ConstituencyID = c.Constituency
	}
	rec, err := kgorecord.New(s.cfg.TopicPrefix+schemas.TopicRefusals, ref)
	if err != nil {
		s.log.Warn("refusal not published", "err", err)
		return
	}
	tp.TryProduce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			s.metrics.refusals.WithLabelValues("dropped").Inc()
		}
	})
	s.metrics.refusals.WithLabelValues("published").Inc()
}

// clipBytes cuts s to at most n bytes on a rune boundary.
func clipBytes(s string, n int) string { return refusals.Clip(s, n) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// peekIncidentStation is the station a refused incident report named, if any.
func peekIncidentStation(body []byte) string { return peekItem(body).StationID }
