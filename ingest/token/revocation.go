package token

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Revocations is a list of revoked volunteer ids and token ids, read from a file with one id
// per line ('#' starts a comment). Revoking a volunteer id revokes every token of that
// person; revoking a token id revokes one token (a lost phone) and leaves a re-issued token
// valid. Checking is safe for concurrent use with Reload and costs one map lookup per id.
type Revocations struct {
	path string
	ids  atomic.Pointer[map[string]struct{}]

	mu      sync.Mutex // serialises Reload
	modTime time.Time
	size    int64
}

// NoRevocations returns an empty list that never reloads.
func NoRevocations() *Revocations {
	r := &Revocations{}
	r.ids.Store(&map[string]struct{}{})
	return r
}

// LoadRevocations reads the file at path. An empty path gives an empty list. A missing file
// is an error: a configured revocation list that silently vanished would re-admit everyone.
func LoadRevocations(path string) (*Revocations, error) {
	r := NoRevocations()
	r.path = path
	if path == "" {
		return r, nil
	}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the file when its size or modification time changed, and reports whether
// it did. On error the previous list stays in force.
func (r *Revocations) Reload() (bool, error) {
	if r.path == "" {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(r.path)
	if err != nil {
		return false, fmt.Errorf("token: revocation list: %w", err)
	}
	if st.ModTime().Equal(r.modTime) && st.Size() == r.size {
		return false, nil
	}
	f, err := os.Open(r.path)
	if err != nil {
		return false, fmt.Errorf("token: revocation list: %w", err)
	}
	defer f.Close()
	ids, err := parseRevocations(f)
	if err != nil {
		return false, fmt.Errorf("token: revocation list %s: %w", r.path, err)
	}
	r.ids.Store(&ids)
	r.modTime, r.size = st.ModTime(), st.Size()
	return true, nil
}

func parseRevocations(rd io.Reader) (map[string]struct{}, error) {
	ids := map[string]struct{}{}
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			ids[line] = struct{}{}
		}
	}
	return ids, sc.Err()
}

// Len returns how many ids the list holds.
func (r *Revocations) Len() int { return len(*r.ids.Load()) }

// Check returns an error wrapping ErrRevoked when c's token id or volunteer id is listed.
func (r *Revocations) Check(c Claims) error {
	ids := *r.ids.Load()
	if _, ok := ids[c.TokenID]; ok {
		return fmt.Errorf("%w: token %s", ErrRevoked, c.TokenID)
	}
	if _, ok := ids[c.VolunteerID]; ok {
		return fmt.Errorf("%w: volunteer %s", ErrRevoked, c.VolunteerID)
	}
	return nil
}
