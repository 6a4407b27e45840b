package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/schemas"
)

// chromium finds Debian's chromium: VOTESTREAM_CHROMIUM, else chromium on PATH. scripts/test
// installs it (and fonts-thai-tlwg) with apt when missing; without it the browser test
// skips, or fails when VOTESTREAM_REQUIRE_SERVICES=1, so CI cannot pass by skipping.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VOTESTREAM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("VOTESTREAM_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is not installed: `apt-get install chromium fonts-thai-tlwg` (scripts/test does it)")
	}
	t.Skip("chromium is not installed; run make test, which installs it")
	return ""
}

// browser opens a headless chromium at a laptop's size; the returned context drives it.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.WindowSize(width, height),
		chromedp.Flag("lang", "th-TH"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil { // the first call starts the browser, for ctx's life
		t.Fatalf("start chromium: %v", err)
	}
	// A bound against a hung browser, not a speed check: a loaded 2-core machine took over 3 min.
	ctx, tcancel := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(tcancel)
	return ctx
}

// shot saves a screenshot under VOTESTREAM_SCREENSHOTS (docs/img in `make screenshots`).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("VOTESTREAM_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// into runs an action that returns a value and stores the value in dst.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// textWith reads the text of the first element matching sel once it contains every want, in
// one polled step: a table that redraws (a second render, a refresh) can replace the node
// between a WaitVisible and a Text (CI once read the decision log mid-redraw). On a timeout
// it returns what the element (or the page) said then, with the error.
func textWith(sel string, want ...string) chromedp.Action[string] {
	js, _ := json.Marshal(sel)
	ws, _ := json.Marshal(want)
	read := fmt.Sprintf(`(document.querySelector(%s) || document.body).innerText`, js)
	return func(ctx context.Context, tg *chromedp.Target) (string, error) {
		v, err := chromedp.Poll[string](fmt.Sprintf(`(() => { const t = %s; return %s.every(w => t.includes(w)) ? t : '' })()`, read, ws),
			chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
		if err != nil {
			v, _ = chromedp.Evaluate[string](read)(ctx, tg)
		}
		return v, err
	}
}

func signOut() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
}

// signIn types id's staff token and current authenticator code into the sign-in page.
// Each person signs in once per test: a code is accepted once.
func (p *pipeline) signIn(id, role, constituency string) chromedp.Action[chromedp.Void] {
	tok := p.enrol(id, role, constituency)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#token"), tok),
			chromedp.SendKeys(chromedp.CSS("#code"), p.code(id)),
			chromedp.Click(chromedp.CSS("#signin")),
		)
	}
}

func TestBrowserLeadResolvesDisputedStation(t *testing.T) {
	ctx := browser(t, 1366, 900)
	p := startPipeline(t)
	n := p.playNight()
	war := p.signIn("war-room-web", schemas.RoleWarRoom, "")
	lead1 := p.signIn("lead-C1", schemas.RoleDistrictLead, "C1")
	lead2 := p.signIn("lead-C2", schemas.RoleDistrictLead, "C2")
	var text string

	// The war room sees both disputed stations, and a bad CSV is refused with its lines.
	if err := chromedp.Do(ctx, chromedp.Navigate(p.console+"/#/"), chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, "console-login.png")
	err := chromedp.Do(ctx,
		war,
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S21/constituency"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S01/constituency"]`)),
	)
	if err != nil {
		t.Fatalf("war room queue: %v", err)
	}
	// Enter opens the first item, n the next one, Esc goes back: hundreds of items by key.
	var first, second string
	var moved bool
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#station-title")),
		into(chromedp.Evaluate[string](`stationState.v.station_id`), &first),
	)
	if err == nil {
		err = chromedp.Do(ctx,
			chromedp.KeyEvent("n"),
			into(chromedp.Poll[bool](fmt.Sprintf(`stationState !== null && stationState.v.station_id !== %q`, first)), &moved),
			into(chromedp.Evaluate[string](`stationState.v.station_id`), &second),
			chromedp.KeyEvent("\x1b"),
			chromedp.WaitVisible(chromedp.CSS("#csv")),
		)
	}
	if err != nil || !moved || first == second || !slices.Contains([]string{"S01", "S21"}, second) {
		t.Fatalf("keys through the queue: %s then %s (%v)", first, second, err)
	}
	bad := filepath.Join(t.TempDir(), "ecexport.csv")
	if err := os.WriteFile(bad, []byte("station_id,ballot,ballots_cast,invalid,no_vote,number,votes\nS01,constituency,560,6,4,1,310\nS99,constituency,1,0,0,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#csv"), []string{bad}),
		chromedp.Click(chromedp.CSS("#csv-send")),
		chromedp.WaitVisible(chromedp.CSS("#csv-out .error")),
		into(chromedp.Text(chromedp.CSS("#csv-out .error")), &text),
	)
	if err != nil {
		t.Fatalf("CSV upload: %v", err)
	}
	if !strings.Contains(text, "ecexport.csv:3:") || !strings.Contains(text, "BAD_CSV") {
		t.Fatalf("CSV refusal shows %q; want ecexport.csv:3: and BAD_CSV", text)
	}
	shot(t, ctx, "console-warroom.png")
	if err := chromedp.Do(ctx, signOut()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Last, the war room's log shows the lead's decisions, with who and why.
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(1366, 900),
			signOut(),
			p.signIn("war-room-web-2", schemas.RoleWarRoom, ""),
			chromedp.WaitVisible(chromedp.CSS("#log-link")),
			chromedp.Click(chromedp.CSS("#log-link")),
			into(textWith("#log", "lead-C1", "lead-C2", "5/18"), &text),
		)
		if err != nil || !strings.Contains(text, "lead-C1") || !strings.Contains(text, "lead-C2") || !strings.Contains(text, "5/18") {
			t.Errorf("war room's decision log: %q (%v); want both leads' decisions with their reasons", text, err)
		}
		shot(t, ctx, "console-log.png")
	}()

	// The lead of C1 sees only S01, opens it, sees both photos beside the figures, and
	// resolves it with a reason.
	err = chromedp.Do(ctx,
		lead1,
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S01/constituency"]`)),
		// Read by script: the live queue may redraw its nodes between the wait and the read.
		into(chromedp.Evaluate[string](`document.querySelector('#queue').innerText`), &text),
	)
	if err != nil {
		t.Fatalf("lead's queue: %v", err)
	}
	if strings.Contains(text, "S21") {
		t.Fatalf("C1 lead's queue shows C2's station: %q", text)
	}
	shot(t, ctx, "console-queue.png")
	var loaded bool
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#cmp-constituency")),
		into(chromedp.Poll[bool](`[...document.querySelectorAll('#cmp-constituency .photos img')].filter(i => i.complete && i.naturalWidth > 0).length === 2`), &loaded),
	)
	if err != nil || !loaded {
		t.Fatalf("station page with two photos: %v (loaded %v)", err, loaded)
	}
	err = chromedp.Do(ctx, into(chromedp.Evaluate[string](`document.querySelector('#cmp-constituency').innerText`), &text))
	if err != nil || !strings.Contains(text, "310") || !strings.Contains(text, "190") || !strings.Contains(text, "สมหญิง") {
		t.Fatalf("figures beside the photos: %q (%v)", text, err)
	}
	shot(t, ctx, "console-station.png")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-accept="1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#msg-constituency .error")),
		into(chromedp.Text(chromedp.CSS("#msg-constituency .error")), &text),
	)
	if err != nil || !strings.Contains(text, "เหตุผล") {
		t.Fatalf("a decision without a reason: %q (%v); want it refused, asking for a reason", text, err)
	}
	var src1 string
	err = chromedp.Do(ctx,
		into(chromedp.Evaluate[string](`stationState.v.ballots[0].open.sources[0].submission_id`), &src1),
		// SetValue, not SendKeys: chromedp's key map drops some Thai letters (ข).
		chromedp.SetValue(chromedp.CSS("#reason-constituency"), "ภาพ ส.ส. 5/18 ตรงกับแหล่ง 1 ข้อมูลครบ"),
		chromedp.Click(chromedp.CSS(`button[data-accept="1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	waitFor(t, "S01 verified after the lead's decision, in ClickHouse and in the newsroom feed", func() bool {
		return p.status("S01", "constituency") == "verified" && p.feedStatus("S01") == "verified"
	})
	var accepted, reason string
	row := p.ch.Conn.QueryRow(context.Background(), "SELECT accept_submission_id, reason FROM `"+p.ch.Database+"`.reviews WHERE station_id = 'S01'")
	if err := row.Scan(&accepted, &reason); err != nil || accepted != src1 || (src1 != n.a && src1 != n.b) {
		t.Fatalf("review accepts %q (%v); want the first source %q", accepted, err, src1)
	}
	if reason != "ภาพ ส.ส. 5/18 ตรงกับแหล่ง 1 ข้อมูลครบ" {
		t.Fatalf("reason recorded as %q; want the lead's words whole", reason)
	}
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\x1b"), // Esc: back to the queue, which empties once the result is in
		chromedp.WaitVisible(chromedp.CSS("#empty")),
	)
	if err != nil {
		t.Fatalf("queue after resolving: %v", err)
	}
	shot(t, ctx, "console-queue-empty.png")
	if err := chromedp.Do(ctx, signOut()); err != nil {
		t.Fatal(err)
	}

	// Another constituency's lead cannot open S01.
	err = chromedp.Do(ctx,
		lead2,
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S21/constituency"]`)),
		chromedp.Navigate(p.console+"/#/station/S01"),
		chromedp.WaitVisible(chromedp.CSS("#station-error")),
		into(chromedp.Text(chromedp.CSS("#station-error")), &text),
	)
	if err != nil || !strings.Contains(text, "OUT_OF_SCOPE") {
		t.Fatalf("C2 lead opening S01: %q (%v); want OUT_OF_SCOPE", text, err)
	}

	// That lead escalates their own disputed station to the war room, with a reason.
	err = chromedp.Do(ctx,
		chromedp.Navigate(p.console+"/#/station/S21"),
		chromedp.WaitVisible(chromedp.CSS("#escalate-constituency")),
		chromedp.SetValue(chromedp.CSS("#reason-constituency"), "สองแหล่งมีภาพใบลงนามทั้งคู่ ขอห้องปฏิบัติการตัดสิน"),
		chromedp.Click(chromedp.CSS("#escalate-constituency")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if err != nil {
		t.Fatalf("escalate: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\x1b"),
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S21/constituency"] .chip.esc`)),
	)
	if err != nil {
		t.Fatalf("escalated item in the queue: %v", err)
	}
	shot(t, ctx, "console-escalated.png")

	// A tablet held upright: the station page still shows every source's figures and photos.
	var overflow bool
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(820, 1180),
		chromedp.Navigate(p.console+"/#/station/S21"),
		chromedp.WaitVisible(chromedp.CSS("#cmp-constituency")),
		into(chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`), &overflow),
	)
	if err != nil || overflow {
		t.Fatalf("station page on a tablet: %v (page wider than the screen: %v)", err, overflow)
	}
	shot(t, ctx, "console-tablet.png")
}

// A lead's figures that no volunteer sent wait for a second person: nothing reaches ingest
// until a war room member approves in the queue (by keyboard), then the station takes them.
func TestBrowserOverrideNeedsSecondApprover(t *testing.T) {
	ctx := browser(t, 1366, 900)
	p := startPipeline(t)
	p.playNight()
	reviews := func() int64 {
		ends, err := kadm.NewClient(p.kafka.Client(t)).ListEndOffsets(context.Background(), p.kafka.Topic(schemas.TopicReviews))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.console+"/#/"), chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		a    chromedp.Action[chromedp.Void]
	}{
		{"sign in", p.signIn("lead-C1", schemas.RoleDistrictLead, "C1")},
		{"queue", chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S01/constituency"]`))},
		{"open S01", chromedp.KeyEvent("\r")},
		{"station", chromedp.WaitVisible(chromedp.CSS("#cmp-constituency"))},
		{"correct", chromedp.KeyEvent("c")},
		{"inputs", chromedp.WaitVisible(chromedp.CSS(`#cmp-constituency input[data-k="v1"]`))},
		{"figures", chromedp.Steps(
			chromedp.SetValue(chromedp.CSS(`#cmp-constituency input[data-k="v1"]`), "300"),
			chromedp.SetValue(chromedp.CSS(`#cmp-constituency input[data-k="v2"]`), "200"),
			chromedp.SetValue(chromedp.CSS("#reason-constituency"), "นับใหม่ต่อหน้า กกต. เขต ได้ 300/200/50"))},
		{"save", chromedp.Click(chromedp.CSS("#ballot-constituency .actions button.primary"))},
		{"pending", chromedp.WaitVisible(chromedp.CSS("#pending"))},
	}
	var err error
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = chromedp.Do(sctx, st.a)
		cancel()
		if err != nil {
			err = fmt.Errorf("%s: %w", st.name, err)
			break
		}
	}
	if err != nil {
		shot(t, ctx, "console-override-failed.png")
		t.Fatalf("lead's unsourced figures: %v", err)
	}
	shot(t, ctx, "console-override-pending.png")
	if n := reviews(); n != 0 {
		t.Fatalf("%d reviews reached ingest with one person's say; want 0", n)
	}
	var text string
	err = chromedp.Do(ctx,
		signOut(),
		p.signIn("war-room-web", schemas.RoleWarRoom, ""),
		chromedp.WaitVisible(chromedp.CSS("#overrides li[data-override]")),
		into(chromedp.Text(chromedp.CSS("#overrides")), &text),
	)
	if err != nil || !strings.Contains(text, "lead-C1") || !strings.Contains(text, "S01") {
		t.Fatalf("war room's pending overrides: %q (%v)", text, err)
	}
	shot(t, ctx, "console-override-queue.png")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("A"),
		chromedp.WaitVisible(chromedp.CSS("#override-msg")),
		into(chromedp.Text(chromedp.CSS("#override-msg")), &text),
	)
	if err != nil || !strings.Contains(text, "Approved") {
		t.Fatalf("approve by keyboard: %q (%v)", text, err)
	}
	waitFor(t, "S01 verified with the approved figures", func() bool { return p.status("S01", "constituency") == "verified" })
	var reason string
	row := p.ch.Conn.QueryRow(context.Background(), "SELECT reason FROM `"+p.ch.Database+"`.reviews WHERE station_id = 'S01'")
	if err := row.Scan(&reason); err != nil || !strings.Contains(reason, "requested by lead-C1, approved by war-room-web") {
		t.Fatalf("review reason %q (%v); want both names", reason, err)
	}
}
