package feed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoSuchNewsroom: the key file holds no key of that newsroom.
var ErrNoSuchNewsroom = errors.New("feed: no key of that newsroom in the key file")

// RevokeNewsroom removes every key of newsroom, and its `!limit` line, from the key file,
// keeping every other line as it was; a running feed drops the keys at its next reload.
// It returns how many keys it removed. The file is replaced whole (write, then rename).
func RevokeNewsroom(path, newsroom string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("feed: key file: %w", err)
	}
	if _, _, err := ParseKeyFile(data); err != nil {
		return 0, err // never rewrite a file the feed would refuse
	}
	var out bytes.Buffer
	removed := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeysFile)
	for sc.Scan() {
		line := sc.Text()
		if lineNewsroom(line) == newsroom {
			if !strings.HasPrefix(strings.TrimSpace(line), "!") {
				removed++
			}
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("feed: key file: %w", err)
	}
	if removed == 0 {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchNewsroom, newsroom)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".newsroom-keys-*")
	if err != nil {
		return 0, fmt.Errorf("feed: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(out.Bytes())
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("feed: key file: %w", err)
	}
	return removed, nil
}

// lineNewsroom returns the newsroom a key or `!limit` line names ("" for others), read as
// ParseKeyFile reads it.
func lineNewsroom(line string) string {
	text := strings.TrimSpace(line)
	if text == "" || strings.HasPrefix(text, "#") {
		return ""
	}
	if rest, ok := strings.CutPrefix(strings.Replace(text, "\t", " ", 1), "!limit "); ok {
		name, _, err := parseLimitLine(rest)
		if err != nil {
			return ""
		}
		return name
	}
	key, name, _ := strings.Cut(text, " ")
	if k, n, ok := strings.Cut(text, "\t"); ok && len(k) < len(key) {
		name = n
	}
	return strings.TrimSpace(name)
}
