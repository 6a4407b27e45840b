package ingest

import (
	"encoding/json"
	"net/http"
	"testing"

	"votestream/ingest/token"
	"votestream/schemas"
)

// FuzzFieldBodies sends arbitrary bodies and device proofs to the form's routes (activate,
// claims, check-ins, incidents): never a panic or a 5xx (the log always takes the event),
// every refusal a JSON error with a known code, and every incident produced conforms to
// incident.v1.
func FuzzFieldBodies(f *testing.F) {
	for _, seed := range []struct {
		route       uint8
		body, proof string
	}{
		{0, `{"event_id":"5f0c1a2b-3c4d-4e5f-8a9b-000000000001","device_key":"BAAA"}`, "1700000000000.AAAA"},
		{1, `{"event_id":"5f0c1a2b-3c4d-4e5f-8a9b-000000000002","station_id":"BKK_1_0002","withdraw":false}`, ""},
		{2, `{"event_id":"5f0c1a2b-3c4d-4e5f-8a9b-000000000003","station_id":"BKK_1_0001"}`, ""},
		{3, `{"incident_id":"5f0c1a2b-3c4d-4e5f-8a9b-000000000004","station_id":"BKK_1_0001","category":"violence","occurred_at":"2023-05-14T17:00:00+07:00","text":"ทะเลาะวิวาท","evidence":[]}`, ""},
		{3, `{"incident_id":1,"text":"\u0000"}`, ""},
		{1, `{"event_id":"x","station_id":"y","withdraw":"yes"}`, ""},
		{0, `[`, "x.y.z"},
	} {
		f.Add(seed.route, []byte(seed.body), seed.proof)
	}
	h, _ := fieldHarness(f, nil)
	link := issue(f, h.keys, token.Claims{VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, Bind: true})
	paths := []string{"/v1/activate", "/v1/claims", "/v1/checkins", "/v1/incidents"}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, proof string) {
		path := paths[int(route)%len(paths)]
		tok := h.volunteer
		if path == "/v1/activate" {
			tok = link
		}
		before := len(h.prod.recs())
		r := h.req(http.MethodPost, path, tok, proof, string(body))
		if r.status >= 500 {
			t.Fatalf("%s: status %d for %q: %s", path, r.status, body, r.body)
		}
		if !json.Valid(r.body) {
			t.Fatalf("%s: answer is not JSON: %q", path, r.body)
		}
		if r.status >= 400 {
			if code, _ := r.errorCode(); !knownCode(code) {
				t.Fatalf("%s: status %d with unknown code %q", path, r.status, code)
			}
		}
		for _, rec := range h.prod.recs()[before:] {
			if err := schemas.Validate(schemas.SchemaIncident, rec.Value); err != nil {
				t.Fatalf("incident record does not conform: %v\n%s", err, rec.Value)
			}
		}
	})
}
