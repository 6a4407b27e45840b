package feed

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Key file limits.
const (
	minKeyLen      = 16
	maxKeyLen      = 256
	maxNewsroomLen = 100
	maxKeysFile    = 1 << 20
)

// Keys maps newsroom API keys to newsroom names. Keys are held by their SHA-256 only, so
// a lookup's timing says nothing about a key's bytes. Safe for concurrent use; Reload
// swaps the whole set at once.
type Keys struct {
	path string

	mu       sync.RWMutex
	byHash   map[[32]byte]string
	limits   map[string]Limit // by newsroom: the file's `!limit` lines
	modTime  time.Time
	size     int64
	loadedOK bool
}

// Limit is a newsroom's request rate: a token bucket of Burst requests, refilled at Rate
// requests a second.
type Limit struct {
	Rate  float64
	Burst int
}

// maxRate and maxBurst bound a `!limit` line, so a typo cannot switch a limit off.
const (
	maxRate  = 10_000
	maxBurst = 100_000
)

// ParseKeys reads a key file: one "KEY NEWSROOM NAME" per line, the key first (16-256
// characters of letters, digits and -._~+/=), then white space and the newsroom's name
// (the rest of the line, at most 100 characters, any language). Blank lines and lines
// starting with # are skipped. A newsroom may hold several keys (to rotate them); a key
// may appear once. Errors name the line, never the key. `!limit` lines are checked and
// left out (see ParseKeyFile).
func ParseKeys(data []byte) (map[[32]byte]string, error) {
	set, _, err := ParseKeyFile(data)
	return set, err
}

// ParseKeyFile is ParseKeys that also returns the rate limits of the file's
// "!limit rate=R burst=B NEWSROOM NAME" lines (R requests a second, B at once; both
// required), one at most per newsroom, each naming a newsroom that holds a key in the file.
func ParseKeyFile(data []byte) (map[[32]byte]string, map[string]Limit, error) {
	if len(data) > maxKeysFile {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrKeys, maxKeysFile)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	out := map[[32]byte]string{}
	limits := map[string]Limit{}
	limitLine := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeysFile)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !utf8.ValidString(text) {
			return nil, nil, fmt.Errorf("%w: line %d: not UTF-8", ErrKeys, line)
		}
		if strings.HasPrefix(text, "!") {
			directive, rest, _ := strings.Cut(strings.Replace(text, "\t", " ", 1), " ")
			if directive != "!limit" {
				return nil, nil, fmt.Errorf("%w: line %d: unknown directive %q (the only one is !limit)", ErrKeys, line, truncate(directive, 20))
			}
			name, lim, err := parseLimitLine(rest)
			if err == nil {
				err = checkNewsroom(name)
			}
			if err == nil && limitLine[name] > 0 {
				err = fmt.Errorf("a second limit for %q (the first is on line %d)", name, limitLine[name])
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%w: line %d: %v", ErrKeys, line, err)
			}
			limits[name], limitLine[name] = lim, line
			continue
		}
		key, name, _ := strings.Cut(text, " ")
		if k, n, ok := strings.Cut(text, "\t"); ok && len(k) < len(key) {
			key, name = k, n
		}
		name = strings.TrimSpace(name)
		if err := checkKey(key); err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %v", ErrKeys, line, err)
		}
		if err := checkNewsroom(name); err != nil {
			return nil, nil, fmt.Errorf("%w: line %d: %v", ErrKeys, line, err)
		}
		h := sha256.Sum256([]byte(key))
		if _, dup := out[h]; dup {
			return nil, nil, fmt.Errorf("%w: line %d: key listed twice", ErrKeys, line)
		}
		out[h] = name
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKeys, err)
	}
	if len(limits) > 0 {
		held := map[string]bool{}
		for _, name := range out {
			held[name] = true
		}
		for name, line := range limitLine {
			if !held[name] {
				return nil, nil, fmt.Errorf("%w: line %d: a limit for %q, which holds no key in the file", ErrKeys, line, name)
			}
		}
	}
	return out, limits, nil
}

func checkNewsroom(name string) error {
	switch {
	case name == "":
		return errors.New("no newsroom name after the key")
	case utf8.RuneCountInString(name) > maxNewsroomLen:
		return fmt.Errorf("newsroom name longer than %d characters", maxNewsroomLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("control character in the newsroom name")
	}
	return nil
}

// parseLimitLine reads what follows "!limit": "rate=R burst=B NEWSROOM NAME".
func parseLimitLine(rest string) (string, Limit, error) {
	var lim Limit
	var haveRate, haveBurst bool
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	for {
		word, after, _ := strings.Cut(rest, " ")
		if w, a, ok := strings.Cut(rest, "\t"); ok && len(w) < len(word) {
			word, after = w, a
		}
		k, v, ok := strings.Cut(word, "=")
		if !ok || (k != "rate" && k != "burst") {
			break
		}
		switch k {
		case "rate":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || !(r > 0) || r > maxRate {
				return "", lim, fmt.Errorf("limit rate %q: want requests a second, above 0 and at most %d", v, maxRate)
			}
			lim.Rate, haveRate = r, true
		case "burst":
			b, err := strconv.Atoi(v)
			if err != nil || b < 1 || b > maxBurst {
				return "", lim, fmt.Errorf("limit burst %q: want a whole number of requests, 1 to %d", v, maxBurst)
			}
			lim.Burst, haveBurst = b, true
		}
		rest = strings.TrimLeftFunc(after, unicode.IsSpace)
	}
	if !haveRate || !haveBurst {
		return "", lim, errors.New(`a limit needs both rate= and burst=, as in "!limit rate=5 burst=20 Thai PBS"`)
	}
	return strings.TrimSpace(rest), lim, nil
}

func checkKey(key string) error {
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return fmt.Errorf("key must be %d-%d characters", minKeyLen, maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0) {
			return errors.New("key has a character other than letters, digits and -._~+/=")
		}
	}
	return nil
}

// LoadKeys reads the key file at path.
func LoadKeys(path string) (*Keys, error) {
	k := &Keys{path: path}
	if _, err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload re-reads the file when its size or modification time changed and reports whether
// the set changed. On error the previous set stays in force.
func (k *Keys) Reload() (bool, error) {
	fi, err := os.Stat(k.path)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrKeys, err)
	}
	k.mu.RLock()
	same := k.loadedOK && fi.ModTime().Equal(k.modTime) && fi.Size() == k.size
	k.mu.RUnlock()
	if same {
		return false, nil
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrKeys, err)
	}
	set, limits, err := ParseKeyFile(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", k.path, err)
	}
	k.mu.Lock()
	k.byHash, k.limits, k.modTime, k.size, k.loadedOK = set, limits, fi.ModTime(), fi.Size(), true
	k.mu.Unlock()
	return true, nil
}

// Newsroom returns the newsroom holding key; false for an unknown key.
func (k *Keys) Newsroom(key string) (string, bool) {
	h := sha256.Sum256([]byte(key))
	k.mu.RLock()
	defer k.mu.RUnlock()
	name, ok := k.byHash[h]
	return name, ok
}

// Limit returns the newsroom's own rate limit from the key file; false: the default applies.
func (k *Keys) Limit(newsroom string) (Limit, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	l, ok := k.limits[newsroom]
	return l, ok
}

// Len returns the number of keys.
func (k *Keys) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.byHash)
}

// NewKey returns a fresh random key (32 hex digits).
func NewKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("feed: new key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// TestKeyPrefix starts every test key: a feed in test mode takes only these, a live feed
// never (Config.TestMode).
const TestKeyPrefix = "test_"

// IsTestKey reports whether key is a test key.
func IsTestKey(key string) bool { return strings.HasPrefix(key, TestKeyPrefix) }

// AppendTestKey is AppendKey for a test key, for the test-mode feed's key file.
func AppendTestKey(path, newsroom string) (string, error) {
	return appendKey(path, newsroom, TestKeyPrefix)
}

// AppendKey adds a fresh key for newsroom to the key file at path (created 0600 when
// missing) and returns the key. `votestream up` uses it to hand out a first key.
func AppendKey(path, newsroom string) (string, error) { return appendKey(path, newsroom, "") }

func appendKey(path, newsroom, prefix string) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	key = prefix + key
	line := key + " " + newsroom + "\n"
	if _, err := ParseKeys([]byte(line)); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("feed: key file: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return "", fmt.Errorf("feed: key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("feed: key file: %w", err)
	}
	return key, nil
}
