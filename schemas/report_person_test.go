package schemas_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"votestream/schemas"
)

// report.v1's optional person: a roster phone hash (64 lower-case hex digits) or nothing.
func TestReportPerson(t *testing.T) {
	cases := []struct {
		name   string
		person any // nil: the key is left out
		ok     bool
	}{
		{"absent, as in records from before the field", nil, true},
		{"empty", "", true},
		{"a phone hash", strings.Repeat("0f", 32), true},
		{"upper-case hex", strings.Repeat("0F", 32), false},
		{"63 digits", strings.Repeat("a", 63), false},
		{"a phone number", "+66812345678", false},
		{"sha256: prefixed like the evidence hashes", "sha256:" + strings.Repeat("0f", 32), false},
		{"not a string", 7, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(sampleReport())
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if _, ok := doc["person"]; ok {
				t.Fatal("a report without a person writes the key")
			}
			if tc.person != nil {
				doc["person"] = tc.person
			}
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
			err = schemas.Validate(schemas.SchemaReport, b)
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
