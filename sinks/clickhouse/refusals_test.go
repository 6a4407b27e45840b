package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"votestream/schemas"
)

// TestRefusalsStored: refusals.v1 records land in the refusals table, one row each, with
// what a lead needs to read them.
func TestRefusalsStored(t *testing.T) {
	f := newFixture(t)
	const group = "sink-refusals"
	at := time.Date(2023, 5, 14, 18, 3, 4, 0, time.UTC)
	f.produce(schemas.TopicRefusals,
		schemas.Refusal{RefusalID: "5b0c3a52-1d1e-4f4e-9a57-0e1b2c3d4e01", At: at, Endpoint: "/v1/reviews", Code: "OUT_OF_SCOPE",
			Status: 403, Message: "station BKK_2_0001 is outside constituency BKK_1", Field: "station_id", StationID: "BKK_2_0001",
			ConstituencyID: "BKK_2", SubmissionID: "7d3e9a10-1b2c-4d5e-8f90-a1b2c3d4e5f7", VolunteerID: "lead-bkk1",
			Org: "war room", Role: schemas.RoleDistrictLead},
		schemas.Refusal{RefusalID: "5b0c3a52-1d1e-4f4e-9a57-0e1b2c3d4e02", At: at.Add(time.Minute), Endpoint: "/v1/submissions",
			Code: "UNAUTHENTICATED", Status: 401, Message: "the token is not valid", Suppressed: 41},
	)
	stop := f.start(group)
	f.waitCommitted(group)
	stop()
	if n := f.count("SELECT count() FROM refusals FINAL"); n != 2 {
		t.Fatalf("%d refusal rows, want 2", n)
	}
	var code, station, volunteer string
	var status uint16
	var when time.Time
	err := f.c.Conn.QueryRow(context.Background(),
		"SELECT code, station_id, volunteer_id, status, at FROM refusals WHERE constituency_id = 'BKK_2'").Scan(&code, &station, &volunteer, &status, &when)
	if err != nil || code != "OUT_OF_SCOPE" || station != "BKK_2_0001" || volunteer != "lead-bkk1" || status != 403 || !when.Equal(at) {
		t.Errorf("BKK_2's refusal: %v %s %s %s %d %v", err, code, station, volunteer, status, when)
	}
	if n := f.count("SELECT sum(suppressed) FROM refusals WHERE volunteer_id = ''"); n != 41 {
		t.Errorf("suppressed %d, want 41", n)
	}
}
