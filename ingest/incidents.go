package ingest

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"votestream/schemas"
)

// incidentWire is the body of POST /v1/incidents (incident.v1#request).
type incidentWire struct {
	IncidentID *string  `json:"incident_id"`
	StationID  *string  `json:"station_id"`
	Category   *string  `json:"category"`
	OccurredAt *string  `json:"occurred_at"`
	Text       *string  `json:"text"`
	Evidence   []string `json:"evidence"`
}

const maxIncidentEvidence = 8

// handleIncident serves POST /v1/incidents: a critical incident at a station (the count
// stopped, observers expelled, ballots damaged, violence, other), written to incidents.v1,
// apart from the counts, and answered like a submission: 202 with a receipt once Kafka has
// it, the first receipt again for a retry with the same incident_id.
func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return
	}
	body, e := s.readJSONBody(w, r)
	var wire incidentWire
	if e == nil {
		e = decodeStrict(body, &wire)
	}
	var inc schemas.Incident
	if e == nil {
		inc, e = s.validIncident(&wire, now)
	}
	if e == nil {
		if st, _ := s.country.StationByID(inc.StationID); !s.coveredBy(c, st) && s.cfg.SpreadPolicy == SpreadRefuse {
			e = apiErr(CodeOutOfScope, "station_id", "station %s is outside your assignment", st.ID)
		}
	}
	if e != nil {
		s.metrics.items.WithLabelValues("incident", e.Code).Inc()
		s.refused(r, c, e, peekIncidentStation(body), "")
		writeError(w, e)
		return
	}
	hash := contentHash(inc)
	inc.VolunteerID, inc.Org, inc.Role, inc.ReceivedAt = c.VolunteerID, c.Org, c.Role, now.UTC()
	p := &pending{key: "incident/" + inc.IncidentID, receipt: schemas.Receipt{SubmissionID: inc.IncidentID, Hash: hash, ReceivedAt: inc.ReceivedAt}}
	p, e = s.claim(p, hash, c, schemas.TopicIncidents, inc, now)
	if e != nil {
		writeError(w, e)
		return
	}
	o := s.commit("incident", []*pending{p})[0]
	s.countOutcomes("incident", []outcome{o})
	s.writeOutcome(w, o)
}

// validIncident checks an incident against its schema and the reference data.
func (s *Server) validIncident(w *incidentWire, now time.Time) (schemas.Incident, *APIError) {
	var inc schemas.Incident
	switch {
	case w.IncidentID == nil:
		return inc, missing("incident_id")
	case w.StationID == nil:
		return inc, missing("station_id")
	case w.Category == nil:
		return inc, missing("category")
	case w.OccurredAt == nil:
		return inc, missing("occurred_at")
	case w.Text == nil:
		return inc, missing("text")
	}
	if e := checkUUID("incident_id", *w.IncidentID); e != nil {
		return inc, e
	}
	if e := checkID("station_id", *w.StationID); e != nil {
		return inc, e
	}
	if !slices.Contains(schemas.IncidentCategories, *w.Category) {
		return inc, apiErr(CodeInvalidValue, "category", "category %q: want one of %s", clip(*w.Category), strings.Join(schemas.IncidentCategories, ", "))
	}
	at, e := parseTime("occurred_at", *w.OccurredAt)
	if e != nil {
		return inc, e
	}
	if at.After(now.Add(s.cfg.MaxClockSkew)) {
		return inc, apiErr(CodeCountedAtFuture, "occurred_at", "occurred_at %s is in the future: check the phone's clock", at.Format("2006-01-02T15:04:05Z07:00"))
	}
	if !utf8.ValidString(*w.Text) || len(*w.Text) > maxReasonBytes {
		return inc, apiErr(CodeInvalidValue, "text", "text must be UTF-8 of at most %d bytes", maxReasonBytes)
	}
	if len(w.Evidence) > maxIncidentEvidence {
		return inc, apiErr(CodeInvalidValue, "evidence", "at most %d photos per incident", maxIncidentEvidence)
	}
	if e := checkEvidence(w.Evidence); e != nil {
		return inc, e
	}
	st, ok := s.country.StationByID(*w.StationID)
	if !ok {
		return inc, apiErr(CodeUnknownStation, "station_id", "station %s is not in the reference data", clip(*w.StationID))
	}
	ev := slices.Clone(w.Evidence)
	slices.Sort(ev)
	if ev == nil {
		ev = []string{}
	}
	return schemas.Incident{
		IncidentID: strings.ToLower(*w.IncidentID), StationID: st.ID, ConstituencyID: st.ConstituencyID,
		Category: *w.Category, OccurredAt: at.UTC(), Text: *w.Text, Evidence: ev,
	}, nil
}
