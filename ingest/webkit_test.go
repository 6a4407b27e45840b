package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The form in WebKit, the engine of every iPhone browser and of in-app browsers such as
// LINE's: Debian's WebKitWebDriver drives WebKitGTK's MiniBrowser under a virtual X server
// (xvfb-run). Service workers are made unavailable (ingest's /sw.js is answered 404 by the
// gate), as in many in-app browsers: the outbox alone must keep and send the report.

// webDriver is the little of W3C WebDriver the test needs.
type webDriver struct {
	t    *testing.T
	base string // http://127.0.0.1:port/session/<id>
}

func (d *webDriver) call(method, path string, body any) json.RawMessage {
	d.t.Helper()
	v, err := d.try(method, path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	return v
}

// try is call returning the error.
func (d *webDriver) try(method, path string, body any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("webdriver %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 {
		return nil, fmt.Errorf("webdriver %s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return out.Value, nil
}

// newWebKit starts WebKitWebDriver under xvfb-run and opens a session.
func newWebKit(t *testing.T) *webDriver {
	t.Helper()
	for _, bin := range []string{"xvfb-run", "WebKitWebDriver"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: run `make browser` (scripts/browser installs webkit2gtk-driver and xvfb)", bin)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("xvfb-run", "-a", "WebKitWebDriver", fmt.Sprintf("--port=%d", port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the driver, Xvfb and the browser end together
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The driver listens within a second or two; a bounded wait for its port.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("WebKitWebDriver did not listen on %d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d := &webDriver{t: t, base: root}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"webkitgtk:browserOptions": map[string]any{"args": []string{"--automation"}},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(d.call("POST", "/session", caps), &sess); err != nil || sess.SessionID == "" {
		stop()
		t.Fatalf("webdriver session: %v", err)
	}
	d.base = root + "/session/" + sess.SessionID
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", d.base, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		stop()
	})
	return d
}

func (d *webDriver) open(url string) { d.call("POST", "/url", map[string]string{"url": url}) }

func (d *webDriver) element(css string) string {
	d.t.Helper()
	var el map[string]string
	_ = json.Unmarshal(d.call("POST", "/element", map[string]string{"using": "css selector", "value": css}), &el)
	for _, id := range el {
		return id
	}
	d.t.Fatalf("no element %s", css)
	return ""
}

// click clicks the element, finding it again if the form redrew it in between (it redraws
// the stations when /v1/me answers).
func (d *webDriver) click(css string) {
	d.t.Helper()
	var err error
	for range 5 {
		if _, err = d.try("POST", "/element/"+d.element(css)+"/click", map[string]any{}); err == nil || !strings.Contains(err.Error(), "stale element") {
			break
		}
	}
	if err != nil {
		d.t.Fatal(err)
	}
}

func (d *webDriver) typeIn(css, text string) {
	d.call("POST", "/element/"+d.element(css)+"/value", map[string]string{"text": text})
}

// eval runs an expression that may be a promise and returns its value as a string.
func (d *webDriver) eval(expr string) string {
	d.t.Helper()
	script := `const done = arguments[arguments.length - 1]; Promise.resolve((() => (` + expr + `))()).then((v) => done(String(v)), (e) => done('error: ' + e));`
	var s string
	_ = json.Unmarshal(d.call("POST", "/execute/async", map[string]any{"script": script, "args": []any{}}), &s)
	return s
}

// wait polls a condition until it is "true" or fails the test after timeout.
func (d *webDriver) wait(what, cond string, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for d.eval(cond) != "true" {
		if time.Now().After(deadline) {
			d.t.Fatalf("webkit: waiting for %s (%s); page: %s", what, cond, d.eval(`document.body.innerText.slice(0, 400)`))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// noServiceWorker is the gate's next handler with /sw.js answered 404.
type noServiceWorker struct{ next http.Handler }

func (n noServiceWorker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/sw.js" {
		http.NotFound(w, r)
		return
	}
	n.next.ServeHTTP(w, r)
}

// TestWebKitOutboxWithoutServiceWorker: in WebKit, with no service worker, send a ballot,
// lose the signal, fill a report, get the signal back and reload: the report made offline
// is kept in IndexedDB and arrives in Kafka exactly once, as the first one did.
func TestWebKitOutboxWithoutServiceWorker(t *testing.T) {
	r := newServerRig(t, "")
	r.gate.next = noServiceWorker{r.gate.next}
	d := newWebKit(t)
	d.open(r.url + "/#t=" + r.tokens["ilaw-0042"])
	d.wait("the station card", `!!document.querySelector('[data-station="BKK_1_0001"]')`, 60*time.Second)
	if got := d.eval(`navigator.serviceWorker ? navigator.serviceWorker.getRegistrations().then(rs => rs.length) : 0`); got != "0" {
		t.Fatalf("a service worker is registered (%s): the test needs none", got)
	}
	fill := func(btn, stage string, votes map[int]int, cast, invalid, noVote int) {
		d.click(`[data-station="BKK_1_0001"] ` + btn)
		d.wait("the ballot form", `!!document.querySelector('#ballot-form')`, 10*time.Second)
		d.click(`input[name=stage][value=` + stage + `]`)
		for no, v := range votes {
			d.typeIn(fmt.Sprintf(`input[name="v%d"]`, no), fmt.Sprint(v))
		}
		d.typeIn(`input[name=ballots_cast]`, fmt.Sprint(cast))
		d.typeIn(`input[name=invalid]`, fmt.Sprint(invalid))
		d.typeIn(`input[name=no_vote]`, fmt.Sprint(noVote))
		d.wait("the sum to check out", `document.querySelector('#check').dataset.ok === 'true'`, 5*time.Second)
		d.click(`#send`)
	}
	fill(".go-report-p", "final", map[int]int{4: 300, 1: 200}, 520, 15, 5)
	d.wait("the first report accepted", `window.votestreamOutbox.all().then(a => a.length === 1 && a[0].state === 'accepted')`, 30*time.Second)

	r.gate.down.Store(true)
	fill(".go-report-c", "progress", map[int]int{1: 40, 2: 35}, 80, 2, 1)
	d.wait("the offline report queued", `window.votestreamOutbox.all().then(a => a.length === 2 && a.some(i => i.state === 'queued' && i.attempts > 0))`, 30*time.Second)
	ids := d.eval(`window.votestreamOutbox.all().then(a => a.map(i => i.id).sort().join(' '))`)

	r.gate.down.Store(false)
	d.call("POST", "/refresh", map[string]any{})
	d.wait("both reports accepted after the reload", `window.votestreamOutbox.all().then(a => a.length === 2 && a.every(i => i.state === 'accepted'))`, 60*time.Second)
	if after := d.eval(`window.votestreamOutbox.all().then(a => a.map(i => i.id).sort().join(' '))`); after != ids {
		t.Fatalf("outbox ids changed across the reload: %s, then %s", ids, after)
	}
	inKafka := r.submissionsInKafka()
	for _, id := range strings.Fields(ids) {
		if inKafka[id] != 1 {
			t.Errorf("report %s is in Kafka %d times, want once (%v)", id, inKafka[id], inKafka)
		}
	}
	if len(inKafka) != 2 {
		t.Fatalf("Kafka holds %v, want the two reports", inKafka)
	}
}
