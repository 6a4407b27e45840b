// Command console benchmarks the review console's queue API with many open items.
//
// It creates a ClickHouse database of its own on VOTESTREAM_CLICKHOUSE, fills it as the
// sink would with -items disputed station results (default 10,000), two conflicting
// reports each and their anomalies, plus as many clean results, starts the console on it,
// and prints
//
//	BENCH name=console_rebuild_10000 value=<ms to read the queue from ClickHouse> unit=ms
//	BENCH name=console_queue_page50_p50 value=<ms> unit=ms
//	BENCH name=console_queue_page50_p99 value=<ms> unit=ms   (the goal: < 50 ms)
//	BENCH name=console_queue_baseline_p99 value=<ms> unit=ms (bare net/http, the same bytes)
//	BENCH name=console_first_paint value=<ms> unit=ms        (headless chromium, queue drawn)
//
// The page requests mix the war room's first page, a lead's page (one constituency),
// filtered pages and cursor pages. First paint is from navigation to the first queue row
// drawn, signed in, 10,000 items in the queue; skipped (said so) without chromium.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chromedp/chromedp"

	"votestream/console"
	"votestream/console/staff"
	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/schemas/provision"
)

func main() {
	items := flag.Int("items", 10000, "open (disputed) items in the queue")
	requests := flag.Int("requests", 2000, "queue page requests to time")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*items, *requests); err != nil {
		log.Fatal(err)
	}
}

func country(stations int) (*election.Country, error) {
	c := &election.Country{Provinces: []election.Province{{ID: "P1", NameTH: "จังหวัดหนึ่ง", NameEN: "One", Region: "central"}},
		Parties: []election.Party{{No: 1, NameTH: "ก", NameEN: "A"}, {No: 2, NameTH: "ข", NameEN: "B"}, {No: 3, NameTH: "ค", NameEN: "C"}}}
	const perCons = 50
	for i := 0; i*perCons < stations; i++ {
		id := fmt.Sprintf("C%03d", i+1)
		c.Constituencies = append(c.Constituencies, election.Constituency{ID: id, ProvinceID: "P1", Number: i + 1, EligibleVoters: 600 * perCons, Stations: perCons})
		for no := 1; no <= 3; no++ {
			c.Candidates = append(c.Candidates, election.Candidate{ConstituencyID: id, No: no, Name: fmt.Sprintf("ผู้สมัคร %d", no), PartyNo: no})
		}
		for s := 1; s <= perCons; s++ {
			c.Stations = append(c.Stations, election.Station{ID: fmt.Sprintf("%s-%03d", id, s), ConstituencyID: id, Subdistrict: "ตำบล", Number: s, EligibleVoters: 600})
		}
	}
	return c, c.Index()
}

func run(items, requests int) error {
	addr := os.Getenv("VOTESTREAM_CLICKHOUSE")
	if addr == "" {
		addr = "127.0.0.1:29000"
	}
	ctx := context.Background()
	db := fmt.Sprintf("bench_console_%d", time.Now().UnixNano())
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return fmt.Errorf("clickhouse %s: %w", addr, err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	if _, err := provision.MigrateClickHouse(ctx, admin, db); err != nil {
		return err
	}
	c, err := country(2 * items) // half disputed, half clean
	if err != nil {
		return err
	}
	if err := fill(ctx, admin, db, c); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "bench-console-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	keys := filepath.Join(dir, "keys")
	line, _ := token.NewKeyLine("k1")
	if err := os.WriteFile(keys, []byte(line+"\n"), 0o600); err != nil {
		return err
	}
	ring, err := token.LoadStaffKeyring(keys)
	if err != nil {
		return err
	}
	now := time.Now()
	staffFile := filepath.Join(dir, "staff.json")
	// "wb" is the war room member the browser signs in as: a code, once used, is refused.
	for _, m := range []staff.Member{{ID: "w", Role: schemas.RoleWarRoom}, {ID: "l", Role: schemas.RoleDistrictLead, Constituency: "C007"}, {ID: "wb", Role: schemas.RoleWarRoom}} {
		if _, err := staff.Enrol(staffFile, m, time.Now()); err != nil {
			return err
		}
	}
	warTok, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "w", Org: "war room", Role: schemas.RoleWarRoom, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	browserTok, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "wb", Org: "war room", Role: schemas.RoleWarRoom, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	leadTok, _ := ring.Issue(token.Claims{TokenID: token.NewTokenID(), VolunteerID: "l", Org: "war room", Role: schemas.RoleDistrictLead, Constituency: "C007", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})

	cfg := console.DefaultConfig()
	cfg.Country, cfg.ClickHouseAddr, cfg.Database, cfg.StaffKeysFile = c, addr, db, keys
	cfg.StaffFile = staffFile
	cfg.Listen, cfg.EvidenceDir, cfg.Refresh = "127.0.0.1:0", dir, time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := console.New(cfg)
	if err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx) }()
	defer func() { stop(); <-done }()
	base := "http://" + srv.Addr(ctx)

	var rebuilds []float64
	for range 5 {
		t0 := time.Now()
		if err := srv.Rebuild(ctx); err != nil {
			return err
		}
		rebuilds = append(rebuilds, ms(time.Since(t0)))
	}
	fmt.Printf("BENCH name=console_rebuild_%d value=%.1f unit=ms\n", items, median(rebuilds))

	cl := &http.Client{}
	// Sign in as the console wants: token and the authenticator code.
	codeOf := func(id string) (string, error) {
		members, err := staff.Load(staffFile)
		if err != nil {
			return "", err
		}
		m, _ := staff.Find(members, id)
		return staff.Code(m, time.Now())
	}
	signIn := func(id, tok string) (string, error) {
		code, err := codeOf(id)
		if err != nil {
			return "", err
		}
		body, _ := json.Marshal(map[string]string{"token": tok, "code": code})
		resp, err := cl.Post(base+"/v1/session", "application/json", bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var v struct {
			Session string `json:"session"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			return "", fmt.Errorf("sign-in of %s: %d %v", id, resp.StatusCode, err)
		}
		return v.Session, nil
	}
	war, err := signIn("w", warTok)
	if err != nil {
		return err
	}
	lead, err := signIn("l", leadTok)
	if err != nil {
		return err
	}
	get := func(url, tok string) ([]byte, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := cl.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
		}
		return b, err
	}
	first, err := get(base+"/v1/queue?limit=50", war)
	if err != nil {
		return err
	}
	// What a page weighs on the wire: Go's client asks for gzip and unpacks it unseen, so ask
	// explicitly to read the compressed bytes.
	for _, enc := range []string{"identity", "gzip"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/queue?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+war)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Printf("BENCH name=console_queue_page50_bytes_%s value=%d unit=bytes\n", enc, len(b))
	}
	var pg struct {
		NextCursor string `json:"next_cursor"`
		Total      int    `json:"total"`
	}
	if err := json.Unmarshal(first, &pg); err != nil || pg.Total != items || pg.NextCursor == "" {
		return fmt.Errorf("first page: total %d (want %d), cursor %q, %v", pg.Total, items, pg.NextCursor, err)
	}
	cursor := pg.NextCursor
	urls := []struct{ url, tok string }{
		{base + "/v1/queue?limit=50", war},
		{base + "/v1/queue?limit=50", lead},
		{base + "/v1/queue?limit=50&status=disputed&code=CONFLICT", war},
		{base + "/v1/queue?limit=50&constituency=C050", war},
		{base + "/v1/queue?limit=50&cursor=" + cursor, war},
	}
	var lat []float64
	for i := range requests {
		u := urls[i%len(urls)]
		t0 := time.Now()
		if _, err := get(u.url, u.tok); err != nil {
			return err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	fmt.Printf("BENCH name=console_queue_page50_p50 value=%.2f unit=ms\n", pct(lat, 50))
	fmt.Printf("BENCH name=console_queue_page50_p99 value=%.2f unit=ms\n", pct(lat, 99))

	// Baseline: bare net/http serving the same first page's bytes.
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(first)
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go bare.Serve(bln)
	defer bare.Close()
	var blat []float64
	for range requests {
		t0 := time.Now()
		if _, err := get("http://"+bln.Addr().String()+"/", war); err != nil {
			return err
		}
		blat = append(blat, ms(time.Since(t0)))
	}
	fmt.Printf("BENCH name=console_queue_baseline_p99 value=%.2f unit=ms\n", pct(blat, 99))
	fmt.Printf("# first page: %d bytes for 50 items\n", len(first))

	code, err := codeOf("wb")
	if err != nil {
		return err
	}
	paint, err := firstPaint(base, browserTok, code)
	if err != nil {
		return err
	}
	if paint >= 0 {
		fmt.Printf("BENCH name=console_first_paint value=%.0f unit=ms\n", paint)
	}
	return nil
}

// fill writes what the sink would: per disputed station two conflicting reports, the
// CONFLICT anomaly and the disputed result; per clean station one corroborated result.
func fill(ctx context.Context, conn clickhouse.Conn, db string, c *election.Country) error {
	at := time.Date(2023, 5, 14, 18, 30, 0, 0, time.UTC)
	res, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".station_results (station_id, constituency_id, ballot, version, status, stage, ballots_cast, invalid, no_vote, vote_no, votes, source_submission_ids, source_volunteer_ids, source_orgs, source_stages, source_hashes, anomalies, decided_by, counted_at, updated_at)")
	if err != nil {
		return err
	}
	sub, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".submissions (submission_id, station_id, ballot, stage, counted_at, ballots_cast, invalid, no_vote, vote_no, votes, evidence, volunteer_id, org, role, received_at, hash)")
	if err != nil {
		return err
	}
	an, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".anomalies (anomaly_id, code, severity, station_id, constituency_id, ballot, volunteer_id, submission_ids, message, evidence_keys, evidence_values, detected_at)")
	if err != nil {
		return err
	}
	nos := []uint16{1, 2, 3}
	for i, st := range c.Stations {
		a := uint32(200 + i%97)
		b := uint32(150 + i%53)
		if i%2 == 1 { // clean
			if err := res.Append(st.ID, st.ConstituencyID, "constituency", uint64(2), "corroborated", "final", a+b+60, uint32(5), uint32(5),
				nos, []uint32{a, b, 50}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, "", at, at); err != nil {
				return err
			}
			continue
		}
		s1, s2 := fmt.Sprintf("%08d-0000-4000-8000-000000000001", i), fmt.Sprintf("%08d-0000-4000-8000-000000000002", i)
		for j, v := range [][]uint32{{a, b, 50}, {b, a, 50}} {
			id := []string{s1, s2}[j]
			if err := sub.Append(id, st.ID, "constituency", "final", at, a+b+60, uint32(5), uint32(5), nos, v,
				[]string{fmt.Sprintf("sha256:%064x", i*2+j)}, fmt.Sprintf("vol-%d-%d", i, j), []string{"สมาคม ก", "เครือข่าย ข"}[j], "station", at, "sha256:00"); err != nil {
				return err
			}
		}
		if err := an.Append(fmt.Sprintf("conflict-%d", i), schemas.AnomalyConflict, "hard", st.ID, st.ConstituencyID, "constituency", "",
			[]string{s1, s2}, "2 different final counts from 2 volunteers", []string{}, []string{}, at); err != nil {
			return err
		}
		if err := res.Append(st.ID, st.ConstituencyID, "constituency", uint64(3), "disputed", "final", a+b+60, uint32(5), uint32(5),
			nos, []uint32{a, b, 50}, []string{s1, s2}, []string{"v1", "v2"}, []string{"ก", "ข"}, []string{"final", "final"}, []string{"h", "h"},
			[]string{schemas.AnomalyConflict}, "", at, at); err != nil {
			return err
		}
	}
	for _, b := range []interface{ Send() error }{res, sub, an} {
		if err := b.Send(); err != nil {
			return err
		}
	}
	return nil
}

// firstPaint signs in as the war room in headless chromium (its token and authenticator
// code, as a person would) and times navigation to the first queue row drawn; -1 when
// chromium is missing.
func firstPaint(base, tok, code string) (float64, error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		fmt.Println("# console_first_paint skipped: chromium is not installed (scripts/browser installs it)")
		return -1, nil
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1366, 900))...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		return 0, err
	}
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer tcancel()
	// Sign in once (sets the cookie), then time fresh loads.
	err = chromedp.Do(tctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), tok), chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#queue li")))
	if err != nil {
		return 0, failedPaint(ctx, err)
	}
	var runs []float64
	for range 5 {
		t0 := time.Now()
		if err := chromedp.Do(tctx, chromedp.Navigate(base+"/?r="+fmt.Sprint(time.Now().UnixNano())), chromedp.WaitVisible(chromedp.CSS("#queue li"))); err != nil {
			return 0, err
		}
		runs = append(runs, ms(time.Since(t0)))
	}
	return median(runs), nil
}

// failedPaint saves what the browser shows, so a sign-in or queue that never drew can be seen.
func failedPaint(ctx context.Context, err error) error {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, _ := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	text, _ := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("body")))
	path := filepath.Join(os.TempDir(), "console-first-paint.png")
	if len(png) > 0 && os.WriteFile(path, png, 0o644) == nil {
		return fmt.Errorf("first paint: %w (the page is in %s; it says %.200q)", err, path, text)
	}
	return fmt.Errorf("first paint: %w", err)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 { return pct(xs, 50) }

func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
