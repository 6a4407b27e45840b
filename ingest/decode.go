package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
)

// decodeStrict decodes one JSON object into v, refusing unknown fields, wrong types and any
// data after the object. The error is always an *APIError with a stable code.
//
// encoding/json matches field names case-insensitively and lets a repeated field overwrite
// the first; the JSON Schema does neither. So once the object decodes, its top-level keys
// are checked against the exact names of v's fields: "Station_ID" is an unknown field, and a
// field given twice is refused rather than silently taking the last value.
func decodeStrict(data []byte, v any) *APIError {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return apiErr(CodeMalformedJSON, "", "the body is empty: send a JSON object")
	}
	if data[0] != '{' {
		return apiErr(CodeWrongType, "", "want a JSON object, got %s", jsonKind(data[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if rest := trimJSONSpace(data[dec.InputOffset():]); len(rest) != 0 {
		return apiErr(CodeMalformedJSON, "", "unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return checkKeys(data[:dec.InputOffset()], fieldNames(v))
}

// fieldNames returns the JSON names of the wire structs' fields.
func fieldNames(v any) []string {
	switch v.(type) {
	case *submissionWire:
		return submissionFields
	case *reviewWire:
		return reviewFields
	case *officialWire:
		return officialFields
	}
	return tagNames(v)
}

// tagNames returns the json tag names of the struct v points to, read once per type: the
// wire structs of the form's routes (claims, check-ins, incidents...).
func tagNames(v any) []string {
	t := reflect.TypeOf(v).Elem()
	if names, ok := tagCache.Load(t); ok {
		return names.([]string)
	}
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	tagCache.Store(t, names)
	return names
}

var tagCache sync.Map // reflect.Type -> []string

var (
	submissionFields = []string{"submission_id", "station_id", "ballot", "stage", "counted_at", "ballots_cast", "invalid", "no_vote", "votes", "evidence"}
	reviewFields     = []string{"review_id", "station_id", "ballot", "accept_submission_id", "ballots_cast", "invalid", "no_vote", "votes", "escalate", "reason"}
	officialFields   = []string{"official_id", "station_id", "ballot", "ballots_cast", "invalid", "no_vote", "votes"}
)

// checkKeys walks the top-level keys of obj, one JSON object already known to be valid, and
// refuses a key that is not exactly one of names, or that appears twice; it also refuses a
// key given twice in an object one level down (votes), where encoding/json would silently
// keep the last value and another reader the first. One pass, no allocation unless a key
// holds escapes or an object one level down has keys.
func checkKeys(obj []byte, names []string) *APIError {
	var seen uint64 // bit i: names[i] seen; wire structs have fewer than 64 fields
	depth, i := 0, 0
	expectKey := false
	field := ""          // the top-level key whose value is being walked
	innerObject := false // the value at depth 2 is an object
	expectInner := false // the next string at depth 2 is a key of that object
	var inner []string   // its keys so far
	for i < len(obj) {
		c := obj[i]
		switch {
		case c == '"':
			end := i + 1
			escaped := false
			for end < len(obj) && obj[end] != '"' {
				if obj[end] == '\\' {
					escaped = true
					end++
				}
				end++
			}
			switch {
			case depth == 1 && expectKey:
				key := string(obj[i+1 : end])
				if escaped {
					_ = json.Unmarshal(obj[i:end+1], &key)
				}
				k := -1
				for j, n := range names {
					if n == key {
						k = j
						break
					}
				}
				if k < 0 {
					return apiErr(CodeUnknownField, key, "unknown field %q: the schema does not have it (names are lower case, check the spelling)", clip(key))
				}
				if seen&(1<<k) != 0 {
					return apiErr(CodeMalformedJSON, key, "field %s appears twice", key)
				}
				seen |= 1 << k
				expectKey, field = false, key
			case depth == 2 && innerObject && expectInner:
				key := string(obj[i+1 : end])
				if escaped {
					_ = json.Unmarshal(obj[i:end+1], &key)
				}
				for _, k := range inner {
					if k == key {
						return apiErr(CodeMalformedJSON, field+"."+key, "field %s: key %q appears twice", field, clip(key))
					}
				}
				inner = append(inner, key)
				expectInner = false
			}
			i = end + 1
			continue
		case c == '{' || c == '[':
			depth++
			expectKey = c == '{' && depth == 1
			if depth == 2 {
				innerObject, expectInner, inner = c == '{', c == '{', inner[:0]
			}
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 1:
			expectKey = true
		case c == ',' && depth == 2:
			expectInner = innerObject
		}
		i++
	}
	return nil
}

// splitBatch returns the items of a JSON array body, or nil and false when the body is not an
// array (a single object).
func splitBatch(data []byte) ([]json.RawMessage, bool, *APIError) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '[' {
		return nil, false, nil
	}
	var items []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&items); err != nil {
		return nil, true, jsonError(err)
	}
	if rest := trimJSONSpace(data[dec.InputOffset():]); len(rest) != 0 {
		return nil, true, apiErr(CodeMalformedJSON, "", "unexpected data after the JSON array at byte %d", dec.InputOffset())
	}
	return items, true, nil
}

// trimJSONSpace drops JSON's white space (space, tab, CR, LF) from both ends; unlike
// bytes.TrimSpace it keeps \v, NEL and no-break spaces, which are not JSON.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func jsonKind(b byte) string {
	switch {
	case b == '[':
		return "an array"
	case b == '"':
		return "a string"
	case b == 't' || b == 'f':
		return "a boolean"
	case b == 'n':
		return "null"
	case b == '-' || b >= '0' && b <= '9':
		return "a number"
	}
	return "something that is not JSON"
}

// jsonError maps encoding/json's errors onto codes.
func jsonError(err error) *APIError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apiErr(CodeMalformedJSON, "", "not valid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		want := typ.Type.Kind().String()
		switch want {
		case "int", "int64":
			want = "a whole number from 0 to 1000000"
		case "ptr":
			want = typ.Type.Elem().Kind().String()
		case "map", "struct":
			want = "an object"
		case "slice":
			want = "an array"
		}
		if field == "" {
			return apiErr(CodeWrongType, "", "wrong type: got %s, want %s", typ.Value, want)
		}
		return apiErr(CodeWrongType, field, "field %s: got %s, want %s", field, typ.Value, want)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return apiErr(CodeMalformedJSON, "", "the JSON ends early")
	}
	// encoding/json has no typed error for unknown fields: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return apiErr(CodeUnknownField, name, "unknown field %q: the schema does not have it (check the spelling)", name)
	}
	return apiErr(CodeMalformedJSON, "", "cannot decode the JSON: %v", err)
}
