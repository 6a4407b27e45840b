package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"votestream/ingest/token"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// directLog is fieldwork.v1 for unit tests: each event is applied at once at the next
// offset, as the follower would after Kafka acknowledged it. The order of decisions is the
// order of append calls. Tests against the real topic are in browser_test.go and
// TestFieldworkKafka.
type directLog struct {
	f    *fieldState
	mu   sync.Mutex
	next int64
	evs  []schemas.FieldEvent
}

func (l *directLog) append(_ context.Context, ev *schemas.FieldEvent) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	off := l.next
	l.next++
	l.evs = append(l.evs, *ev)
	l.f.apply(ev, off)
	return off, nil
}

// fieldHarness is a harness whose fieldwork state is loaded and written through directLog.
func fieldHarness(t testing.TB, mutate func(*Config)) (*harness, *directLog) {
	t.Helper()
	h := newHarness(t, mutate)
	log := &directLog{f: h.s.field}
	h.s.fieldLog = log
	h.s.field.setReady()
	return h, log
}

// phone is a device key as the form makes it.
type phone struct{ key *ecdsa.PrivateKey }

func newPhone(t *testing.T) phone {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return phone{k}
}

func (p phone) public(t *testing.T) string {
	t.Helper()
	raw, err := p.key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// proof signs like app.js's proof(): "vsp1\n<ms>\n<METHOD>\n<path>", P1363 signature.
func (p phone) proof(t *testing.T, at time.Time, method, path string) string {
	t.Helper()
	ms := fmt.Sprint(at.UnixMilli())
	sum := sha256.Sum256(proofMessage(ms, method, path))
	r, s, err := ecdsa.Sign(rand.Reader, p.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return ms + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// req sends a request with an optional device proof.
func (h *harness) req(method, path, tok, proof, body string) response {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if proof != "" {
		req.Header.Set(HeaderDeviceProof, proof)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func wantCode(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	got, _ := r.errorCode()
	if r.status != status || got != code {
		t.Fatalf("%s: got %d %s (%s), want %d %s", what, r.status, got, r.body, status, code)
	}
}

func uuidN(n int) string { return fmt.Sprintf("5f0c1a2b-3c4d-4e5f-8a9b-%012d", n) }

func TestPersonalLinkBindsOnePhone(t *testing.T) {
	h, log := fieldHarness(t, nil)
	link := issue(t, h.keys, token.Claims{VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, Bind: true})
	now := h.clock.Now()
	a, b := newPhone(t), newPhone(t)
	activate := func(p phone, event int) response {
		body := fmt.Sprintf(`{"event_id":%q,"device_key":%q}`, uuidN(event), p.public(t))
		return h.req("POST", "/v1/activate", link, p.proof(t, now, "POST", "/v1/activate"), body)
	}

	wantCode(t, "a link not yet opened", h.req("GET", "/v1/me", link, a.proof(t, now, "GET", "/v1/me"), ""), 403, CodeNotActivated)
	if r := activate(a, 1); r.status != 201 {
		t.Fatalf("first activation: %d %s", r.status, r.body)
	}
	if r := activate(a, 2); r.status != 200 {
		t.Fatalf("the same phone again (a retry): %d %s", r.status, r.body)
	}
	wantCode(t, "the link forwarded to another phone", activate(b, 3), 409, CodeLinkUsed)
	if n := len(log.evs); n != 1 || log.evs[0].Kind != schemas.FieldActivate || log.evs[0].DeviceKey != a.public(t) {
		t.Fatalf("fieldwork.v1 got %+v, want one activation with the first phone's key", log.evs)
	}

	r := h.req("GET", "/v1/me", link, a.proof(t, now, "GET", "/v1/me"), "")
	var me meBody
	if r.status != 200 || json.Unmarshal(r.body, &me) != nil || len(me.Stations) != 1 || me.Stations[0].ID != "BKK_1_0001" ||
		len(me.Constituencies["BKK_1"].Candidates) != 5 || len(me.Parties) != 5 {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if r := h.req("POST", "/v1/submissions", link, a.proof(t, now, "POST", "/v1/submissions"), validSub().json()); r.status != 202 {
		t.Fatalf("a report from the bound phone: %d %s", r.status, r.body)
	}
	for name, proof := range map[string]string{
		"no proof":             "",
		"the other phone":      b.proof(t, now, "GET", "/v1/me"),
		"a proof of a path":    a.proof(t, now, "GET", "/v1/claims"),
		"a proof of a method":  a.proof(t, now, "POST", "/v1/me"),
		"a proof 2 hours old":  a.proof(t, now.Add(-2*time.Hour), "GET", "/v1/me"),
		"garbage":              "123.abc",
		"a signature too long": fmt.Sprint(now.UnixMilli()) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 65)),
	} {
		wantCode(t, name, h.req("GET", "/v1/me", link, proof, ""), 401, CodeDeviceProof)
	}
}

func TestActivateRefuses(t *testing.T) {
	h, _ := fieldHarness(t, nil)
	link := issue(t, h.keys, token.Claims{VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, Bind: true})
	now := h.clock.Now()
	p := newPhone(t)
	proof := p.proof(t, now, "POST", "/v1/activate")
	body := func(id, key string) string { return fmt.Sprintf(`{"event_id":%q,"device_key":%q}`, id, key) }

	wantCode(t, "an app's token", h.req("POST", "/v1/activate", h.volunteer, proof, body(uuidN(1), p.public(t))), 400, CodeInvalidValue)
	wantCode(t, "no token", h.req("POST", "/v1/activate", "", proof, body(uuidN(1), p.public(t))), 401, CodeUnauthenticated)
	wantCode(t, "a key that is no point", h.req("POST", "/v1/activate", link, proof, body(uuidN(1), "AAAA")), 400, CodeInvalidValue)
	wantCode(t, "no proof", h.req("POST", "/v1/activate", link, "", body(uuidN(1), p.public(t))), 401, CodeDeviceProof)
	wantCode(t, "a proof by another key", h.req("POST", "/v1/activate", link, newPhone(t).proof(t, now, "POST", "/v1/activate"), body(uuidN(1), p.public(t))), 401, CodeDeviceProof)
	wantCode(t, "no event id", h.req("POST", "/v1/activate", link, proof, fmt.Sprintf(`{"device_key":%q}`, p.public(t))), 400, CodeMissingField)
	wantCode(t, "an unknown field", h.req("POST", "/v1/activate", link, proof, `{"event_id":"x","device_key":"y","pin":1}`), 400, CodeUnknownField)
	wantCode(t, "a field in capitals", h.req("POST", "/v1/activate", link, proof, `{"Event_ID":"x","device_key":"y"}`), 400, CodeUnknownField)

	// Until fieldwork.v1 is read, a personal link can neither activate nor report.
	cold := newHarness(t, nil)
	coldLink := issue(t, cold.keys, token.Claims{VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, Bind: true})
	r := cold.req("POST", "/v1/activate", coldLink, proof, body(uuidN(1), p.public(t)))
	wantCode(t, "activation while starting", r, 503, CodeStarting)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 STARTING without Retry-After")
	}
	wantCode(t, "a report while starting", cold.req("POST", "/v1/submissions", coldLink, "", validSub().json()), 503, CodeStarting)
}

func TestReissueRetiresOlderLinks(t *testing.T) {
	h, log := fieldHarness(t, nil)
	now := h.clock.Now()
	old := issue(t, h.keys, token.Claims{TokenID: "tok-old", VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, IssuedAt: now.Add(-48 * time.Hour)})
	fresh := issue(t, h.keys, token.Claims{TokenID: "tok-new", VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, IssuedAt: now.Add(-time.Minute)})
	if _, err := log.append(context.Background(), &schemas.FieldEvent{EventID: uuidN(9), Kind: schemas.FieldReissue, VolunteerID: "ilaw-0042", Org: "iLaw", TokenID: "tok-new", IssuedAt: now.Add(-time.Minute), At: now}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "the replaced link", h.post("/v1/submissions", old, validSub().json()), 401, CodeTokenRevoked)
	if r := h.post("/v1/submissions", fresh, validSub().json()); r.status != 202 {
		t.Fatalf("the new link: %d %s", r.status, r.body)
	}
}

func TestClaimsWithinCap(t *testing.T) {
	h, _ := fieldHarness(t, func(c *Config) { c.ClaimCap = 2 })
	vol := func(id string) string {
		return issue(t, h.keys, token.Claims{VolunteerID: id, Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
	}
	v1, v2, v3 := vol("v1"), vol("v2"), vol("v3")
	claim := func(tok string, event int, station string, withdraw bool) response {
		return h.post("/v1/claims", tok, fmt.Sprintf(`{"event_id":%q,"station_id":%q,"withdraw":%t}`, uuidN(event), station, withdraw))
	}
	if r := claim(v1, 1, "BKK_1_0002", false); r.status != 201 {
		t.Fatalf("first claim: %d %s", r.status, r.body)
	}
	if r := claim(v2, 2, "BKK_1_0002", false); r.status != 201 {
		t.Fatalf("second claim: %d %s", r.status, r.body)
	}
	wantCode(t, "a third claim over the cap of 2", claim(v3, 3, "BKK_1_0002", false), 409, CodeStationFull)
	wantCode(t, "the third claim retried", claim(v3, 3, "BKK_1_0002", false), 409, CodeStationFull)
	if r := claim(v1, 1, "BKK_1_0002", false); r.status != 201 {
		t.Fatalf("the first claim retried: %d %s", r.status, r.body)
	}

	var list struct {
		Cap      int                `json:"cap"`
		Stations []claimableStation `json:"stations"`
	}
	r := h.req("GET", "/v1/claims", v1, "", "")
	if err := json.Unmarshal(r.body, &list); err != nil || list.Cap != 2 || len(list.Stations) != 2 {
		t.Fatalf("claimable: %d %s", r.status, r.body)
	}
	for _, st := range list.Stations {
		if st.ID == "BKK_1_0002" && (st.Claims != 2 || !st.Mine || st.Roster) || st.ID == "BKK_1_0001" && !st.Roster {
			t.Fatalf("claimable station %+v", st)
		}
	}
	// The claimed station is the volunteer's now: in the form, and checked in at.
	var me meBody
	_ = json.Unmarshal(h.req("GET", "/v1/me", v1, "", "").body, &me)
	if len(me.Stations) != 2 || me.Stations[1].ID != "BKK_1_0002" || me.Stations[1].Via != "claim" {
		t.Fatalf("me after a claim: %+v", me.Stations)
	}

	if r := claim(v1, 4, "BKK_1_0002", true); r.status != 200 {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	if r := claim(v3, 5, "BKK_1_0002", false); r.status != 201 {
		t.Fatalf("a claim after a withdrawal: %d %s", r.status, r.body)
	}
	wantCode(t, "another constituency", claim(v1, 6, "CNX_1_0001", false), 403, CodeOutOfScope)
	wantCode(t, "a lead claims", claim(h.lead, 7, "BKK_1_0002", false), 403, CodeForbiddenRole)
	wantCode(t, "an unknown station", claim(v1, 8, "BKK_1_9999", false), 422, CodeUnknownStation)
	wantCode(t, "no event id", h.post("/v1/claims", v1, `{"station_id":"BKK_1_0002"}`), 400, CodeMissingField)
}

func TestCheckinAndReassign(t *testing.T) {
	h, log := fieldHarness(t, nil)
	checkin := func(tok string, event int, station string) response {
		return h.post("/v1/checkins", tok, fmt.Sprintf(`{"event_id":%q,"station_id":%q}`, uuidN(event), station))
	}
	if r := checkin(h.volunteer, 1, "BKK_1_0001"); r.status != 202 {
		t.Fatalf("check-in: %d %s", r.status, r.body)
	}
	var me meBody
	_ = json.Unmarshal(h.req("GET", "/v1/me", h.volunteer, "", "").body, &me)
	if len(me.Stations) != 1 || me.Stations[0].CheckedInAt == nil || !me.Stations[0].CheckedInAt.Equal(h.clock.Now()) {
		t.Fatalf("me after check-in: %+v", me.Stations)
	}
	wantCode(t, "check-in at a station not theirs", checkin(h.volunteer, 2, "BKK_1_0002"), 403, CodeOutOfScope)

	assign := func(tok string, event int, station, volunteer string) response {
		return h.post("/v1/assignments", tok, fmt.Sprintf(`{"event_id":%q,"station_id":%q,"volunteer_id":%q,"org":"iLaw"}`, uuidN(event), station, volunteer))
	}
	wantCode(t, "a volunteer reassigns", assign(h.volunteer, 3, "BKK_1_0002", "ilaw-0001"), 403, CodeForbiddenRole)
	wantCode(t, "a lead outside their constituency", assign(h.lead, 4, "CNX_1_0001", "ilaw-0001"), 403, CodeOutOfScope)
	if r := assign(h.lead, 5, "BKK_1_0002", "ilaw-0001"); r.status != 202 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	me = meBody{}
	_ = json.Unmarshal(h.req("GET", "/v1/me", h.volunteer, "", "").body, &me)
	if len(me.Stations) != 2 || me.Stations[1].ID != "BKK_1_0002" || me.Stations[1].Via != "assign" {
		t.Fatalf("me after a reassignment: %+v", me.Stations)
	}
	if r := checkin(h.volunteer, 6, "BKK_1_0002"); r.status != 202 {
		t.Fatalf("check-in at the station moved to them: %d %s", r.status, r.body)
	}
	if ev := log.evs[len(log.evs)-2]; ev.Kind != schemas.FieldAssign || ev.By != "lead-bkk1" || ev.ConstituencyID != "BKK_1" {
		t.Fatalf("assignment event %+v", ev)
	}
}

func TestIncidents(t *testing.T) {
	h := newHarness(t, nil)
	body := func(kv ...string) string {
		m := map[string]any{"incident_id": uuidN(1), "station_id": "BKK_1_0001", "category": "count_stopped",
			"occurred_at": "2023-05-14T17:40:00+07:00", "text": "กรรมการหยุดนับคะแนนและปิดห้อง"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	first := h.post("/v1/incidents", h.volunteer, body())
	if first.status != 202 {
		t.Fatalf("incident: %d %s", first.status, first.body)
	}
	again := h.post("/v1/incidents", h.volunteer, body())
	if again.status != 202 || !again.receipt(t).Duplicate || again.receipt(t).Hash != first.receipt(t).Hash {
		t.Fatalf("retry: %d %s", again.status, again.body)
	}
	recs := h.prod.recs()
	if len(recs) != 1 || !strings.HasSuffix(recs[0].Topic, schemas.TopicIncidents) {
		t.Fatalf("records %v", recs)
	}
	var inc schemas.Incident
	if err := kgorecord.Decode(recs[0], &inc); err != nil || inc.Category != "count_stopped" || inc.VolunteerID != "ilaw-0001" || inc.ConstituencyID != "BKK_1" || inc.Evidence == nil {
		t.Fatalf("incident record %+v %v", inc, err)
	}
	wantCode(t, "the same id, other text", h.post("/v1/incidents", h.volunteer, body("text", "อื่น")), 409, CodeIDConflict)
	wantCode(t, "an unknown category", h.post("/v1/incidents", h.volunteer, body("incident_id", uuidN(2), "category", "riot")), 400, CodeInvalidValue)
	wantCode(t, "in the future", h.post("/v1/incidents", h.volunteer, body("incident_id", uuidN(3), "occurred_at", "2023-05-14T23:00:00+07:00")), 422, CodeCountedAtFuture)
	wantCode(t, "no text", h.post("/v1/incidents", h.volunteer, body("incident_id", uuidN(4), "text", "")), 400, CodeMissingField)
	wantCode(t, "a photo that is no digest", h.post("/v1/incidents", h.volunteer, strings.Replace(body("incident_id", uuidN(5)), `"text"`, `"evidence":["x"],"text"`, 1)), 400, CodeInvalidValue)
}

// TestFormServed: the form's files come gzipped with their security headers, revalidate by
// ETag, and weigh what the issue allows (under 150 KB transferred before photos).
func TestFormServed(t *testing.T) {
	h := newHarness(t, nil)
	total := 0
	for _, p := range formPaths {
		req := httptest.NewRequest("GET", p, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: %d %v", p, rec.Code, rec.Header())
		}
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		plain, _ := io.ReadAll(zr)
		name := p
		if p == "/" {
			name = "/index.html"
			if !strings.Contains(rec.Header().Get("Content-Type"), "text/html") || !bytes.Contains(plain, []byte(`lang="th"`)) {
				t.Fatalf("/ is not the Thai form: %s", rec.Header().Get("Content-Type"))
			}
		}
		if want, _ := webFiles.ReadFile("web" + name); !bytes.Equal(plain, want) {
			t.Fatalf("%s: the gzipped body is not the file", p)
		}
		total += rec.Body.Len()

		req = httptest.NewRequest("GET", p, nil)
		req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
		rec = httptest.NewRecorder()
		h.s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d", p, rec.Code)
		}
	}
	t.Logf("the form's files weigh %d bytes gzipped", total)
	if total >= 150_000 {
		t.Fatalf("the form weighs %d bytes gzipped: the issue allows under 150 KB before photos", total)
	}
	if r := h.do("GET", "/nothing-here", "", "", nil); r.status != 404 {
		t.Fatalf("unknown path: %d", r.status)
	}
}

// TestFieldworkKafka: two ingest processes share fieldwork.v1 on the real broker. A link
// opened on a phone through one of them is refused to another phone through the other, and
// a claim cap holds across both: decisions follow the log's order, not the process.
func TestFieldworkKafka(t *testing.T) {
	env := testenv.Kafka(t)
	start := func() *harness {
		h := kafkaHarness(t, env.Seeds, env.Prefix, func(c *Config) { c.ClaimCap = 1; c.WarmupTimeout = 0 })
		serveStarting(t, h)
		waitFieldReady(t, h.s.field)
		return h
	}
	one, two := start(), start()
	two.keys = one.keys
	link := issue(t, one.keys, token.Claims{VolunteerID: "ilaw-0042", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}, Bind: true})
	now := one.clock.Now()
	a, b := newPhone(t), newPhone(t)
	act := func(h *harness, p phone, event int) response {
		body := fmt.Sprintf(`{"event_id":%q,"device_key":%q}`, uuidN(event), p.public(t))
		return h.req("POST", "/v1/activate", link, p.proof(t, now, "POST", "/v1/activate"), body)
	}
	if r := act(one, a, 1); r.status != 201 {
		t.Fatalf("activation through the first process: %d %s", r.status, r.body)
	}
	wantCode(t, "the forwarded link through the second process", act(two, b, 2), 409, CodeLinkUsed)
	if r := two.req("GET", "/v1/me", link, a.proof(t, now, "GET", "/v1/me"), ""); r.status != 200 {
		t.Fatalf("the bound phone through the second process: %d %s", r.status, r.body)
	}

	v1 := issue(t, one.keys, token.Claims{VolunteerID: "v1", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
	v2 := issue(t, one.keys, token.Claims{VolunteerID: "v2", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
	if r := one.post("/v1/claims", v1, fmt.Sprintf(`{"event_id":%q,"station_id":"BKK_1_0002"}`, uuidN(3))); r.status != 201 {
		t.Fatalf("claim through the first process: %d %s", r.status, r.body)
	}
	wantCode(t, "a claim over the cap through the second process",
		two.post("/v1/claims", v2, fmt.Sprintf(`{"event_id":%q,"station_id":"BKK_1_0002"}`, uuidN(4))), 409, CodeStationFull)
}

// waitFieldReady blocks until the follower has read fieldwork.v1 to its end, or fails.
func waitFieldReady(t *testing.T, f *fieldState) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		f.mu.RLock()
		ready, ch := f.ready, f.changed
		f.mu.RUnlock()
		if ready {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("fieldwork.v1 not read within 60 s")
		}
	}
}

// The form may fetch proofs from the transparency log's origin, and from nowhere else.
func TestFormCSPAllowsTheLog(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "connect-src 'self';"},
		{"https://log.example.org/base/", "connect-src 'self' https://log.example.org;"},
		{"http://127.0.0.1:8095", "connect-src 'self' http://127.0.0.1:8095;"},
		{"javascript:alert(1)", "connect-src 'self';"},
	} {
		if got := formCSP(c.url); !strings.Contains(got, c.want) {
			t.Errorf("formCSP(%q) = %q, want it to contain %q", c.url, got, c.want)
		}
	}
}
