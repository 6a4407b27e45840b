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
	modTime  time.Time
	size     int64
	loadedOK bool
}

// ParseKeys reads a key file: one "KEY NEWSROOM NAME" per line, the key first (16-256
// characters of letters, digits and -._~+/=), then white space and the newsroom's name
// (the rest of the line, at most 100 characters, any language). Blank lines and lines
// starting with # are skipped. A newsroom may hold several keys (to rotate them); a key
// may appear once. Errors name the line, never the key.
func ParseKeys(data []byte) (map[[32]byte]string, error) {
	if len(data) > maxKeysFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrKeys, maxKeysFile)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	out := map[[32]byte]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeysFile)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !utf8.ValidString(text) {
			return nil, fmt.Errorf("%w: line %d: not UTF-8", ErrKeys, line)
		}
		key, name, _ := strings.Cut(text, " ")
		if k, n, ok := strings.Cut(text, "\t"); ok && len(k) < len(key) {
			key, name = k, n
		}
		name = strings.TrimSpace(name)
		if err := checkKey(key); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrKeys, line, err)
		}
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: line %d: no newsroom name after the key", ErrKeys, line)
		case utf8.RuneCountInString(name) > maxNewsroomLen:
			return nil, fmt.Errorf("%w: line %d: newsroom name longer than %d characters", ErrKeys, line, maxNewsroomLen)
		case strings.IndexFunc(name, unicode.IsControl) >= 0:
			return nil, fmt.Errorf("%w: line %d: control character in the newsroom name", ErrKeys, line)
		}
		h := sha256.Sum256([]byte(key))
		if _, dup := out[h]; dup {
			return nil, fmt.Errorf("%w: line %d: key listed twice", ErrKeys, line)
		}
		out[h] = name
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeys, err)
	}
	return out, nil
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
	set, err := ParseKeys(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", k.path, err)
	}
	k.mu.Lock()
	k.byHash, k.modTime, k.size, k.loadedOK = set, fi.ModTime(), fi.Size(), true
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

// AppendKey adds a fresh key for newsroom to the key file at path (created 0600 when
// missing) and returns the key. `votestream up` uses it to hand out a first key.
func AppendKey(path, newsroom string) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
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
