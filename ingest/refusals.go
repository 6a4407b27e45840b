package ingest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Refusals on refusals.v1 are a sample, so that an attacker hammering ingest with bad tokens
// cannot fill Kafka or the war room's table: per source (the token's volunteer, or the
// client's address when no valid token came), refusalBurst at once and then one each
// refusalEvery; in all, refusalsPerSecond (burst refusalsBurst). What is left out is counted
// and carried by the source's next record (Refusal.Suppressed), and every refusal is still
// counted in the metrics as before. Publishing never waits: a full producer buffer (Kafka
// away) drops the record.
const (
	refusalBurst      = 5
	refusalEvery      = 10 * time.Second
	refusalsPerSecond = 50
	refusalsBurst     = 200
	// refusalSources bounds the per-source table; past it the table starts again (a flood
	// from many addresses then meets the global limit alone).
	refusalSources = 50_000
	// refusalMessageMax clips the message kept (our own messages quote what was sent).
	refusalMessageMax = 300
)

// tryProducer is the non-blocking produce of *kgo.Client.
type tryProducer interface {
	TryProduce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

type refusalSource struct {
	lim        *rate.Limiter
	suppressed int
}

type refusalLog struct {
	mu      sync.Mutex
	sources map[string]*refusalSource
	global  *rate.Limiter
}

func (l *refusalLog) admit(source string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sources == nil || len(l.sources) >= refusalSources {
		l.sources = map[string]*refusalSource{}
	}
	if l.global == nil {
		l.global = rate.NewLimiter(refusalsPerSecond, refusalsBurst)
	}
	src := l.sources[source]
	if src == nil {
		src = &refusalSource{lim: rate.NewLimiter(rate.Every(refusalEvery), refusalBurst)}
		l.sources[source] = src
	}
	if !src.lim.AllowN(now, 1) || !l.global.AllowN(now, 1) {
		src.suppressed++
		return false, 0
	}
	suppressed, src.suppressed = src.suppressed, 0
	return true, suppressed
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
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// peekIncidentStation is the station a refused incident report named, if any.
func peekIncidentStation(body []byte) string { return peekItem(body).StationID }
