package schemas

import "time"

// Refusal is one request ingest (or the review console, endpoint "/console/...") refused
// (refusals.v1): a bad or expired token, a device
// that is not the token's, a station outside the token's scope, a count that does not add
// up. Keyed by station_id when the request named one, else "volunteer:<id>", else
// "unauthenticated". Ingest publishes a sample: at most a few per source (volunteer, or the
// client's address for a request without a valid token) per minute and a bounded number per
// second in all, so a flood costs Kafka nothing; Suppressed counts what a source's record
// stands for. It holds what a district lead or the war room needs to follow it up and no
// more: the token's volunteer id, organisation and role (never the token, the person hash,
// the client's address or the body).
type Refusal struct {
	RefusalID      string    `json:"refusal_id"`      // random UUID
	At             time.Time `json:"at"`              // ingest's clock
	Endpoint       string    `json:"endpoint"`        // the route: "/v1/submissions", "/v1/reviews", ...
	Code           string    `json:"code"`            // ingest's stable error code (docs/ingest.md)
	Status         int       `json:"status"`          // the HTTP status answered
	Message        string    `json:"message"`         // the message answered, at most 300 bytes
	Field          string    `json:"field,omitempty"` // the field at fault, if any
	StationID      string    `json:"station_id,omitempty"`
	ConstituencyID string    `json:"constituency_id,omitempty"` // the station's; else a lead token's own
	SubmissionID   string    `json:"submission_id,omitempty"`   // the id the refused item carried (submission, review or official id)
	VolunteerID    string    `json:"volunteer_id,omitempty"`    // empty when no valid token came with it
	Org            string    `json:"org,omitempty"`
	Role           string    `json:"role,omitempty"`
	// Suppressed is how many refusals of the same source were not published between the
	// source's previous record and this one (the rate limit).
	Suppressed int `json:"suppressed"`
}

// RefusalKey is the record key of a refusal.
func RefusalKey(r *Refusal) string {
	switch {
	case r.StationID != "":
		return r.StationID
	case r.VolunteerID != "":
		return "volunteer:" + r.VolunteerID
	}
	return "unauthenticated"
}
