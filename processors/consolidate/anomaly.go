package consolidate

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"votestream/schemas"
)

// severity of each code. A hard anomaly on the figures disputes the result (it then counts
// as unreported downstream); a soft one only flags it for a person to look at.
var severity = map[string]schemas.Severity{
	schemas.AnomalyArith:            schemas.SeverityHard,
	schemas.AnomalyOverEligible:     schemas.SeverityHard,
	schemas.AnomalyConflict:         schemas.SeverityHard,
	schemas.AnomalyRegression:       schemas.SeveritySoft,
	schemas.AnomalyBallotGap:        schemas.SeveritySoft,
	schemas.AnomalyTurnoutOutlier:   schemas.SeveritySoft,
	schemas.AnomalyShareOutlier:     schemas.SeveritySoft,
	schemas.AnomalyNumberSwap:       schemas.SeverityHard,
	schemas.AnomalyEarly:            schemas.SeveritySoft,
	schemas.AnomalySpread:           schemas.SeveritySoft,
	schemas.AnomalyOfficialMismatch: schemas.SeverityHard,
	schemas.AnomalyPhotoReuse:       schemas.SeveritySoft,
}

// Severity returns the severity of an anomaly code ("" for an unknown code).
func Severity(code string) schemas.Severity { return severity[code] }

func isHard(code string) bool { return severity[code] == schemas.SeverityHard }

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
		Severity:       severity[code],
		StationID:      st.ID,
		ConstituencyID: st.ConstituencyID,
		Ballot:         ballot,
		Message:        message,
		Evidence:       evidence,
		DetectedAt:     at,
	}
}
