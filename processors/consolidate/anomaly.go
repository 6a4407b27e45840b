package consolidate

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"votestream/schemas"
)

// Severity returns the severity of an anomaly code ("" for an unknown code): hard disputes
// the result (it then counts as unreported downstream), soft only flags it for a person.
func Severity(code string) schemas.Severity { return schemas.AnomalySeverity(code) }

// anomalyID is deterministic: the code and the facts that identify one occurrence (never a
// clock or a counter), so a replay raises the same id and downstream tables deduplicate.
func anomalyID(code string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(code))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return code + "-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// newAnomaly fills the fields every anomaly has.
func newAnomaly(code string, st *Station, ballot string, at time.Time, message string, evidence map[string]string, idParts ...string) *schemas.Anomaly {
	return &schemas.Anomaly{
		AnomalyID:      anomalyID(code, idParts...),
		Code:           code,
		Severity:       Severity(code),
		StationID:      st.ID,
		ConstituencyID: st.ConstituencyID,
		Ballot:         ballot,
		Message:        message,
		Evidence:       evidence,
		DetectedAt:     at,
	}
}
