package deploycheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]any    `yaml:"depends_on"`
	Command     []string          `yaml:"command"`
	Restart     string            `yaml:"restart"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
}

// readmeServices parses the README's compose table: service | ports | depends on.
func readmeServices(t *testing.T, readme string) map[string][2][]string {
	t.Helper()
	start := strings.Index(readme, "<!-- compose-services")
	end := strings.Index(readme, "<!-- /compose-services -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no compose-services table")
	}
	out := map[string][2][]string{}
	for _, line := range strings.Split(readme[start:end], "\n")[1:] {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 3 || strings.TrimSpace(cells[0]) == "service" || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		out[strings.TrimSpace(cells[0])] = [2][]string{list(cells[1]), list(cells[2])}
	}
	if len(out) == 0 {
		t.Fatal("README.md compose table has no rows")
	}
	return out
}

func list(cell string) []string {
	var out []string
	for _, s := range strings.Split(cell, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func TestComposeMatchesREADME(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	want := readmeServices(t, string(readme))
	for name, w := range want {
		svc, ok := compose.Services[name]
		if !ok {
			t.Errorf("README names service %q, docker-compose.yml does not have it", name)
			continue
		}
		var ports []string
		for _, p := range svc.Ports {
			parts := strings.Split(p, ":")
			ports = append(ports, parts[len(parts)-1])
		}
		slices.Sort(ports)
		if !slices.Equal(ports, w[0]) {
			t.Errorf("service %s: ports %v in compose, README says %v", name, ports, w[0])
		}
		var deps []string
		for d := range svc.DependsOn {
			deps = append(deps, d)
		}
		slices.Sort(deps)
		if !slices.Equal(deps, w[1]) {
			t.Errorf("service %s: depends on %v in compose, README says %v", name, deps, w[1])
		}
		if svc.Image == "" && svc.Build == nil {
			t.Errorf("service %s has neither image nor build", name)
		}
	}
	for name := range compose.Services {
		if _, ok := want[name]; !ok {
			t.Errorf("docker-compose.yml has service %q that the README does not name", name)
		}
	}
}

// TestRolesBuiltFromOneImage: every votestream role service builds from the one Dockerfile.
func TestRolesBuiltFromOneImage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"migrate", "ingest", "consolidate", "estimate", "sink", "feed", "console", "evidencelog"} {
		svc := compose.Services[role]
		if svc.Build != "." || svc.Image != "votestream:latest" {
			t.Errorf("role %s: build %v image %q, want build . image votestream:latest", role, svc.Build, svc.Image)
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	// init is the same binary with a shell and deploy/init.sh (a stage of the one Dockerfile).
	init := compose.Services["init"]
	if b, ok := init.Build.(map[string]any); !ok || b["context"] != "." || b["target"] != "init" {
		t.Errorf("init: build %v, want context . target init", init.Build)
	}
	for _, want := range []string{"AS init", "COPY deploy/init.sh /usr/local/bin/votestream-init"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
