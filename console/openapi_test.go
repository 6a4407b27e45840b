package console

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every API route the handler serves is in openapi.json, with its method, and nothing else.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+path)
		}
	}
	src, err := serverSource()
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, m := range regexp.MustCompile(`route\("([A-Z]+ /v1/[^"]+)"`).FindAllStringSubmatch(src, -1) {
		served = append(served, m[1])
	}
	slices.Sort(documented)
	slices.Sort(served)
	if len(served) == 0 || !slices.Equal(documented, served) {
		t.Fatalf("openapi.json documents %q; the handler serves %q", documented, served)
	}
}

func serverSource() (string, error) {
	b, err := os.ReadFile("server.go")
	return string(b), err
}
