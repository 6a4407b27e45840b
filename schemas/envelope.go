package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Envelope headers. Every record on a votestream topic carries content-type and schema;
// the value is the JSON of the message. The schema header names the message type and its
// major version ("report.v1"); a minor suffix ("report.v1.2") is allowed and ignored, so a
// later minor version may add optional fields without breaking older readers.
const (
	HeaderContentType = "content-type"
	HeaderSchema      = "schema"
	// HeaderReason is set on dead-letter.v1 records: why the record could not be processed.
	HeaderReason = "reason"
	// HeaderSourceTopic is set on dead-letter.v1 records: the topic the record came from.
	HeaderSourceTopic = "source-topic"
	// HeaderFlags is set by ingest on a submissions.v1 record: the anomaly codes it raised on
	// the report (e.g. SPREAD), comma-separated, for consolidate to raise.
	HeaderFlags = "flags"

	ContentTypeJSON = "application/json"
)

// Header is one Kafka record header. It has the same fields as franz-go's kgo.RecordHeader,
// so either converts to the other (kgo.RecordHeader(h)) without this package importing
// franz-go; schemas/kgorecord does it for whole records.
type Header struct {
	Key   string
	Value []byte
}

// Envelope errors. Decode's errors wrap one of them.
var (
	// ErrNoSchema: the record has no schema header (or no content-type header).
	ErrNoSchema = errors.New("schemas: record has no schema header")
	// ErrContentType: the record is not application/json.
	ErrContentType = errors.New("schemas: unsupported content-type")
	// ErrWrongSchema: the record holds another message type than the one asked for.
	ErrWrongSchema = errors.New("schemas: record holds another message type")
	// ErrUnsupportedVersion: the record's major version is not one this build reads.
	ErrUnsupportedVersion = errors.New("schemas: unsupported schema version")
	// ErrUnknownType: Encode or Decode was given a type that is not a message of the contract.
	ErrUnknownType = errors.New("schemas: not a message type")
)

// recordSchemas are the message types Encode and Decode handle.
var recordSchemas = []string{
	SchemaSubmission, SchemaReport, SchemaStationResult, SchemaAnomaly, SchemaEstimate,
	SchemaReview, SchemaOfficial, SchemaEvidence, SchemaCheckpoint, SchemaFieldEvent, SchemaIncident,
	SchemaRefusal,
	SchemaCall,
}

// schemaOf names the schema of a message value or pointer.
func schemaOf(v any) (string, bool) {
	switch v.(type) {
	case Submission, *Submission:
		return SchemaSubmission, true
	case Report, *Report:
		return SchemaReport, true
	case StationResult, *StationResult:
		return SchemaStationResult, true
	case Anomaly, *Anomaly:
		return SchemaAnomaly, true
	case Estimate, *Estimate:
		return SchemaEstimate, true
	case Review, *Review:
		return SchemaReview, true
	case Official, *Official:
		return SchemaOfficial, true
	case Evidence, *Evidence:
		return SchemaEvidence, true
	case Checkpoint, *Checkpoint:
		return SchemaCheckpoint, true
	case FieldEvent, *FieldEvent:
		return SchemaFieldEvent, true
	case Incident, *Incident:
		return SchemaIncident, true
	case Refusal, *Refusal:
		return SchemaRefusal, true
	case Call, *Call:
		return SchemaCall, true
	}
	return "", false
}

// Encode marshals a message (Report, StationResult, Anomaly, Estimate, Review, Official or
// Submission, by value or pointer) into a record value and its envelope headers. It does not
// validate against the JSON Schema: producers are our own code, and tests check that their
// output conforms.
func Encode(v any) (value []byte, headers []Header, err error) {
	name, ok := schemaOf(v)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %T", ErrUnknownType, v)
	}
	switch m := v.(type) {
	case *Report: // the one message per accepted submission: no reflection
		if m == nil {
			return nil, nil, fmt.Errorf("schemas: encode %s: nil message", name)
		}
		value, err = m.AppendJSON(make([]byte, 0, 512))
	case Report:
		value, err = m.AppendJSON(make([]byte, 0, 512))
	default:
		value, err = json.Marshal(v)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("schemas: encode %s: %w", name, err)
	}
	return value, EnvelopeHeaders(name), nil
}

// EnvelopeHeaders returns the headers for a record holding a message of schema name.
func EnvelopeHeaders(name string) []Header {
	return []Header{
		{Key: HeaderContentType, Value: []byte(ContentTypeJSON)},
		{Key: HeaderSchema, Value: []byte(name)},
	}
}

// RecordSchema reads a record's envelope: the schema name with its major version (minor
// suffix dropped), after checking that the content type is JSON.
func RecordSchema(headers []Header) (string, error) {
	var ct, schema string
	var haveCT, haveSchema bool
	for _, h := range headers {
		switch strings.ToLower(h.Key) {
		case HeaderContentType:
			ct, haveCT = string(h.Value), true
		case HeaderSchema:
			schema, haveSchema = string(h.Value), true
		}
	}
	if !haveSchema {
		return "", ErrNoSchema
	}
	if !haveCT {
		return "", fmt.Errorf("%w (schema %q, no content-type)", ErrNoSchema, schema)
	}
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != ContentTypeJSON {
		return "", fmt.Errorf("%w: %q (schema %q)", ErrContentType, ct, schema)
	}
	base, major, ok := splitSchema(schema)
	if !ok {
		return "", fmt.Errorf("%w: malformed schema header %q", ErrUnsupportedVersion, schema)
	}
	return base + ".v" + strconv.Itoa(major), nil
}

// splitSchema splits "report.v1" or "report.v1.2" into "report" and 1.
func splitSchema(s string) (base string, major int, ok bool) {
	base, ver, found := strings.Cut(s, ".v")
	if !found || base == "" {
		return "", 0, false
	}
	if maj, minor, hasMinor := strings.Cut(ver, "."); hasMinor {
		if _, err := strconv.ParseUint(minor, 10, 16); err != nil {
			return "", 0, false
		}
		ver = maj
	}
	n, err := strconv.ParseUint(ver, 10, 16)
	if err != nil || n == 0 {
		return "", 0, false
	}
	return base, int(n), true
}

// Decode unmarshals a record value into into (a pointer to a message type) after checking
// the envelope: the content type must be JSON and the schema header must name into's type
// at a major version this build reads. A record of another type or major version is
// refused with ErrWrongSchema or ErrUnsupportedVersion, never half-decoded. Unknown fields
// are ignored (a newer minor version may add them); Decode does not run the JSON Schema.
func Decode(value []byte, headers []Header, into any) error {
	want, ok := schemaOf(into)
	if !ok || !isPointer(into) {
		return fmt.Errorf("%w: %T (want a pointer to a message type)", ErrUnknownType, into)
	}
	got, err := RecordSchema(headers)
	if err != nil {
		return err
	}
	if got != want {
		gotBase, _, _ := splitSchema(got)
		wantBase, _, _ := splitSchema(want)
		if gotBase == wantBase {
			return fmt.Errorf("%w: record is %s, this build reads %s", ErrUnsupportedVersion, got, want)
		}
		return fmt.Errorf("%w: record is %s, want %s", ErrWrongSchema, got, want)
	}
	if err := json.Unmarshal(value, into); err != nil {
		return fmt.Errorf("schemas: decode %s: %w", got, err)
	}
	return nil
}

// DecodeAny decodes a record into a new value of the type its schema header names and
// returns a pointer to it (*Report, *StationResult, *Anomaly, *Estimate, *Review, *Official
// or *Submission). A sink that reads every topic switches on the result's type.
func DecodeAny(value []byte, headers []Header) (any, error) {
	name, err := RecordSchema(headers)
	if err != nil {
		return nil, err
	}
	var v any
	switch name {
	case SchemaSubmission:
		v = new(Submission)
	case SchemaReport:
		v = new(Report)
	case SchemaStationResult:
		v = new(StationResult)
	case SchemaAnomaly:
		v = new(Anomaly)
	case SchemaEstimate:
		v = new(Estimate)
	case SchemaReview:
		v = new(Review)
	case SchemaOfficial:
		v = new(Official)
	case SchemaEvidence:
		v = new(Evidence)
	case SchemaCheckpoint:
		v = new(Checkpoint)
	case SchemaFieldEvent:
		v = new(FieldEvent)
	case SchemaIncident:
		v = new(Incident)
	case SchemaRefusal:
		v = new(Refusal)
	case SchemaCall:
		v = new(Call)
	default:
		base, _, _ := splitSchema(name)
		for _, known := range recordSchemas {
			if b, _, _ := splitSchema(known); b == base {
				return nil, fmt.Errorf("%w: record is %s, this build reads %s", ErrUnsupportedVersion, name, known)
			}
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	if err := json.Unmarshal(value, v); err != nil {
		return nil, fmt.Errorf("schemas: decode %s: %w", name, err)
	}
	return v, nil
}

func isPointer(v any) bool {
	switch v.(type) {
	case *Submission, *Report, *StationResult, *Anomaly, *Estimate, *Review, *Official, *Evidence, *Checkpoint,
		*FieldEvent, *Incident, *Refusal, *Call:
		return true
	}
	return false
}

// Key is the Kafka record key of a message: station_id for every per-station input, so
// one station's records stay ordered on one partition; "station_id/ballot" for a station
// result, because station-results.v1 is compacted and must keep the latest record of each
// ballot, not of each station; estimate_id for an estimate; the volunteer for an anomaly
// that has no station (SPREAD). An unknown type gives "".
func Key(v any) string {
	switch m := v.(type) {
	case Submission:
		return m.StationID
	case *Submission:
		return m.StationID
	case Report:
		return m.StationID
	case *Report:
		return m.StationID
	case StationResult:
		return StationResultKey(m.StationID, m.Ballot)
	case *StationResult:
		return StationResultKey(m.StationID, m.Ballot)
	case Anomaly:
		return anomalyKey(&m)
	case *Anomaly:
		return anomalyKey(m)
	case Estimate:
		return m.EstimateID
	case *Estimate:
		return m.EstimateID
	case Review:
		return m.StationID
	case *Review:
		return m.StationID
	case Official:
		return m.StationID
	case *Official:
		return m.StationID
	case Evidence:
		return m.Evidence
	case *Evidence:
		return m.Evidence
	case Checkpoint:
		return m.Origin
	case *Checkpoint:
		return m.Origin
	case FieldEvent:
		return m.VolunteerID
	case *FieldEvent:
		return m.VolunteerID
	case Incident:
		return m.StationID
	case *Incident:
		return m.StationID
	case Refusal:
		return RefusalKey(&m)
	case *Refusal:
		return RefusalKey(m)
	case Call:
		return m.Race
	case *Call:
		return m.Race
	}
	return ""
}

func anomalyKey(a *Anomaly) string {
	if a.StationID == "" && a.VolunteerID != "" {
		return "volunteer:" + a.VolunteerID
	}
	return a.StationID
}

// StationResultKey is the key of a station-results.v1 record: one per station and ballot.
func StationResultKey(stationID, ballot string) string { return stationID + "/" + ballot }
