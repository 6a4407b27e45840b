package evidencelog

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/evidencelog/tlog"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/kgorecord"
	"votestream/schemas/provision"
)

// TestBrowserStationPage: a station page in headless chromium after polls close; its
// report's "verify" button checks the proof in the page (leaf, audit path, checkpoint
// signature, in WebCrypto) and says so; following the report's proof link gives the bundle of
// exactly that report's leaf, which verifies offline here too. A proof altered in transit
// is refused by the page. Run by `make browser` (VOTESTREAM_BROWSER=1); saves
// docs/img/station-page.png with VOTESTREAM_SCREENSHOTS.
func TestBrowserStationPage(t *testing.T) {
	if os.Getenv("VOTESTREAM_BROWSER") != "1" {
		t.Skip("browser test: run `make browser` (needs chromium; sets VOTESTREAM_BROWSER=1)")
	}
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("no chromium: run `make browser` (scripts/browser installs it with apt-get)")
	}
	env := testenv.Kafka(t)
	che := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := provision.MigrateClickHouse(ctx, che.Conn, che.Database); err != nil {
		t.Fatal(err)
	}
	// Two volunteers' reports of one station and a photo, in Kafka (the log's input) and in
	// ClickHouse as the sink writes them (the page's input).
	evDir := t.TempDir()
	photo := countFormPhoto(t)
	ref := schemas.SHA256Ref(photo)
	hexd := ref[len("sha256:"):]
	if err := os.MkdirAll(filepath.Join(evDir, hexd[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(evDir, hexd[:2], hexd), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 5, 14, 10, 41, 2, 123456789, time.UTC) // nanoseconds: ClickHouse keeps seconds
	var reps []*schemas.Report
	for i, org := range []string{"iLaw", "WeWatch"} {
		sub := schemas.Submission{SubmissionID: []string{"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01", "7d1e0f52-3c4b-4e8a-a1d2-9f0e8c7b6a51"}[i],
			StationID: "BKK_1_0001", Ballot: "constituency", Stage: schemas.StageFinal, CountedAt: at,
			BallotsCast: 412, Invalid: 9, NoVote: 4, Votes: map[string]int{"1": 230, "2": 120, "5": 49}, Evidence: []string{ref}}
		reps = append(reps, &schemas.Report{Submission: sub, VolunteerID: "vol-" + org, Org: org, Role: "station",
			ReceivedAt: at.Add(time.Duration(i) * 1500 * time.Millisecond), Hash: schemas.CanonicalHash(sub)})
	}
	res := schemas.StationResult{StationID: "BKK_1_0001", ConstituencyID: "BKK_1", Ballot: "constituency", Version: 2,
		Status: schemas.StatusCorroborated, Stage: schemas.StageFinal, BallotsCast: 412, Invalid: 9, NoVote: 4,
		Votes: map[string]int{"1": 230, "2": 120, "5": 49}, CountedAt: at, UpdatedAt: at.Add(2 * time.Second)}
	var recs []*kgo.Record
	for _, msg := range []any{reps[0], reps[1], &res} {
		rowsets, err := chtable.MessageRows(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range rowsets {
			batch, err := che.Conn.PrepareBatch(ctx, rs.Table.InsertQuery(che.Database))
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rs.Rows {
				if err := batch.Append(row...); err != nil {
					t.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rep := range reps {
		rec, err := kgorecord.New(env.Topic(schemas.TopicSubmissions), rep)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	ev, err := kgorecord.New(env.Topic(schemas.TopicEvidence), schemas.Evidence{Evidence: ref, Bytes: int64(len(photo)), VolunteerID: "vol-iLaw", ReceivedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, env, append(recs, ev))

	dir := t.TempDir()
	keyFile, keys := testKeys(t, t.TempDir())
	cfg := testConfig(env, dir, keyFile, "g")
	cfg.ClickHouseAddr, cfg.ClickHouseDatabase, cfg.EvidenceDir = che.Addr, che.Database, evDir
	cfg.PollsClose = at
	l, stop := start(t, cfg)
	defer stop()
	waitSize(t, dir, 3, time.Minute)
	waitServed(t, l, 3)
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1000, 1400), chromedp.Flag("lang", "th-TH"))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 3*time.Minute)
	defer tcancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage: %s", what, err, page)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("eval %s: %v", expr, err)
		}
		return v
	}
	wait := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("waiting for %s: %v\npage: %s", what, err, page)
		}
	}

	do("open the station page", chromedp.Navigate(srv.URL+"/station/BKK_1_0001"), chromedp.WaitVisible(chromedp.CSS("button.check")))
	if n := eval(`String(document.querySelectorAll('a.proof').length)`); n != "2" {
		t.Fatalf("%s report proof links on the page, want 2", n)
	}
	// The page verifies each report's proof itself.
	do("verify both reports", chromedp.Click(chromedp.CSS(".src:nth-of-type(1) button.check")))
	wait("the first report verified", `document.querySelectorAll('.result.ok, .result.bad').length >= 1`)
	eval(`Promise.resolve(document.querySelectorAll('button.check')[1].click()).then(() => '')`)
	wait("both reports verified", `document.querySelectorAll('.result.ok, .result.bad').length === 2`)
	if bad := eval(`Array.from(document.querySelectorAll('.result.bad'), e => e.textContent).join(' | ')`); bad != "" {
		t.Fatalf("the page failed a genuine proof: %s", bad)
	}
	if shots := os.Getenv("VOTESTREAM_SCREENSHOTS"); shots != "" {
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, "station-page.png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A proof altered on the way (the entry changed) is refused by the page.
	tampered := eval(`(async () => {
		const real = window.fetch;
		window.fetch = async (u, o) => { const r = await real(u, o); if (!String(u).includes('/report/')) return r;
			const b = await r.json(); b.entry = b.entry.replace('"stage":"final"', '"stage":"progress"'); return new Response(JSON.stringify(b), {status: 200}); };
		const d = document.querySelector('button.check').dataset;
		try { await verifyReport(d.proof, d.id, d.hash); return 'accepted'; }
		catch (e) { return 'refused: ' + e.message; } finally { window.fetch = real; }
	})()`)
	if !strings.HasPrefix(tampered, "refused") {
		t.Errorf("a tampered proof: %s, want refused", tampered)
	}

	// Follow the first report's link: the bundle of exactly its leaf.
	shownID := eval(`document.querySelector('.src button.check').dataset.id`)
	do("follow the proof link", chromedp.Click(chromedp.CSS(".src a.proof")), chromedp.WaitVisible(chromedp.CSS("body")))
	wait("the proof loaded", `location.pathname.startsWith('/report/') && document.body.innerText.includes('leaf_index')`)
	body := eval(`document.body.innerText`)
	pb, err := tlog.ParseBundle([]byte(body))
	if err != nil {
		t.Fatalf("the linked proof: %v\n%s", err, body)
	}
	if _, err := pb.Verify(keys.Verifiers, nil); err != nil {
		t.Fatalf("the linked proof does not verify: %v", err)
	}
	var want *schemas.Report
	for _, rep := range reps {
		if rep.SubmissionID == shownID {
			want = rep
		}
	}
	if want == nil {
		t.Fatalf("the page links report %s, which was not sent", shownID)
	}
	if pb.Entry != string(schemas.ReportLeaf(want)) {
		t.Errorf("the linked proof is of leaf %s, want the report's own %s", pb.Entry, schemas.ReportLeaf(want))
	}
}

// countFormPhoto is a JPEG that looks like a photographed count form at a glance: a sheet
// with ruled rows, tally columns and a signature, so the screenshot reads as a page with a
// photo on it.
func countFormPhoto(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 640, 420))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{236, 232, 220, 255}}, image.Point{}, draw.Src)
	ink := color.RGBA{40, 40, 60, 255}
	for y := 40; y < 380; y += 34 {
		for x := 30; x < 610; x++ {
			img.Set(x, y, ink)
		}
	}
	for _, x := range []int{30, 120, 470, 610} {
		for y := 40; y < 380; y++ {
			img.Set(x, y, ink)
		}
	}
	for row := range 9 { // tally marks
		for k := range 3 + row%4 {
			for d := range 22 {
				img.Set(140+k*12, 48+row*34+d, color.RGBA{20, 60, 160, 255})
			}
		}
	}
	for x := 420; x < 600; x++ { // a signature
		img.Set(x, 395+int(8*math.Sin(float64(x)/9)), color.RGBA{20, 20, 120, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
