package console_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"votestream/schemas"
)

// TestWebAppNamesEveryCode: the console's Thai label table (T.code in web/app.js) has every
// code of the anomaly catalogue, so a new detector's flags are named in the queue rather
// than shown as a bare code.
func TestWebAppNamesEveryCode(t *testing.T) {
	raw, err := os.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	i := strings.Index(src, "code: {")
	if i < 0 {
		t.Fatal("web/app.js: no `code: {` table")
	}
	j := strings.Index(src[i:], "}")
	var got []string
	for _, m := range regexp.MustCompile(`([A-Z_]+):\s*"`).FindAllStringSubmatch(src[i:i+j], -1) {
		got = append(got, m[1])
	}
	for _, code := range schemas.AnomalyCodes {
		if !slices.Contains(got, code) {
			t.Errorf("web/app.js names no %s (has %v)", code, got)
		}
	}
}
