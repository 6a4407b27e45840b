// Command gen writes the dashboards of package dashboards as JSON files, the ones Grafana
// provisions: `go run ./dashboards/cmd/gen` from the repository root, or
// `go generate ./dashboards`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"votestream/dashboards"
)

func main() {
	dir := flag.String("dir", "dashboards", "folder to write the dashboard JSON files into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Println("wrote", path)
	}
	return nil
}
