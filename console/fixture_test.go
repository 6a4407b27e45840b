package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"votestream/console"
	"votestream/console/staff"
	"votestream/election"
	"votestream/ingest"
	"votestream/ingest/token"
	"votestream/internal/testenv"
	"votestream/processors/consolidate"
	"votestream/schemas"
	"votestream/schemas/provision"
	sink "votestream/sinks/clickhouse"
	"votestream/sinks/feed"
)

// waitTimeout bounds every wait for the pipeline to catch up; a run that needs longer is
// stuck. Tests never assert on time.
const waitTimeout = 90 * time.Second

func quiet() *slog.Logger {
	if os.Getenv("VOTESTREAM_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testCountry: Bangkok constituency 1 (C1, stations S01-S08) and 2 (C2, S21-S23), 600
// eligible voters each; three parties; in C1 candidates 1-3 of parties 1-3, in C2 1-2.
func testCountry(t testing.TB) *election.Country {
	t.Helper()
	c := &election.Country{
		Provinces: []election.Province{{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"}},
		Constituencies: []election.Constituency{
			{ID: "C1", ProvinceID: "BKK", Number: 1, EligibleVoters: 4800, Stations: 8},
			{ID: "C2", ProvinceID: "BKK", Number: 2, EligibleVoters: 1800, Stations: 3},
		},
		Parties: []election.Party{
			{No: 1, NameTH: "พรรคก้าวหน้า", NameEN: "Forward"},
			{No: 2, NameTH: "พรรคเพื่อชาติ", NameEN: "For the Nation"},
			{No: 3, NameTH: "พรรครวมใจ", NameEN: "United"},
		},
		Candidates: []election.Candidate{
			{ConstituencyID: "C1", No: 1, Name: "สมชาย ใจดี", PartyNo: 1},
			{ConstituencyID: "C1", No: 2, Name: "สมหญิง รักชาติ", PartyNo: 2},
			{ConstituencyID: "C1", No: 3, Name: "ประยุทธ มั่นคง", PartyNo: 3},
			{ConstituencyID: "C2", No: 1, Name: "วิชัย ทองดี", PartyNo: 2},
			{ConstituencyID: "C2", No: 2, Name: "มานี มีสุข", PartyNo: 1},
		},
	}
	for i := 1; i <= 8; i++ {
		c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("S%02d", i), ConstituencyID: "C1", Subdistrict: "ลุมพินี", Number: i, EligibleVoters: 600})
	}
	for i := 1; i <= 3; i++ {
		c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("S2%d", i), ConstituencyID: "C2", Subdistrict: "บางรัก", Number: i, EligibleVoters: 600})
	}
	if err := c.Index(); err != nil {
		t.Fatalf("test country: %v", err)
	}
	return c
}

// pipeline is ingest, consolidate, the ClickHouse sink and the console on the real Kafka
// and ClickHouse, in this process.
type pipeline struct {
	t        testing.TB
	country  *election.Country
	kafka    *testenv.KafkaEnv
	ch       *testenv.ClickHouseEnv
	ring     *token.Keyring // the volunteers'
	staff    *token.Keyring // the leads' and the war room's
	staffDir string         // the enrolment file's folder
	sessions map[string]string
	mu       sync.Mutex
	ingest   string // base URL
	console  string // base URL
	srv      *console.Server
	logs     *lockedBuffer // the console's log
	evidence string        // ingest's evidence folder
	feed     string        // the newsroom feed's base URL
	feedKey  string
	// consoleKeys is the key file the console signs its forwards with and ingest checks.
	consoleKeys string
}

func startPipeline(t *testing.T) *pipeline { return startPipelineWith(t, nil) }

// startPipelineWith lets a test change the console's config (session limits).
func startPipelineWith(t *testing.T, cfgHook func(*console.Config)) *pipeline {
	t.Helper()
	k := testenv.Kafka(t)
	ch := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := provision.MigrateClickHouse(ctx, ch.Conn, ch.Database); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	line, err := token.NewKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := token.LoadKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	staffKeys := filepath.Join(dir, "staff-keys")
	sline, err := token.NewKeyLine("k1") // the same key id on purpose: told apart by signature
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staffKeys, []byte(sline+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	staffRing, err := token.LoadStaffKeyring(staffKeys)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, country: testCountry(t), kafka: k, ch: ch, ring: ring, staff: staffRing, staffDir: dir,
		sessions: map[string]string{}, evidence: filepath.Join(dir, "evidence"), consoleKeys: filepath.Join(dir, "console-keys")}
	cline, err := token.NewKeyLine("console1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.consoleKeys, []byte(cline), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 5)
	running := 0
	t.Cleanup(func() {
		stop()
		for range running {
			if err := <-done; err != nil {
				t.Errorf("role stopped with: %v", err)
			}
		}
	})
	run := func(f func(context.Context) error) {
		running++
		go func() { done <- f(runCtx) }()
	}

	icfg := ingest.DefaultConfig()
	icfg.Seeds, icfg.TopicPrefix, icfg.TokenKeysFile, icfg.EvidenceDir = k.Seeds, k.Prefix, keys, p.evidence
	icfg.Country, icfg.Logger = p.country, quiet()
	icfg.StaffKeysFile, icfg.ConsoleKeysFile = staffKeys, p.consoleKeys
	icfg.WarmupTimeout, icfg.RatePerVolunteer = 0, 0
	isrv, err := ingest.New(icfg)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ingest = "http://" + ln.Addr().String()
	run(func(ctx context.Context) error { return isrv.Serve(ctx, ln) })

	ccfg := consolidate.DefaultConfig()
	ccfg.Seeds, ccfg.TopicPrefix = k.Seeds, k.Prefix
	ccfg.Group, ccfg.TransactionalID = k.Prefix+"consolidate", k.Prefix+"consolidate-txn"
	ccfg.TransactionTimeout, ccfg.SessionTimeout = 10*time.Second, 12*time.Second
	ccfg.Rules.Country = p.country
	ccfg.Logger = quiet()
	cons, err := consolidate.New(ccfg)
	if err != nil {
		t.Fatalf("consolidate: %v", err)
	}
	run(cons.Run)

	scfg := sink.DefaultConfig()
	scfg.Seeds, scfg.TopicPrefix, scfg.Group = k.Seeds, k.Prefix, k.Prefix+"sink"
	scfg.ClickHouseAddr, scfg.Database, scfg.Logger = ch.Addr, ch.Database, quiet()
	sk, err := sink.New(scfg)
	if err != nil {
		t.Fatalf("sink: %v", err)
	}
	run(sk.Run)

	// The newsroom feed, where a verified station must show up for the newsrooms.
	fcfg := feed.DefaultConfig()
	fcfg.Seeds, fcfg.TopicPrefix, fcfg.Country = k.Seeds, k.Prefix, p.country
	fcfg.KeysFile, fcfg.Logger = filepath.Join(dir, "newsroom-keys"), quiet()
	if p.feedKey, err = feed.AppendKey(fcfg.KeysFile, "test"); err != nil {
		t.Fatal(err)
	}
	fd, err := feed.New(fcfg)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.feed = "http://" + fln.Addr().String()
	run(func(ctx context.Context) error { return fd.Serve(ctx, fln) })

	cfg := console.DefaultConfig()
	cfg.Country, cfg.ClickHouseAddr, cfg.Database = p.country, ch.Addr, ch.Database
	cfg.Listen, cfg.StaffKeysFile, cfg.IngestURL, cfg.EvidenceDir = "127.0.0.1:0", staffKeys, p.ingest, p.evidence
	cfg.StaffFile = filepath.Join(dir, "staff.json")
	cfg.ConsoleKeysFile = p.consoleKeys
	cfg.Seeds, cfg.TopicPrefix = k.Seeds, k.Prefix // the decision desk
	if cfgHook != nil {
		cfgHook(&cfg)
	}
	p.logs = &lockedBuffer{}
	cfg.Refresh, cfg.Logger = 200*time.Millisecond, slog.New(slog.NewTextHandler(p.logs, nil))
	t.Cleanup(func() {
		if t.Failed() { // an answer's cause (a 502's ClickHouse error) is only in the log
			t.Logf("the console's log:\n%s", p.logs.String())
		}
	})
	p.srv, err = console.New(cfg)
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	run(p.srv.Run)
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	p.console = "http://" + p.srv.Addr(actx)
	return p
}

func (p *pipeline) token(c token.Claims) string {
	p.t.Helper()
	now := time.Now()
	c.TokenID, c.IssuedAt, c.ExpiresAt = token.NewTokenID(), now.Add(-time.Minute), now.Add(2*time.Hour)
	if c.Org == "" {
		c.Org = "กกต. ติดตาม"
	}
	ring := p.ring
	if token.Privileged(c.Role) {
		ring = p.staff
	}
	tok, err := ring.Issue(c)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// enrol enrols id for the second factor and returns their staff token.
func (p *pipeline) enrol(id, role, constituency string) string {
	p.t.Helper()
	if _, err := staff.Enrol(filepath.Join(p.staffDir, "staff.json"), staff.Member{ID: id, Name: "ชื่อ " + id, Role: role, Constituency: constituency}, time.Now()); err != nil {
		p.t.Fatal(err)
	}
	return p.token(token.Claims{VolunteerID: id, Role: role, Constituency: constituency})
}

// code is id's authenticator code now.
func (p *pipeline) code(id string) string {
	p.t.Helper()
	members, err := staff.Load(filepath.Join(p.staffDir, "staff.json"))
	if err != nil {
		p.t.Fatal(err)
	}
	m, ok := staff.Find(members, id)
	if !ok {
		p.t.Fatalf("%s not enrolled", id)
	}
	c, err := staff.Code(m, time.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// login signs in with token and code and returns the HTTP status and the body.
func (p *pipeline) login(tok, code string) (int, []byte, http.Header) {
	b, _ := json.Marshal(map[string]string{"token": tok, "code": code})
	return do(p.t, http.MethodPost, p.console+"/v1/session", "", b)
}

// session enrols id and signs in once per pipeline (a code is accepted once), returning
// the session id scripts send as a bearer.
func (p *pipeline) session(id, role, constituency string) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.sessions[id]; ok {
		return s
	}
	tok := p.enrol(id, role, constituency)
	st, body, _ := p.login(tok, p.code(id))
	if st != http.StatusOK {
		p.t.Fatalf("sign-in of %s: %d %s", id, st, body)
	}
	var v struct {
		Session string `json:"session"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Session == "" {
		p.t.Fatalf("sign-in of %s: no session in %s", id, body)
	}
	p.sessions[id] = v.Session
	return v.Session
}

func (p *pipeline) volunteer(id, org string, stations ...string) string {
	return p.token(token.Claims{VolunteerID: id, Org: org, Role: schemas.RoleStation, Stations: stations})
}

// lead is a signed-in session of constituency's lead.
func (p *pipeline) lead(constituency string) string {
	return p.session("lead-"+constituency, schemas.RoleDistrictLead, constituency)
}

// warRoom is a signed-in session of the war room's first member.
func (p *pipeline) warRoom() string { return p.session("war-room-1", schemas.RoleWarRoom, "") }

// warRoom2 is another war room member's session: a second approver.
func (p *pipeline) warRoom2() string { return p.session("war-room-2", schemas.RoleWarRoom, "") }

// do sends a request and returns the status and body.
func do(t testing.TB, method, url, tok string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil && !strings.Contains(strings.Join(header, " "), "Content-Type") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// photo makes a small PNG (a coloured tally board stand-in) and returns it and its ref.
func photo(t testing.TB, shade uint8) ([]byte, string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			c := color.RGBA{R: 240, G: 240, B: 230, A: 255}
			if (y/20)%2 == 0 && x > 20 && x < 300 {
				c = color.RGBA{R: shade, G: 90, B: 60, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// upload stores a photo through ingest.
func (p *pipeline) upload(tok string, img []byte, ref string) {
	p.t.Helper()
	st, body, _ := do(p.t, http.MethodPut, p.ingest+"/v1/evidence/"+ref, tok, img, "Content-Type", "image/png")
	if st != http.StatusCreated && st != http.StatusOK {
		p.t.Fatalf("upload %s: %d %s", ref, st, body)
	}
}

// submit sends one final report and returns its submission id.
func (p *pipeline) submit(tok, station, ballot string, cast, invalid, noVote int, votes map[string]int, evidence ...string) string {
	p.t.Helper()
	id := uuid.NewString()
	if evidence == nil {
		evidence = []string{}
	}
	b, _ := json.Marshal(map[string]any{
		"submission_id": id, "station_id": station, "ballot": ballot, "stage": "final",
		"counted_at": "2023-05-14T18:10:00+07:00", "ballots_cast": cast, "invalid": invalid, "no_vote": noVote,
		"votes": votes, "evidence": evidence,
	})
	st, body, _ := do(p.t, http.MethodPost, p.ingest+"/v1/submissions", tok, b)
	if st != http.StatusAccepted {
		p.t.Fatalf("submit %s: %d %s", station, st, body)
	}
	return id
}

// consoleSigned returns the headers with which the console signs body for ingest's path
// and tok, for a test that posts to ingest itself what the console would forward.
func (p *pipeline) consoleSigned(path, tok string, body []byte) []string {
	p.t.Helper()
	keys, err := token.LoadConsoleKeys(p.consoleKeys)
	if err != nil {
		p.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, p.ingest+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	keys.Sign(req, path, body, time.Now())
	return []string{token.HeaderConsoleSignature, req.Header.Get(token.HeaderConsoleSignature), token.HeaderConsoleTime, req.Header.Get(token.HeaderConsoleTime)}
}

// lockedBuffer is an io.Writer safe for the concurrent writes of a logger.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// queue reads a queue page as tok.
func (p *pipeline) queue(tok, query string) (int, console.Page, []byte) {
	p.t.Helper()
	st, body, _ := do(p.t, http.MethodGet, p.console+"/v1/queue"+query, tok, nil)
	var pg console.Page
	if st == http.StatusOK {
		if err := json.Unmarshal(body, &pg); err != nil {
			p.t.Fatalf("queue: %v: %s", err, body)
		}
	}
	return st, pg, body
}

// status reads a station result's status from ClickHouse.
func (p *pipeline) status(station, ballot string) string {
	p.t.Helper()
	var s string
	row := p.ch.Conn.QueryRow(context.Background(), fmt.Sprintf(
		"SELECT status FROM `%s`.station_results_current WHERE station_id = ? AND ballot = ?", p.ch.Database), station, ballot)
	if err := row.Scan(&s); err != nil {
		return ""
	}
	return s
}

// feedStatus is a station's status for the newsrooms: the feed's answer for the station,
// its constituency ballot.
func (p *pipeline) feedStatus(station string) string {
	p.t.Helper()
	st, body, _ := do(p.t, http.MethodGet, p.feed+"/v1/feed/stations/"+station, p.feedKey, nil)
	if st != http.StatusOK {
		return fmt.Sprintf("HTTP %d", st)
	}
	var v feed.StationAnswer
	if err := json.Unmarshal(body, &v); err != nil || v.Station.Ballots.Constituency == nil {
		return "no constituency result: " + string(body)
	}
	return v.Station.Ballots.Constituency.Status
}

// night is the test's scenario: two disputed stations (S01 in C1, S21 in C2), each with a
// photo from both sources, and a clean, corroborated one (S02).
type night struct {
	a, b       string // submission ids of S01's two sources
	imgA, imgB []byte // their photos
	refA, refB string
	refC2      string // a photo of S21
}

func (p *pipeline) playNight() night {
	p.t.Helper()
	var n night
	volA := p.volunteer("vol-a", "สมาคมท้องถิ่น", "S01", "S02")
	volB := p.volunteer("vol-b", "เครือข่ายนักศึกษา", "S01", "S02")
	volC := p.volunteer("vol-c", "สมาคมท้องถิ่น", "S21")
	volD := p.volunteer("vol-d", "เครือข่ายนักศึกษา", "S21")
	var refC2, refD string
	var imgC2, imgD []byte
	n.imgA, n.refA = photo(p.t, 200)
	n.imgB, n.refB = photo(p.t, 120)
	imgC2, refC2 = photo(p.t, 60)
	imgD, refD = photo(p.t, 30)
	n.refC2 = refC2
	p.upload(volA, n.imgA, n.refA)
	p.upload(volB, n.imgB, n.refB)
	p.upload(volC, imgC2, refC2)
	p.upload(volD, imgD, refD)
	c := string(election.BallotConstituency)
	n.a = p.submit(volA, "S01", c, 560, 6, 4, map[string]int{"1": 310, "2": 190, "3": 50}, n.refA)
	n.b = p.submit(volB, "S01", c, 560, 6, 4, map[string]int{"1": 190, "2": 310, "3": 50}, n.refB)
	p.submit(volA, "S02", c, 500, 5, 5, map[string]int{"1": 250, "2": 200, "3": 40})
	p.submit(volB, "S02", c, 500, 5, 5, map[string]int{"1": 250, "2": 200, "3": 40})
	p.submit(volC, "S21", c, 400, 2, 3, map[string]int{"1": 200, "2": 195}, refC2)
	p.submit(volD, "S21", c, 400, 2, 3, map[string]int{"1": 180, "2": 215}, refD)
	waitFor(p.t, "S01 and S21 disputed in ClickHouse", func() bool {
		return p.status("S01", c) == "disputed" && p.status("S21", c) == "disputed" && p.status("S02", c) == "corroborated"
	})
	war := p.warRoom()
	// The sink stores results and anomalies from different topics: wait for both.
	waitFor(p.t, "both disputed stations in the queue, with both sources and their anomalies", func() bool {
		st, pg, _ := p.queue(war, "")
		if st != http.StatusOK || pg.Total < 2 {
			return false
		}
		for _, it := range pg.Items {
			if len(it.Sources) < 2 || len(it.Flags) == 0 {
				return false
			}
		}
		return true
	})
	return n
}
