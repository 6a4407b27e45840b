package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema names: the file name in schemas/json without ".json", and the value of the
// envelope's schema header. The suffix is the major version.
const (
	SchemaSubmission    = "submission.v1"     // a volunteer's body to ingest
	SchemaReport        = "report.v1"         // submissions.v1 records
	SchemaStationResult = "station-result.v1" // station-results.v1 records
	SchemaAnomaly       = "anomaly.v1"        // anomalies.v1 records
	SchemaEstimate      = "estimate.v1"       // estimates.v1 records
	SchemaReview        = "review.v1"         // reviews.v1 records
	SchemaOfficial      = "official.v1"       // official.v1 records
	SchemaEvidence      = "evidence.v1"       // evidence.v1 records
	SchemaCheckpoint    = "checkpoint.v1"     // checkpoints.v1 records
	SchemaFieldEvent    = "field-event.v1"    // fieldwork.v1 records
	SchemaIncident      = "incident.v1"       // incidents.v1 records
	SchemaRefusal       = "refusal.v1"        // refusals.v1 records
	SchemaCall          = "call.v1"           // calls.v1 records

	// Bodies a district lead or the war room sends to ingest: the record without the fields
	// ingest sets from the token. They live in the record's file under $defs/request.
	SchemaReviewRequest   = "review.v1#request"
	SchemaOfficialRequest = "official.v1#request"
	SchemaIncidentRequest = "incident.v1#request"
)

// SchemaNames lists every schema that Validate and Validator accept.
var SchemaNames = []string{
	SchemaSubmission, SchemaReport, SchemaStationResult, SchemaAnomaly, SchemaEstimate,
	SchemaReview, SchemaOfficial, SchemaReviewRequest, SchemaOfficialRequest,
	SchemaEvidence, SchemaCheckpoint,
	SchemaFieldEvent, SchemaIncident, SchemaIncidentRequest, SchemaRefusal,
	SchemaCall,
}

// schemaBase is the base of every schema's $id. The .invalid domain is reserved: the ids
// name the documents, nothing is ever fetched from there.
const schemaBase = "https://votestream.invalid/schemas/"

//go:embed json/*.json
var jsonFiles embed.FS

// Sentinel errors.
var (
	// ErrUnknownSchema: no schema of that name (or major version) exists.
	ErrUnknownSchema = errors.New("schemas: unknown schema")
	// ErrInvalid: a document breaks its schema, or is not JSON at all. The error is a
	// *ValidationError when the document was JSON.
	ErrInvalid = errors.New("schemas: invalid document")
)

// JSONSchema returns the JSON Schema document (draft 2020-12) of a schema name such as
// "submission.v1" (a ".json" suffix is accepted too), exactly as shipped in schemas/json.
func JSONSchema(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".json")
	if strings.ContainsAny(name, "/#") {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	b, err := jsonFiles.ReadFile("json/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return b, nil
}

// schemaLocation maps a name of SchemaNames to the location the compiler knows it by.
func schemaLocation(name string) (string, bool) {
	file, def, sub := strings.Cut(name, "#")
	if _, err := jsonFiles.Open("json/" + file + ".json"); err != nil {
		return "", false
	}
	loc := schemaBase + file + ".json"
	if sub {
		if def != "request" || (file != "review.v1" && file != "official.v1" && file != "incident.v1") {
			return "", false
		}
		loc += "#/$defs/request"
	}
	return loc, true
}

var compiled struct {
	once    sync.Once
	err     error
	schemas map[string]*jsonschema.Schema
}

// compileAll compiles every schema once; they reference each other's $defs.
func compileAll() (map[string]*jsonschema.Schema, error) {
	compiled.once.Do(func() {
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat() // counted_at and the other times must be RFC 3339 date-times
		entries, err := jsonFiles.ReadDir("json")
		if err != nil {
			compiled.err = err
			return
		}
		for _, e := range entries {
			b, err := jsonFiles.ReadFile(path.Join("json", e.Name()))
			if err != nil {
				compiled.err = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				compiled.err = fmt.Errorf("schemas: %s: %w", e.Name(), err)
				return
			}
			if err := c.AddResource(schemaBase+e.Name(), doc); err != nil {
				compiled.err = fmt.Errorf("schemas: %s: %w", e.Name(), err)
				return
			}
		}
		m := make(map[string]*jsonschema.Schema, len(SchemaNames))
		for _, name := range SchemaNames {
			loc, _ := schemaLocation(name)
			s, err := c.Compile(loc)
			if err != nil {
				compiled.err = fmt.Errorf("schemas: compile %s: %w", name, err)
				return
			}
			m[name] = s
		}
		compiled.schemas = m
	})
	return compiled.schemas, compiled.err
}

// Validator returns the compiled schema of a name in SchemaNames. It is compiled once per
// process and safe for concurrent use.
func Validator(name string) (*jsonschema.Schema, error) {
	m, err := compileAll()
	if err != nil {
		return nil, err
	}
	s, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return s, nil
}

// ValidationError says why a document breaks its schema. It wraps ErrInvalid.
type ValidationError struct {
	Schema   string // schema name, e.g. "submission.v1"
	Location string // JSON pointer of the offending value in the document, "" for the root
	Keyword  string // the schema keyword that failed: required, pattern, additionalProperties, ...
	Message  string // for a person
	// Err is the validator's full report (a *jsonschema.ValidationError) or the JSON syntax error.
	Err error
}

func (e *ValidationError) Error() string {
	loc := e.Location
	if loc == "" {
		loc = "/"
	}
	return fmt.Sprintf("schemas: %s: at %s: %s (%s)", e.Schema, loc, e.Message, e.Keyword)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// Validate checks one JSON document against a schema of SchemaNames. It returns nil, a
// *ValidationError (wrapping ErrInvalid), or an ErrUnknownSchema error.
func Validate(name string, doc []byte) error {
	s, err := Validator(name)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return &ValidationError{Schema: name, Keyword: "json", Message: "not a JSON document: " + err.Error(), Err: err}
	}
	return validateValue(name, s, v)
}

func validateValue(name string, s *jsonschema.Schema, v any) error {
	err := s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ValidationError{Schema: name, Keyword: "?", Message: err.Error(), Err: err}
	}
	leaf, where := firstLeaf(ve)
	loc := ""
	for _, tok := range where {
		loc += "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
	}
	return &ValidationError{
		Schema:   name,
		Location: loc,
		Keyword:  keyword(leaf),
		Message:  leaf.ErrorKind.LocalizedString(english),
		Err:      ve,
	}
}

var english = message.NewPrinter(language.English)

// firstLeaf finds the innermost error that names the failing keyword. Where alternatives
// (anyOf, oneOf) all failed it stops at the alternatives, unless all but one of them are a
// mere "type: null" branch: then the other branch explains the failure.
// It also returns the deepest instance location on the way: below propertyNames the
// offending name is validated as a document of its own, at the root.
func firstLeaf(e *jsonschema.ValidationError) (*jsonschema.ValidationError, []string) {
	where := e.InstanceLocation
	for len(e.Causes) > 0 {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			var rest []*jsonschema.ValidationError
			for _, c := range e.Causes {
				if !isNullTypeMismatch(c) {
					rest = append(rest, c)
				}
			}
			if len(rest) != 1 {
				return e, where
			}
			e = rest[0]
		default:
			e = e.Causes[0]
		}
		// jsonschema v6.0.3 gives a propertyNames error an aliased location slice that later
		// siblings overwrite: take the location from the object's own error instead.
		if _, names := e.ErrorKind.(*kind.PropertyNames); !names && len(e.InstanceLocation) >= len(where) {
			where = e.InstanceLocation
		}
	}
	return e, where
}

func isNullTypeMismatch(e *jsonschema.ValidationError) bool {
	for len(e.Causes) == 1 {
		e = e.Causes[0]
	}
	t, ok := e.ErrorKind.(*kind.Type)
	return ok && len(e.Causes) == 0 && len(t.Want) == 1 && t.Want[0] == "null"
}

func keyword(e *jsonschema.ValidationError) string {
	if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
		return kp[0]
	}
	switch e.ErrorKind.(type) {
	case *kind.Not:
		return "not"
	case *kind.FalseSchema:
		// additionalProperties/unevaluatedProperties: false report a false schema; its
		// location ends with the keyword.
		if i := strings.LastIndexByte(e.SchemaURL, '/'); i >= 0 {
			return e.SchemaURL[i+1:]
		}
		return "false"
	}
	return "schema"
}
