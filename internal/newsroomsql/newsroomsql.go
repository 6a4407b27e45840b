// Package newsroomsql gives each newsroom its own read-only ClickHouse user, as one XML
// file in the server's users.d folder (ClickHouse merges users.d/*.xml into users.xml and
// picks up new, changed and removed files by itself within seconds, or at once on SYSTEM
// RELOAD CONFIG). Each user has its own password, a profile of limits per query (execution
// time, rows read, memory, a lower priority than the war room's) and a quota of queries
// per hour, and sees only the databases it is given.
//
// It writes files only; it never connects to ClickHouse.
package newsroomsql

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/template"
	"time"
	"unicode"
)

// ErrExists and ErrNotFound: a newsroom holds a user already, or none.
var (
	ErrExists   = errors.New("newsroomsql: the newsroom already has a ClickHouse user")
	ErrNotFound = errors.New("newsroomsql: the newsroom has no ClickHouse user")
	ErrInvalid  = errors.New("newsroomsql: invalid")
)

// Limits are what one newsroom's queries may use.
type Limits struct {
	MaxExecutionTime time.Duration // per query
	MaxRowsToRead    uint64        // per query
	MaxMemoryUsage   uint64        // bytes per query
	QueriesPerHour   int           // the quota
	Priority         int           // ClickHouse priority: higher numbers yield to lower ones (the war room's is 0)
}

// DefaultLimits: generous for the cookbook's queries on a whole night, small enough that
// no newsroom can hold the server.
func DefaultLimits() Limits {
	return Limits{MaxExecutionTime: 30 * time.Second, MaxRowsToRead: 100_000_000, MaxMemoryUsage: 1 << 30,
		QueriesPerHour: 3600, Priority: 10}
}

// Validate refuses limits that would switch a limit off (0 means unlimited to ClickHouse).
func (l Limits) Validate() error {
	switch {
	case l.MaxExecutionTime < time.Second:
		return fmt.Errorf("%w: max execution time %s < 1s", ErrInvalid, l.MaxExecutionTime)
	case l.MaxRowsToRead == 0 || l.MaxMemoryUsage == 0 || l.QueriesPerHour <= 0:
		return fmt.Errorf("%w: rows, memory and queries per hour must be above 0", ErrInvalid)
	case l.Priority < 1:
		return fmt.Errorf("%w: priority %d: newsrooms must yield to the war room (priority 0)", ErrInvalid, l.Priority)
	}
	return nil
}

var userNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// UserName derives a newsroom's ClickHouse user name: "newsroom_" and the ASCII letters
// and digits of its name, lower case. A name with other letters (a Thai name) gets a short
// hash of the whole name too, so that "ไทยรัฐ 2" and "มติชน 2" stay apart.
func UserName(newsroom string) string {
	var b strings.Builder
	other := false
	for _, r := range strings.ToLower(newsroom) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case (r == ' ' || r == '-' || r == '_' || r == '.') && b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		case r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			other = true
		}
	}
	slug := strings.TrimSuffix(b.String(), "_")
	if len(slug) > 40 {
		slug = slug[:40]
	}
	if other || slug == "" {
		sum := sha256.Sum256([]byte(newsroom))
		slug = strings.TrimPrefix(slug+"_"+hex.EncodeToString(sum[:4]), "_")
	}
	return "newsroom_" + slug
}

// User is one newsroom's ClickHouse user.
type User struct {
	Newsroom  string
	Name      string   // set by Add: UserName(Newsroom)
	Databases []string // the only databases it may read
	Networks  []string // addresses it may connect from (CIDR); default loopback
	Limits    Limits
	Embargoed bool // granted the databases' NAME_embargoed stand-ins until SetEmbargo lifts it
}

func (u *User) fill() error {
	if strings.TrimSpace(u.Newsroom) == "" {
		return fmt.Errorf("%w: empty newsroom name", ErrInvalid)
	}
	u.Name = UserName(u.Newsroom)
	if !userNameRE.MatchString(u.Name) {
		return fmt.Errorf("%w: user name %q (want lower-case letters, digits and _)", ErrInvalid, u.Name)
	}
	if len(u.Databases) == 0 {
		return fmt.Errorf("%w: no database to read", ErrInvalid)
	}
	for _, db := range u.Databases {
		if !userNameRE.MatchString(strings.ToLower(db)) {
			return fmt.Errorf("%w: database %q", ErrInvalid, db)
		}
	}
	if len(u.Networks) == 0 {
		u.Networks = []string{"127.0.0.1", "::1"}
	}
	for _, n := range u.Networks {
		if strings.ContainsAny(n, "<>&\"' ") || n == "" {
			return fmt.Errorf("%w: network %q", ErrInvalid, n)
		}
	}
	return u.Limits.Validate()
}

// lockDir holds an exclusive lock on dir's .newsroom.lock until the returned func is
// called: Add, Remove and SetEmbargo take it, so that SetEmbargo's rewrite of a file can
// never bring back a user Remove has just deleted.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".newsroom.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("newsroomsql: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("newsroomsql: lock: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// Path returns the file of user name in dir.
func Path(dir, name string) string { return filepath.Join(dir, "newsroom-"+name+".xml") }

var userXML = template.Must(template.New("user").Parse(`<?xml version="1.0"?>
<!-- votestream: the read-only ClickHouse user of newsroom "{{.Comment}}". Written by
     "votestream feed newsroom add"; removed by "votestream feed newsroom revoke". -->
<yandex>
  <profiles>
    <{{.U.Name}}>
      <readonly>2</readonly>
      <max_execution_time>{{.Seconds}}</max_execution_time>
      <timeout_overflow_mode>throw</timeout_overflow_mode>
      <max_rows_to_read>{{.U.Limits.MaxRowsToRead}}</max_rows_to_read>
      <read_overflow_mode>throw</read_overflow_mode>
      <max_memory_usage>{{.U.Limits.MaxMemoryUsage}}</max_memory_usage>
      <max_concurrent_queries_for_user>4</max_concurrent_queries_for_user>
      <priority>{{.U.Limits.Priority}}</priority>
    </{{.U.Name}}>
  </profiles>
  <users>
    <{{.U.Name}}>
      <password_sha256_hex>{{.Hash}}</password_sha256_hex>
      <networks>{{range .U.Networks}}<ip>{{.}}</ip>{{end}}</networks>
      <profile>{{.U.Name}}</profile>
      <quota>{{.U.Name}}</quota>
      <allow_databases>{{range .U.Databases}}<database>{{.}}{{$.Suffix}}</database>{{end}}</allow_databases>
    </{{.U.Name}}>
  </users>
  <quotas>
    <{{.U.Name}}>
      <interval>
        <duration>3600</duration>
        <queries>{{.U.Limits.QueriesPerHour}}</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </{{.U.Name}}>
  </quotas>
</yandex>
`))

// Add writes u's file into dir (a ClickHouse users.d folder) and returns its password,
// which is stored only as its SHA-256. It refuses a user that exists. The file appears
// whole or not at all.
func Add(dir string, u User) (User, string, error) {
	if err := u.fill(); err != nil {
		return u, "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return u, "", fmt.Errorf("newsroomsql: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return u, "", err
	}
	defer unlock()
	path := Path(dir, u.Name)
	if _, err := os.Stat(path); err == nil {
		return u, "", fmt.Errorf("%w: %s (%s)", ErrExists, u.Name, path)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return u, "", fmt.Errorf("newsroomsql: password: %w", err)
	}
	password := hex.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(password))
	var b strings.Builder
	suffix := ""
	if u.Embargoed {
		suffix = EmbargoSuffix
	}
	comment := strings.NewReplacer("--", "- -", "<", "", ">", "", "&", "").Replace(u.Newsroom)
	if err := userXML.Execute(&b, map[string]any{"U": u, "Hash": hex.EncodeToString(sum[:]), "Comment": comment,
		"Seconds": int64(u.Limits.MaxExecutionTime / time.Second), "Suffix": suffix}); err != nil {
		return u, "", fmt.Errorf("newsroomsql: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return u, "", fmt.Errorf("newsroomsql: %w", err)
	}
	tmp, err := writeTemp(dir, b.String())
	if err != nil {
		return u, "", err
	}
	defer os.Remove(tmp)
	// Link, not rename: it fails if a user of that name appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return u, "", fmt.Errorf("%w: %s (%s)", ErrExists, u.Name, path)
		}
		return u, "", fmt.Errorf("newsroomsql: %w", err)
	}
	return u, password, nil
}

// Remove deletes the file of the newsroom's user from dir.
func Remove(dir, newsroom string) (string, error) {
	name := UserName(newsroom)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return name, fmt.Errorf("%w: %s (no folder %s)", ErrNotFound, name, dir)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return name, err
	}
	defer unlock()
	if err := os.Remove(Path(dir, name)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return name, fmt.Errorf("%w: %s in %s", ErrNotFound, name, dir)
		}
		return name, fmt.Errorf("newsroomsql: %w", err)
	}
	return name, nil
}

// EmbargoSuffix marks a granted database while the embargo holds: the user is granted
// NAME_embargoed, which does not exist, instead of NAME, so until polls close it reads
// nothing of the night (docs/sql.md, "Embargo").
const EmbargoSuffix = "_embargoed"

// Marker is in every users file this package (or scripts/services, for the shared
// newsroom user) writes; SetEmbargo changes only files that carry it.
const Marker = "votestream:"

var grantRE = regexp.MustCompile(`<database>([A-Za-z0-9_]+)</database>`)

// SetEmbargo grants every newsroom user of dir (the files newsroom*.xml carrying Marker) its
// databases (embargoed false) or, while embargoed, only their NAME_embargoed stand-ins. A
// file is replaced whole (written beside it, then renamed), and only when it changes; it
// returns how many changed. The server picks the change up within seconds.
func SetEmbargo(dir string, embargoed bool) (int, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("newsroomsql: users folder: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	files, err := filepath.Glob(filepath.Join(dir, "newsroom*.xml"))
	if err != nil {
		return 0, fmt.Errorf("newsroomsql: %w", err)
	}
	changed := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) { // revoked meanwhile
				continue
			}
			return changed, fmt.Errorf("newsroomsql: %w", err)
		}
		if !strings.Contains(string(data), Marker) {
			continue
		}
		out := grantRE.ReplaceAllStringFunc(string(data), func(m string) string {
			name := strings.TrimSuffix(grantRE.FindStringSubmatch(m)[1], EmbargoSuffix)
			if embargoed {
				name += EmbargoSuffix
			}
			return "<database>" + name + "</database>"
		})
		if out == string(data) {
			continue
		}
		if err := replaceFile(dir, path, out); err != nil {
			return changed, err
		}
		changed++
	}
	return changed, nil
}

func replaceFile(dir, path, text string) error {
	tmp, err := writeTemp(dir, text)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("newsroomsql: %w", err)
	}
	return nil
}

// writeTemp writes text to a new file in dir, named so that the server ignores it (not
// *.xml), readable by the server's group, and returns its path.
func writeTemp(dir, text string) (string, error) {
	tmp, err := os.CreateTemp(dir, ".newsroom-*.tmp")
	if err != nil {
		return "", fmt.Errorf("newsroomsql: %w", err)
	}
	_, err = tmp.WriteString(text)
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("newsroomsql: %w", err)
	}
	return tmp.Name(), nil
}
