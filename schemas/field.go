package schemas

import "time"

// Field event kinds (FieldEvent.Kind): what happens to volunteers and stations around the
// counts, on fieldwork.v1.
const (
	FieldActivate = "activate" // a personal link bound to a device key (FieldEvent.DeviceKey)
	FieldReissue  = "reissue"  // an organisation issued the volunteer a new link: older tokens stop working
	FieldClaim    = "claim"    // a volunteer guards a station before the day (Status says the outcome)
	FieldUnclaim  = "unclaim"  // the volunteer withdrew a claim
	FieldCheckin  = "checkin"  // the volunteer arrived at the station
	FieldAssign   = "assign"   // a lead or the war room moved a station to another volunteer
)

// Claim statuses (FieldEvent.Status of a claim).
const (
	ClaimRequested = "requested" // produced, not yet decided
	ClaimAccepted  = "accepted"  // within the station's cap, in log order
	ClaimRefused   = "refused"   // the station already had its cap of volunteers
)

// FieldEvent is one record of fieldwork.v1: a single-partition log, kept for the whole
// election (no compaction, no time limit), that every ingest process reads from the start
// when it starts and follows afterwards. Its order is the order of decisions: the first
// activation of a token wins, and a claim is within the cap if fewer claims were active
// before it in the log. Keyed by volunteer_id.
type FieldEvent struct {
	EventID     string `json:"event_id"`     // UUID; a retry of the same request reuses it
	Kind        string `json:"kind"`         // Field*
	VolunteerID string `json:"volunteer_id"` // whom it is about (the claimer, the new assignee, the bound token's holder)
	Org         string `json:"org"`
	TokenID     string `json:"token_id,omitempty"`   // activate, reissue: the token concerned
	StationID   string `json:"station_id,omitempty"` // claim, unclaim, checkin, assign
	// ConstituencyID is the station's constituency (claim, unclaim, checkin, assign), for
	// chase lists and coverage without a join.
	ConstituencyID string `json:"constituency_id,omitempty"`
	// DeviceKey is the device's ECDSA P-256 public key (activate) as base64url of the
	// uncompressed point (65 bytes), the form WebCrypto exports as "raw".
	DeviceKey string `json:"device_key,omitempty"`
	// IssuedAt is the reissued token's issue time (reissue): tokens of the volunteer issued
	// at or before it, other than TokenID, stop working.
	IssuedAt time.Time `json:"issued_at,omitzero"`
	Status   string    `json:"status,omitempty"` // claim: Claim*
	// By is who did it when not the volunteer (assign, reissue): a lead's or organiser's id.
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"` // when ingest (or the issuing command) recorded it
}

// Incident categories (Incident.Category).
const (
	IncidentCountStopped      = "count_stopped"
	IncidentObserversExpelled = "observers_expelled"
	IncidentBallotsDamaged    = "ballots_damaged"
	IncidentViolence          = "violence"
	IncidentOther             = "other"
)

// IncidentCategories lists every category, in the order the form shows them.
var IncidentCategories = []string{
	IncidentCountStopped, IncidentObserversExpelled, IncidentBallotsDamaged, IncidentViolence, IncidentOther,
}

// Incident is a critical-incident report from a station (incidents.v1, keyed by
// station_id): kept apart from the counts, for the war room to act on at once.
type Incident struct {
	IncidentID     string    `json:"incident_id"` // client-made UUID, the idempotency key
	StationID      string    `json:"station_id"`
	ConstituencyID string    `json:"constituency_id"`
	Category       string    `json:"category"`    // Incident*
	OccurredAt     time.Time `json:"occurred_at"` // when it happened, as the volunteer says
	Text           string    `json:"text"`        // what happened, in the volunteer's words (at most 2000 bytes)
	Evidence       []string  `json:"evidence"`    // photos, "sha256:<hex>"
	VolunteerID    string    `json:"volunteer_id"`
	Org            string    `json:"org"`
	Role           string    `json:"role"`
	ReceivedAt     time.Time `json:"received_at"`
}
