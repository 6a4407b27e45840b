package ingest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
)

// Claims before the day ("I guard this station"), check-ins on the night, and stations moved
// to another volunteer: each is one fieldwork.v1 event, so every ingest process agrees on
// them (fieldwork.go).

// claimWire is the body of POST /v1/claims.
type claimWire struct {
	EventID   *string `json:"event_id"`
	StationID *string `json:"station_id"`
	Withdraw  bool    `json:"withdraw"`
}

// checkinWire is the body of POST /v1/checkins.
type checkinWire struct {
	EventID   *string `json:"event_id"`
	StationID *string `json:"station_id"`
}

// assignWire is the body of POST /v1/assignments.
type assignWire struct {
	EventID     *string `json:"event_id"`
	StationID   *string `json:"station_id"`
	VolunteerID *string `json:"volunteer_id"`
	Org         *string `json:"org"`
}

// fieldRequest authenticates, checks the fieldwork state is loaded and decodes the body into
// v. On refusal it has written the answer.
func (s *Server) fieldRequest(w http.ResponseWriter, r *http.Request, v any) (token.Claims, time.Time, bool) {
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return c, now, false
	}
	if e := s.fieldReady(); e != nil {
		s.writeFieldError(w, e)
		return c, now, false
	}
	body, e := s.readJSONBody(w, r)
	if e == nil {
		e = decodeStrict(body, v)
	}
	if e != nil {
		writeError(w, e)
		return c, now, false
	}
	return c, now, true
}

// eventStation checks an event id and a station id.
func (s *Server) eventStation(eventID, stationID *string) (election.Station, *APIError) {
	switch {
	case eventID == nil:
		return election.Station{}, missing("event_id")
	case stationID == nil:
		return election.Station{}, missing("station_id")
	}
	if e := checkUUID("event_id", *eventID); e != nil {
		return election.Station{}, e
	}
	if e := checkID("station_id", *stationID); e != nil {
		return election.Station{}, e
	}
	st, ok := s.country.StationByID(*stationID)
	if !ok {
		return st, apiErr(CodeUnknownStation, "station_id", "station %s is not in the reference data", clip(*stationID))
	}
	return st, nil
}

// homeConstituencies are the constituencies of a station volunteer's roster stations: where
// they may claim.
func (s *Server) homeConstituencies(c token.Claims) []string {
	var out []string
	for _, id := range c.Stations {
		if st, ok := s.country.StationByID(id); ok && !slices.Contains(out, st.ConstituencyID) {
			out = append(out, st.ConstituencyID)
		}
	}
	return out
}

// handleClaim serves POST /v1/claims: a station volunteer claims a station of their own
// constituency (201, or 409 STATION_FULL when ClaimCap volunteers already hold it), or
// withdraws a claim ("withdraw": true, 200). A retry with the same event_id gets the same
// answer.
func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request) {
	var wire claimWire
	c, now, ok := s.fieldRequest(w, r, &wire)
	if !ok {
		return
	}
	st, e := s.eventStation(wire.EventID, wire.StationID)
	if e == nil && c.Role != schemas.RoleStation {
		e = apiErr(CodeForbiddenRole, "", "only station volunteers claim stations; your role is %s", c.Role)
	}
	if e == nil && !slices.Contains(s.homeConstituencies(c), st.ConstituencyID) {
		e = apiErr(CodeOutOfScope, "station_id", "station %s is outside your constituency", st.ID)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	id := strings.ToLower(*wire.EventID)
	ev := &schemas.FieldEvent{
		EventID: id, Kind: schemas.FieldClaim, VolunteerID: c.VolunteerID, Org: c.Org,
		StationID: st.ID, ConstituencyID: st.ConstituencyID, Status: schemas.ClaimRequested, At: now.UTC(),
	}
	if wire.Withdraw {
		ev.Kind, ev.Status = schemas.FieldUnclaim, ""
		if e := s.logField(r.Context(), ev); e != nil {
			s.writeFieldError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, s.claimAnswer(st.ID, "withdrawn"))
		return
	}
	if _, done := s.field.decision(id); !done {
		if e := s.logField(r.Context(), ev); e != nil {
			s.writeFieldError(w, e)
			return
		}
	}
	d, _ := s.field.decision(id)
	// The outcome for ClickHouse and coverage; the decision itself is the request's place in
	// the log, so losing this record loses no state (the retry writes it again).
	out := *ev
	out.Status, out.At = d, s.now().UTC()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ProduceTimeout)
	if _, err := s.fieldLog.append(ctx, &out); err != nil {
		s.log.Warn("ingest: claim outcome not logged", "event_id", id, "err", err)
	}
	cancel()
	if d == schemas.ClaimRefused {
		writeError(w, apiErr(CodeStationFull, "station_id", "station %s already has %d volunteers who claimed it", st.ID, s.cfg.ClaimCap))
		return
	}
	writeJSON(w, http.StatusCreated, s.claimAnswer(st.ID, d))
}

func (s *Server) claimAnswer(station, status string) map[string]any {
	return map[string]any{"station_id": station, "status": status, "claims": len(s.field.stationClaims(station)), "cap": s.cfg.ClaimCap}
}

// claimableStation is one station of GET /v1/claims.
type claimableStation struct {
	ID          string `json:"id"`
	Number      int    `json:"number"`
	Subdistrict string `json:"subdistrict"`
	Claims      int    `json:"claims"`
	Mine        bool   `json:"mine"`
	Roster      bool   `json:"roster"` // in the volunteer's own assignment already
}

// handleClaimable serves GET /v1/claims: the stations of the volunteer's constituencies, with
// how many volunteers claimed each and whether the caller did.
func (s *Server) handleClaimable(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return
	}
	if e := s.fieldReady(); e != nil {
		s.writeFieldError(w, e)
		return
	}
	out := []claimableStation{}
	for _, con := range s.homeConstituencies(c) {
		for _, st := range s.country.StationsIn(con) {
			holders := s.field.stationClaims(st.ID)
			out = append(out, claimableStation{
				ID: st.ID, Number: st.Number, Subdistrict: st.Subdistrict, Claims: len(holders),
				Mine: slices.Contains(holders, c.VolunteerID), Roster: slices.Contains(c.Stations, st.ID),
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cap": s.cfg.ClaimCap, "stations": out})
}

// handleCheckin serves POST /v1/checkins: the volunteer arrived at a station they cover. 202.
func (s *Server) handleCheckin(w http.ResponseWriter, r *http.Request) {
	var wire checkinWire
	c, now, ok := s.fieldRequest(w, r, &wire)
	if !ok {
		return
	}
	st, e := s.eventStation(wire.EventID, wire.StationID)
	if e == nil && !s.coveredBy(c, st) {
		e = apiErr(CodeOutOfScope, "station_id", "station %s is not yours: ask your coordinator to move it to you", st.ID)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	ev := &schemas.FieldEvent{
		EventID: strings.ToLower(*wire.EventID), Kind: schemas.FieldCheckin, VolunteerID: c.VolunteerID, Org: c.Org,
		StationID: st.ID, ConstituencyID: st.ConstituencyID, At: now.UTC(),
	}
	if e := s.logField(r.Context(), ev); e != nil {
		s.writeFieldError(w, e)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"station_id": st.ID, "checked_in_at": ev.At})
}

// handleAssign serves POST /v1/assignments: a district lead (own constituency) or the war
// room moves a station to a volunteer, who may then report on it without a SPREAD flag and
// sees it in the form. 202.
func (s *Server) handleAssign(w http.ResponseWriter, r *http.Request) {
	var wire assignWire
	c, now, ok := s.fieldRequest(w, r, &wire)
	if !ok {
		return
	}
	st, e := s.eventStation(wire.EventID, wire.StationID)
	switch {
	case e != nil:
	case requireLead(c) != nil:
		e = requireLead(c)
	case !inScope(c, st):
		e = apiErr(CodeOutOfScope, "station_id", "station %s is outside constituency %s", st.ID, c.Constituency)
	case wire.VolunteerID == nil:
		e = missing("volunteer_id")
	case wire.Org == nil:
		e = missing("org")
	case *wire.VolunteerID == "" || len(*wire.VolunteerID) > 128 || *wire.Org == "" || len(*wire.Org) > 128:
		e = apiErr(CodeInvalidValue, "volunteer_id", "volunteer_id and org must be 1-128 characters, as the tokens file lists them")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	ev := &schemas.FieldEvent{
		EventID: strings.ToLower(*wire.EventID), Kind: schemas.FieldAssign, VolunteerID: *wire.VolunteerID, Org: *wire.Org,
		StationID: st.ID, ConstituencyID: st.ConstituencyID, By: c.VolunteerID, At: now.UTC(),
	}
	if e := s.logField(r.Context(), ev); e != nil {
		s.writeFieldError(w, e)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"station_id": st.ID, "volunteer_id": ev.VolunteerID})
}
