// Package staff keeps the enrolled staff of the console, the people behind privileged
// tokens (district leads, the war room, the decision desk), and checks their second factor:
// TOTP codes (RFC 6238, 6 digits, 30 s, SHA-1, as every authenticator app reads an
// otpauth:// URI) computed by github.com/pquerna/otp. What this package adds is the
// enrolment file and the refusal of a code already used (Guard).
//
// The enrolment file is JSON, mode 0600, written atomically: it holds the TOTP secrets.
// A person is enrolled once per token id (the token's sub, Claims.VolunteerID); the console
// re-reads the file at every sign-in, so `votestream staff add` takes effect at once.
package staff

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Sentinel errors.
var (
	// ErrNotEnrolled: no enrolment for the token's holder, or one of another role or scope.
	ErrNotEnrolled = errors.New("staff: not enrolled")
	// ErrBadCode: the code is not the holder's current one (nor the one before or after).
	ErrBadCode = errors.New("staff: wrong code")
	// ErrReplayed: the code was right but already used to sign in.
	ErrReplayed = errors.New("staff: code already used")
	// ErrLocked: too many wrong codes in a row; sign-in waits LockFor.
	ErrLocked = errors.New("staff: too many wrong codes")
	// ErrBadFile: the enrolment file is unreadable or inconsistent.
	ErrBadFile = errors.New("staff: bad enrolment file")
)

// Issuer names votestream in authenticator apps.
const Issuer = "votestream"

// Period is the TOTP time step.
const Period = 30 * time.Second

// Member is one enrolled person.
type Member struct {
	ID           string    `json:"id"`   // the token's sub (Claims.VolunteerID)
	Name         string    `json:"name"` // as people call them; for the logs and the queue
	Role         string    `json:"role"`
	Constituency string    `json:"constituency,omitempty"`
	Secret       string    `json:"totp_secret"` // base32, as in the otpauth URI
	AddedAt      time.Time `json:"added_at"`
}

type file struct {
	Staff []Member `json:"staff"`
}

// Load reads the enrolment file. A missing file is an empty registry.
func Load(path string) ([]Member, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("staff: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	return f.Staff, nil
}

// Find returns the member with id.
func Find(members []Member, id string) (Member, bool) {
	i := slices.IndexFunc(members, func(m Member) bool { return m.ID == id })
	if i < 0 {
		return Member{}, false
	}
	return members[i], true
}

// Enrol adds m with a fresh TOTP secret to the file (replacing an enrolment of the same
// id: a lost phone is a new enrolment) and returns the key, whose URL() is the otpauth URI
// and Image() its QR code.
func Enrol(path string, m Member, now time.Time) (*otp.Key, error) {
	if m.ID == "" || m.Role == "" {
		return nil, fmt.Errorf("%w: a member needs an id and a role", ErrBadFile)
	}
	members, err := Load(path)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: m.ID, Period: uint(Period / time.Second), SecretSize: 20})
	if err != nil {
		return nil, fmt.Errorf("staff: totp secret: %w", err)
	}
	m.Secret, m.AddedAt = key.Secret(), now.UTC().Truncate(time.Second)
	members = slices.DeleteFunc(members, func(o Member) bool { return o.ID == m.ID })
	members = append(members, m)
	b, err := json.MarshalIndent(file{Staff: members}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(path, append(b, '\n')); err != nil {
		return nil, err
	}
	return key, nil
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".staff-*")
	if err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("staff: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("staff: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("staff: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("staff: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// Code returns m's code at t (for `votestream staff code` on a local `up`, and tests).
func Code(m Member, t time.Time) (string, error) {
	return totp.GenerateCode(m.Secret, t)
}

// MaxFailures wrong codes in a row lock a member's sign-in for LockFor: a stolen token
// then buys a few guesses of a million an hour, not a brute force.
const (
	MaxFailures = 5
	LockFor     = 15 * time.Minute
)

// Guard checks codes and remembers, per member, the newest time step a code was accepted
// for: a code is accepted once, and never one older than the last accepted (RFC 6238 §5.2).
// In memory: a console restart forgets, which re-opens at most the 90 seconds a code
// lives. Safe for concurrent use.
type Guard struct {
	mu     sync.Mutex
	last   map[string]uint64
	failed map[string]int       // wrong codes in a row
	locked map[string]time.Time // until when
}

// Check accepts code if it is m's code for the time step of now or the one either side
// (clocks of phones drift) and that step is newer than the last accepted.
func (g *Guard) Check(m Member, code string, now time.Time) error {
	g.mu.Lock()
	if g.last == nil {
		g.last, g.failed, g.locked = map[string]uint64{}, map[string]int{}, map[string]time.Time{}
	}
	if until, ok := g.locked[m.ID]; ok && now.Before(until) {
		g.mu.Unlock()
		return ErrLocked
	}
	g.mu.Unlock()
	err := g.check(m, code, now)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case errors.Is(err, ErrBadCode):
		g.failed[m.ID]++
		if g.failed[m.ID] >= MaxFailures {
			g.locked[m.ID], g.failed[m.ID] = now.Add(LockFor), 0
		}
	case err == nil:
		delete(g.failed, m.ID)
	}
	return err
}

func (g *Guard) check(m Member, code string, now time.Time) error {
	if len(code) != 6 {
		return ErrBadCode
	}
	step := uint64(now.Unix()) / uint64(Period/time.Second)
	matched := uint64(0)
	found := false
	for _, s := range []uint64{step - 1, step, step + 1} {
		want, err := hotp.GenerateCodeCustom(m.Secret, s, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return fmt.Errorf("%w: member %s: %v", ErrBadFile, m.ID, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched, found = s, true
		}
	}
	if !found {
		return ErrBadCode
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.last[m.ID]; ok && matched <= last {
		return ErrReplayed
	}
	g.last[m.ID] = matched
	return nil
}
