package console

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/refusals"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// The console's own refusals (bad sign-ins, forbidden roles, another constituency's
// stations, a decision without a reason...) go on refusals.v1 like ingest's, sampled the
// same way (internal/refusals) per staff member, or per client address without a valid
// sign-in; the endpoint is the console's path under "/console" ("/console/v1/session"), so
// the war room's table tells them from ingest's. Never the token, the sign-in code, the
// session, the client's address or the body. Only with --kafka; publishing never waits: a
// full buffer or Kafka away drops the record (counted).
type refusalPub struct {
	prod    *kgo.Client
	topic   string
	sampler refusals.Sampler
}

func newRefusalPub(cfg Config) (*refusalPub, error) {
	prod, err := kgo.NewClient(kgo.SeedBrokers(cfg.Seeds...), kgo.ProducerLinger(0))
	if err != nil {
		return nil, fmt.Errorf("console: refusals producer: %w", err)
	}
	return &refusalPub{prod: prod, topic: cfg.TopicPrefix + schemas.TopicRefusals}, nil
}

// publishRefusal sends (a sample of) one refusal; metrics.refusalsOut counts what became
// of it.
func (s *Server) publishRefusal(r *http.Request, u who, station string, e *APIError) {
	p := s.refusalPub
	if p == nil || e == nil {
		return
	}
	source := "staff:" + u.VolunteerID
	if u.VolunteerID == "" {
		source = "addr:" + clientAddr(r)
	}
	now := s.now()
	ok, suppressed := p.sampler.Admit(source, now)
	if !ok {
		s.metrics.refusalsOut.WithLabelValues("suppressed").Inc()
		return
	}
	ref := schemas.Refusal{
		RefusalID: uuid.NewString(), At: now.UTC(), Endpoint: refusals.Clip("/console"+r.URL.Path, 200), Code: e.Code,
		Status: e.Status(), Message: refusals.Clip(e.Message, refusals.MessageMax), Field: refusals.Clip(e.Field, 200),
		VolunteerID: u.VolunteerID, Org: u.Org, Role: u.Role, Suppressed: suppressed,
	}
	if st, ok := s.cfg.Country.StationByID(station); ok {
		ref.StationID, ref.ConstituencyID = st.ID, st.ConstituencyID
	} else if u.Role == schemas.RoleDistrictLead {
		ref.ConstituencyID = u.Constituency
	}
	rec, err := kgorecord.New(p.topic, ref)
	if err != nil {
		s.log.Warn("console: refusal not published", "err", err)
		return
	}
	p.prod.TryProduce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			s.metrics.refusalsOut.WithLabelValues("dropped").Inc()
		}
	})
	s.metrics.refusalsOut.WithLabelValues("published").Inc()
}
