package schemas_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"votestream/schemas"
)

// TestCatalogueHasEveryConstant: every Anomaly* string constant of the package is in the
// catalogue, once, and the catalogue holds nothing else.
func TestCatalogueHasEveryConstant(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	var consts []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Anomaly") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						consts = append(consts, v)
					}
				}
			}
		}
	}
	if len(consts) == 0 {
		t.Fatal("found no Anomaly* constants: the test no longer sees them")
	}
	slices.Sort(consts)
	codes := slices.Clone(schemas.AnomalyCodes)
	slices.Sort(codes)
	if !slices.Equal(consts, codes) {
		t.Fatalf("constants %v\ncatalogue %v", consts, codes)
	}
	for _, k := range schemas.AnomalyCatalogue {
		if k.Severity != schemas.SeverityHard && k.Severity != schemas.SeveritySoft {
			t.Errorf("%s: severity %q", k.Code, k.Severity)
		}
		if !slices.Contains([]string{"report", "station", "volunteer", "evidence"}, k.Scope) || k.Detector == "" || k.Description == "" {
			t.Errorf("%s: incomplete entry %+v", k.Code, k)
		}
		if _, err := os.Stat(filepath.Join("..", "processors", "consolidate", "anomaly_"+k.Detector+".go")); err != nil {
			t.Errorf("%s: detector file: %v", k.Code, err)
		}
	}
}

// TestSchemaEnumIsTheCatalogue: anomaly.v1.json's code enum lists the catalogue, in order.
func TestSchemaEnumIsTheCatalogue(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("json", "anomaly.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"code"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.Defs.Code.Enum, schemas.AnomalyCodes) {
		t.Fatalf("anomaly.v1.json enum %v\ncatalogue %v", doc.Defs.Code.Enum, schemas.AnomalyCodes)
	}
}

// TestDocsTableIsTheCatalogue: the table in docs/consolidation.md names every code with its
// severity, in catalogue order.
func TestDocsTableIsTheCatalogue(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "consolidation.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][2]string
	in := false
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, "| code | severity |") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		rows = append(rows, [2]string{strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])})
	}
	var want [][2]string
	for _, k := range schemas.AnomalyCatalogue {
		want = append(want, [2]string{k.Code, string(k.Severity)})
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("docs/consolidation.md table %v\ncatalogue %v", rows, want)
	}
}

func TestLookupAnomaly(t *testing.T) {
	for i, k := range schemas.AnomalyCatalogue {
		got, at, ok := schemas.LookupAnomaly(k.Code)
		if !ok || at != i || got != k || schemas.AnomalySeverity(k.Code) != k.Severity {
			t.Fatalf("%s: %+v %d %v", k.Code, got, at, ok)
		}
	}
	if _, _, ok := schemas.LookupAnomaly("WEIRD"); ok || schemas.AnomalySeverity("WEIRD") != "" {
		t.Fatal("an unknown code was found")
	}
}
