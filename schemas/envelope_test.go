package schemas_test

import (
	"errors"
	"reflect"
	"testing"

	"votestream/schemas"
)

func hdr(ct, schema string) []schemas.Header {
	var hs []schemas.Header
	if ct != "" {
		hs = append(hs, schemas.Header{Key: "content-type", Value: []byte(ct)})
	}
	if schema != "" {
		hs = append(hs, schemas.Header{Key: "schema", Value: []byte(schema)})
	}
	return hs
}

// Every message type goes through Encode and Decode (and DecodeAny) unchanged, with the
// headers the contract names.
func TestEnvelopeRoundTrip(t *testing.T) {
	for _, s := range samples() {
		if s.schema == "" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			value, headers, err := schemas.Encode(s.value)
			if err != nil {
				t.Fatal(err)
			}
			if want := hdr("application/json", s.schema); !reflect.DeepEqual(headers, want) {
				t.Errorf("headers %q, want %q", headers, want)
			}
			if err := schemas.Validate(s.schema, value); err != nil {
				t.Errorf("encoded value does not conform: %v", err)
			}
			into := reflect.New(reflect.TypeOf(s.value))
			if err := schemas.Decode(value, headers, into.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(into.Elem().Interface(), s.value) {
				t.Errorf("Decode changed the value: %#v", into.Elem().Interface())
			}
			anyV, err := schemas.DecodeAny(value, headers)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(reflect.ValueOf(anyV).Elem().Interface(), s.value) {
				t.Errorf("DecodeAny gave %#v", anyV)
			}
		})
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	value, _, err := schemas.Encode(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		headers []schemas.Header
		want    error
	}{
		{"no headers", nil, schemas.ErrNoSchema},
		{"no schema", hdr("application/json", ""), schemas.ErrNoSchema},
		{"no content-type", hdr("", "report.v1"), schemas.ErrNoSchema},
		{"avro", hdr("application/avro", "report.v1"), schemas.ErrContentType},
		{"next major", hdr("application/json", "report.v2"), schemas.ErrUnsupportedVersion},
		{"version zero", hdr("application/json", "report.v0"), schemas.ErrUnsupportedVersion},
		{"no version", hdr("application/json", "report"), schemas.ErrUnsupportedVersion},
		{"malformed minor", hdr("application/json", "report.v1.x"), schemas.ErrUnsupportedVersion},
		{"another type", hdr("application/json", "anomaly.v1"), schemas.ErrWrongSchema},
		{"the body, not the report", hdr("application/json", "submission.v1"), schemas.ErrWrongSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r schemas.Report
			err := schemas.Decode(value, c.headers, &r)
			if !errors.Is(err, c.want) {
				t.Errorf("Decode: %v, want %v", err, c.want)
			}
			if r.StationID != "" {
				t.Error("Decode filled the value although it refused the record")
			}
		})
	}

	if _, err := schemas.DecodeAny(value, hdr("application/json", "report.v2")); !errors.Is(err, schemas.ErrUnsupportedVersion) {
		t.Errorf("DecodeAny report.v2: %v, want ErrUnsupportedVersion", err)
	}
	if _, err := schemas.DecodeAny(value, hdr("application/json", "ballot-box.v1")); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Errorf("DecodeAny ballot-box.v1: %v, want ErrUnknownSchema", err)
	}
	if _, _, err := schemas.Encode(struct{ A int }{1}); !errors.Is(err, schemas.ErrUnknownType) {
		t.Errorf("Encode of a stranger: %v, want ErrUnknownType", err)
	}
	if err := schemas.Decode(value, hdr("application/json", "report.v1"), schemas.Report{}); !errors.Is(err, schemas.ErrUnknownType) {
		t.Errorf("Decode into a non-pointer: %v, want ErrUnknownType", err)
	}
}

// A later minor version may add fields and header casing may vary: an older reader copes.
func TestEnvelopeAcceptsMinorAndCase(t *testing.T) {
	headers := []schemas.Header{
		{Key: "Content-Type", Value: []byte("application/json; charset=utf-8")},
		{Key: "Schema", Value: []byte("station-result.v1.3")},
	}
	value := []byte(`{"station_id":"S1","constituency_id":"C1","ballot":"partylist","version":4,"status":"verified","stage":"final","ballots_cast":10,"invalid":0,"no_vote":0,"votes":{"31":10},"sources":[],"counted_at":"2023-05-14T10:30:00Z","updated_at":"2023-05-14T10:31:00Z","confidence":0.99}`)
	var r schemas.StationResult
	if err := schemas.Decode(value, headers, &r); err != nil {
		t.Fatal(err)
	}
	if r.Version != 4 || r.Votes["31"] != 10 || r.Status != schemas.StatusVerified {
		t.Errorf("decoded %#v", r)
	}
}

func TestKey(t *testing.T) {
	spread := schemas.Anomaly{Code: schemas.AnomalySpread, VolunteerID: "vol-9"}
	cases := []struct {
		v    any
		want string
	}{
		{sampleReport(), "BKK_1_0042"},
		{ptr(sampleStationResult()), "BKK_1_0042/partylist"},
		{sampleAnomaly(), "BKK_1_0042"},
		{spread, "volunteer:vol-9"},
		{sampleEstimate(), "est-20230514T120000Z-0007"},
		{sampleReviewAccept(), "BKK_1_0042"},
		{sampleOfficial(), "BKK_1_0042"},
		{42, ""},
	}
	for _, c := range cases {
		if got := schemas.Key(c.v); got != c.want {
			t.Errorf("Key(%T) = %q, want %q", c.v, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
