package roster

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"votestream/election"
	"votestream/ingest/token"
)

// ImportConfig is what `votestream volunteers import` can be told.
type ImportConfig struct {
	// Rosters are the organisations' roster CSV files, all imported together (duplicates are
	// found across them). Required.
	Rosters []string
	// Out is the tokens CSV to write: volunteer_id, org, role, scope, expires_at, token. It
	// holds credentials: written with mode 0600, atomically. Required.
	Out string
	// TokenKeysFile is the token key file (token.ParseKeyring); tokens are signed with its
	// last (active) key. Required.
	TokenKeysFile string
	// StaffKeysFile is the separate key file of privileged tokens (district leads, the war
	// room): roster rows of those roles are signed with it. Default "": such rows are
	// refused, since the volunteers' key cannot sign them (token.ErrWrongClass). They still
	// need `votestream staff add` for the console's second factor.
	StaffKeysFile string
	// SaltFile holds the phone-hash salt (at least 16 bytes). Default "": a random salt for
	// this import, which finds duplicates among the rosters imported together; give a file to
	// compare hashes across separate imports. Tokens carry the hash (token.Claims.Person) and
	// consolidation treats equal hashes as one person, so tokens from separate imports link
	// up only if those imports share the salt file.
	SaltFile string
	// ValidFor is how long tokens stay valid from now. Default 7 days (168h).
	ValidFor time.Duration
	// ExpiresAt, when set, is the expiry of every token instead of now + ValidFor.
	ExpiresAt time.Time
	// SkipDuplicates issues a token only to the first listing of a duplicated phone number
	// (in file order). Default false: every listing gets a token and the duplicates are
	// reported for the war room to settle.
	SkipDuplicates bool
	// LinkBase, when set, makes every token a personal link's (token.Claims.Bind: it works
	// on the first phone that opens it only) and adds a link column to the tokens file:
	// LinkBase + "/#t=" + token. The token rides in the fragment, which browsers never send
	// to a server or put in a Referer. Give ingest's public HTTPS origin, such as
	// "https://report.example.org".
	LinkBase string
	// QRDir, with LinkBase, receives one PNG QR code of each volunteer's link, named after
	// the volunteer id ("/" written as "_"), for organisations to send. Created when missing.
	QRDir string
	// Progress, when set, hears how the QR codes get on (about 8 ms of CPU each).
	Progress io.Writer

	// Country, when set (indexed), checks every scope against the reference data.
	Country *election.Country
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultImportConfig returns the defaults documented on each field.
func DefaultImportConfig() ImportConfig {
	return ImportConfig{ValidFor: 7 * 24 * time.Hour}
}

// Summary is what an import did.
type Summary struct {
	Volunteers int         // entries read from all rosters
	Issued     int         // tokens written
	NoPhone    int         // entries without a phone number (never found as duplicates)
	Duplicates []Duplicate // phone numbers listed more than once
	Skipped    int         // listings left without a token (SkipDuplicates)
	ExpiresAt  time.Time
	QRCodes    int // PNG files written to QRDir
	// Entries are the listings that got a token, in file order (for WriteRoster).
	Entries  []Entry
	IssuedAt time.Time
}

// Import reads every roster, finds duplicated people, signs a token for each volunteer and
// writes the tokens file. Nothing is written if any roster has a problem.
func Import(cfg ImportConfig) (Summary, error) {
	var sum Summary
	if err := cfg.validate(); err != nil {
		return sum, err
	}
	linkBase, err := checkLinkBase(cfg.LinkBase)
	if err != nil {
		return sum, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	keys, err := token.LoadKeyring(cfg.TokenKeysFile)
	if err != nil {
		return sum, err
	}
	var staffKeys *token.Keyring
	if cfg.StaffKeysFile != "" {
		if staffKeys, err = token.LoadStaffKeyring(cfg.StaffKeysFile); err != nil {
			return sum, err
		}
		if err := token.CheckDisjoint(keys, staffKeys); err != nil {
			return sum, err
		}
	}
	salt, err := loadSalt(cfg.SaltFile)
	if err != nil {
		return sum, err
	}
	entries, err := readRosters(cfg.Rosters, salt, cfg.Country)
	if err != nil {
		return sum, err
	}

	issuedAt := now()
	expires := cfg.ExpiresAt
	if expires.IsZero() {
		expires = issuedAt.Add(cfg.ValidFor)
	}
	if !expires.After(issuedAt) {
		return sum, fmt.Errorf("roster: expiry %s is not in the future", expires.Format(time.RFC3339))
	}
	sum = Summary{Volunteers: len(entries), Duplicates: FindDuplicates(entries), ExpiresAt: expires.Truncate(time.Second)}
	skip := map[string]bool{} // volunteer ids left without a token
	if cfg.SkipDuplicates {
		for _, d := range sum.Duplicates {
			for _, e := range d.Entries[1:] {
				skip[e.VolunteerID()] = true
			}
		}
	}

	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"volunteer_id", "org", "role", "scope", "expires_at", "token"}
	if linkBase != "" {
		header = append(header, "link")
	}
	_ = w.Write(header)
	var qrs []qrCode
	for _, e := range entries {
		if e.PhoneHash == "" {
			sum.NoPhone++
		}
		if skip[e.VolunteerID()] {
			sum.Skipped++
			continue
		}
		ring := keys
		if token.Privileged(e.Role) {
			if staffKeys == nil {
				return Summary{}, fmt.Errorf("%w: %s:%d: %s is a %s: privileged tokens are signed with the staff key file (--staff-keys)",
					ErrBadRoster, e.Source, e.Line, e.VolunteerID(), e.Role)
			}
			ring = staffKeys
		}
		tok, err := ring.Issue(token.Claims{
			VolunteerID: e.VolunteerID(), Org: e.Org, Role: e.Role,
			Stations: e.Stations, Constituency: e.Constituency,
			// The phone hash rides in the token so consolidation can tell that two
			// organisations' listings are one person ("" without a phone).
			Person:   e.PhoneHash,
			Bind:     linkBase != "",
			IssuedAt: issuedAt, ExpiresAt: expires,
		})
		if err != nil {
			return Summary{}, fmt.Errorf("roster: %s:%d: %w", e.Source, e.Line, err)
		}
		scope := e.Constituency
		if len(e.Stations) > 0 {
			scope = strings.Join(e.Stations, ";")
		}
		row := []string{e.VolunteerID(), e.Org, e.Role, scope, sum.ExpiresAt.Format(time.RFC3339), tok}
		if linkBase != "" {
			link := PersonalLink(linkBase, tok)
			row = append(row, link)
			if cfg.QRDir != "" {
				qrs = append(qrs, qrCode{name: qrFileName(e.VolunteerID()), link: link})
			}
		}
		_ = w.Write(row)
		sum.Issued++
		sum.Entries = append(sum.Entries, e)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return Summary{}, fmt.Errorf("roster: write tokens: %w", err)
	}
	if err := writeAtomic(cfg.Out, buf.Bytes()); err != nil {
		return Summary{}, err
	}
	if err := writeQRCodes(cfg.QRDir, qrs, cfg.Progress); err != nil {
		return Summary{}, err
	}
	sum.QRCodes = len(qrs)
	sum.IssuedAt = issuedAt
	return sum, nil
}

// validate reports the first missing or contradictory setting of an import.
func (cfg ImportConfig) validate() error {
	switch {
	case len(cfg.Rosters) == 0:
		return fmt.Errorf("%w: no roster files", ErrBadRoster)
	case cfg.Out == "":
		return errors.New("roster: no output file")
	case cfg.TokenKeysFile == "":
		return errors.New("roster: no token key file")
	case cfg.ExpiresAt.IsZero() && cfg.ValidFor <= 0:
		return errors.New("roster: tokens need a positive validity or an expiry time")
	case cfg.QRDir != "" && cfg.LinkBase == "":
		return errors.New("roster: QR codes need a link base (the form's address)")
	}
	return nil
}

// readRosters parses every roster (reporting the problems of all of them at once) and
// checks that no volunteer id is in two of them.
func readRosters(paths []string, salt []byte, country *election.Country) ([]Entry, error) {
	var entries []Entry
	var problems []error
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("roster: %w", err)
		}
		es, err := Parse(f, filepath.Base(path), salt, country)
		f.Close()
		if err != nil {
			problems = append(problems, err)
			continue
		}
		entries = append(entries, es...)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	seen := map[string]Entry{}
	for _, e := range entries {
		if prev, dup := seen[e.VolunteerID()]; dup {
			return nil, fmt.Errorf("%w: volunteer %s is in %s:%d and %s:%d", ErrBadRoster, e.VolunteerID(), prev.Source, prev.Line, e.Source, e.Line)
		}
		seen[e.VolunteerID()] = e
	}
	return entries, nil
}

func loadSalt(path string) ([]byte, error) {
	if path == "" {
		salt := make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return nil, fmt.Errorf("roster: random salt: %w", err)
		}
		return salt, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("roster: salt: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 16 {
		return nil, fmt.Errorf("roster: salt file %s holds %d bytes, want at least 16", path, len(b))
	}
	return b, nil
}

// writeAtomic writes data to a temporary file beside path and renames it into place, so a
// reader sees the old file or the whole new one.
func writeAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("roster: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("roster: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("roster: close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	return nil
}

// WriteDuplicates lists duplicated phone numbers for the operator, one line per listing:
// a short prefix of the phone hash (never the number), the token volunteer id, and where
// the listing is. Cross-organisation duplicates are marked.
func WriteDuplicates(w io.Writer, dups []Duplicate) error {
	for _, d := range dups {
		mark := "same organisation"
		if d.CrossOrg() {
			mark = "ACROSS ORGANISATIONS"
		}
		if _, err := fmt.Fprintf(w, "phone %s… listed %d times (%s):\n", d.PhoneHash[:12], len(d.Entries), mark); err != nil {
			return err
		}
		for _, e := range d.Entries {
			if _, err := fmt.Fprintf(w, "  %s\t%s:%d\n", e.VolunteerID(), e.Source, e.Line); err != nil {
				return err
			}
		}
	}
	return nil
}
