package schemas_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"votestream/schemas"
)

// TestWriteStringFastPath: the plain-ASCII shortcut writes exactly what encoding/json
// writes, for strings on both sides of the shortcut.
func TestWriteStringFastPath(t *testing.T) {
	for _, s := range []string{"", "BKK_1_0042", "sha256:00ff", "a b~", `q"uote`, `back\slash`, "tab\t", "ไทย", "<&>", "\u2028", "\x7f", string([]byte{0xff})} {
		sub := schemas.Submission{StationID: s}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := schemas.CanonicalJSON(sub)
		prefix := `{"station_id":` + strings.TrimSuffix(want.String(), "\n") + `,`
		if !strings.HasPrefix(string(got), prefix) {
			t.Errorf("%q: canonical JSON starts %q, want %q", s, got[:min(len(got), len(prefix))], prefix)
		}
	}
}
