package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxBodyBytes bounds a body the Decode*Request functions accept: a submission with 15
// candidates and a few evidence hashes is well under 2 KiB.
const MaxBodyBytes = 64 << 10

// ErrTooLarge: a body above MaxBodyBytes. It wraps ErrInvalid.
var ErrTooLarge = fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, MaxBodyBytes)

// DecodeSubmission decodes a volunteer's body strictly: it must be one JSON object valid
// against submission.v1 (unknown properties, wrong types, negative counts, malformed vote
// keys or evidence hashes are refused) and nothing may follow it. Every error wraps
// ErrInvalid; a *ValidationError says where and which keyword. Safe for concurrent use.
func DecodeSubmission(body []byte) (Submission, error) {
	var s Submission
	err := decodeStrict(SchemaSubmission, body, &s)
	return s, err
}

// DecodeReviewRequest decodes a review body as a district lead sends it (review.v1 without
// reviewer_id, role and received_at, which ingest sets from the token).
func DecodeReviewRequest(body []byte) (Review, error) {
	var r Review
	err := decodeStrict(SchemaReviewRequest, body, &r)
	return r, err
}

// DecodeOfficialRequest decodes an official figure as a district lead sends it (official.v1
// without entered_by, role and received_at, which ingest sets from the token).
func DecodeOfficialRequest(body []byte) (Official, error) {
	var o Official
	err := decodeStrict(SchemaOfficialRequest, body, &o)
	return o, err
}

// decodeStrict validates body against the schema, then decodes it into v refusing unknown
// fields. The Go decoder is the second line: it also refuses what the schema allows but Go
// cannot hold, such as 1e2 for an integer.
func decodeStrict(name string, body []byte, v any) error {
	if len(body) > MaxBodyBytes {
		return ErrTooLarge
	}
	s, err := Validator(name)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return &ValidationError{Schema: name, Keyword: "json", Message: "not a JSON document: " + err.Error(), Err: err}
	}
	if err := validateValue(name, s, doc); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return goDecodeError(name, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &ValidationError{Schema: name, Keyword: "json", Message: "data after the JSON document", Err: err}
	}
	return nil
}

func goDecodeError(name string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		loc := ""
		if te.Field != "" {
			loc = "/" + strings.ReplaceAll(te.Field, ".", "/")
		}
		return &ValidationError{Schema: name, Location: loc, Keyword: "type",
			Message: fmt.Sprintf("%s cannot hold %s", te.Type, te.Value), Err: err}
	}
	return &ValidationError{Schema: name, Keyword: "json", Message: err.Error(), Err: err}
}
