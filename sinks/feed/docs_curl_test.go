package feed

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var shBlockRE = regexp.MustCompile("(?s)```sh\n(.*?)```")

// TestFeedDocsCurlExamples runs every curl example of docs/feed.md, as written but for the
// host, against the feed's real handler serving a small night: each block must succeed,
// every JSON it saves must be a feed answer, and the event streams (curl -N, which never
// end by themselves) must have started before curl is stopped.
func TestFeedDocsCurlExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the docs' examples need %s: %v", tool, err)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "feed.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range shBlockRE.FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(m[1], "curl ") && strings.Contains(m[1], "https://feed.example.org") {
			blocks = append(blocks, m[1])
		}
	}
	if len(blocks) < 4 {
		t.Fatalf("%d curl examples in docs/feed.md, want the 4 it has", len(blocks))
	}
	f := newTestFeed(t, nil)
	f.markReady()
	f.applyResult(res("BKK_1_001", cons, 1, prov, fin, 500, 10, 6, map[string]int{"1": 250, "2": 234}, 5))
	f.applyResult(res("BKK_2_001", cons, 1, prov, fin, 400, 10, 6, map[string]int{"1": 200, "2": 184}, 6))
	srv := serve(t, f)

	for i, block := range blocks {
		dir := t.TempDir()
		script := strings.ReplaceAll(block, "https://feed.example.org", srv.URL)
		// A stream never ends: give it two seconds, then look at what arrived.
		script = strings.ReplaceAll(script, "curl -N ", "curl -N --max-time 2 -o stream.txt ")
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		cmd := exec.CommandContext(ctx, "bash", "-c", "set -e -o pipefail\n"+script)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "FEED_KEY="+keyNation)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		streamed, _ := os.ReadFile(filepath.Join(dir, "stream.txt"))
		if strings.Contains(block, "curl -N") {
			var ee *exec.ExitError
			if err != nil && !(asExit(err, &ee) && ee.ExitCode() == 28) { // 28: curl's --max-time
				t.Errorf("example %d failed: %v\n%s\n%s%s", i+1, err, block, out, stderr.String())
			}
			if !strings.Contains(string(streamed), "retry: ") {
				t.Errorf("example %d: the stream did not start:\n%s\n%s", i+1, block, streamed)
			}
		} else if err != nil {
			t.Errorf("example %d failed: %v\n%s\n%s%s", i+1, err, block, out, stderr.String())
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		bodies := map[string][]byte{}
		for _, p := range files {
			bodies[filepath.Base(p)], _ = os.ReadFile(p)
		}
		if len(files) == 0 && !strings.Contains(block, "curl -N") {
			bodies["stdout"] = out // the answer is printed when nothing was saved
		}
		for name, body := range bodies {
			var answer struct {
				Unofficial bool `json:"unofficial"`
			}
			if err := json.Unmarshal(body, &answer); err != nil || !answer.Unofficial {
				t.Errorf("example %d: %s is not a feed answer (%v):\n%s", i+1, name, err, body)
			}
		}
	}
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
