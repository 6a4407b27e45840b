package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
)

// testNow is 18:00 in Bangkok on election night, an hour after polls closed.
var testNow = time.Date(2023, 5, 14, 18, 0, 0, 0, time.FixedZone("ICT", 7*3600))

// testCountry has two provinces, three constituencies and four stations. Party numbers are
// 1, 2, 3, 7 and 31; candidate numbers are per constituency, so 31 is a party number that
// is no candidate number anywhere (the number-swap trap).
func testCountry(t testing.TB) *election.Country {
	t.Helper()
	c := rawCountry()
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawCountry is testCountry before Index.
func rawCountry() *election.Country {
	return &election.Country{
		Provinces: []election.Province{
			{ID: "BKK", NameTH: "กรุงเทพมหานคร", NameEN: "Bangkok", Region: "central"},
			{ID: "CNX", NameTH: "เชียงใหม่", NameEN: "Chiang Mai", Region: "north"},
		},
		Constituencies: []election.Constituency{
			{ID: "BKK_1", ProvinceID: "BKK", Number: 1, EligibleVoters: 1100, Stations: 2},
			{ID: "BKK_2", ProvinceID: "BKK", Number: 2, EligibleVoters: 400, Stations: 1},
			{ID: "CNX_1", ProvinceID: "CNX", Number: 1, EligibleVoters: 700, Stations: 1},
		},
		Stations: []election.Station{
			{ID: "BKK_1_0001", ConstituencyID: "BKK_1", Subdistrict: "พระบรมมหาราชวัง", Number: 1, EligibleVoters: 500},
			{ID: "BKK_1_0002", ConstituencyID: "BKK_1", Subdistrict: "พระบรมมหาราชวัง", Number: 2, EligibleVoters: 600},
			{ID: "BKK_2_0001", ConstituencyID: "BKK_2", Subdistrict: "ดุสิต", Number: 1, EligibleVoters: 400},
			{ID: "CNX_1_0001", ConstituencyID: "CNX_1", Subdistrict: "ศรีภูมิ", Number: 1, EligibleVoters: 700},
		},
		Parties: []election.Party{
			{No: 1, NameTH: "พรรคหนึ่ง", NameEN: "One"}, {No: 2, NameTH: "พรรคสอง", NameEN: "Two"},
			{No: 3, NameTH: "พรรคสาม", NameEN: "Three"}, {No: 7, NameTH: "พรรคเจ็ด", NameEN: "Seven"},
			{No: 31, NameTH: "พรรคสามสิบเอ็ด", NameEN: "Thirty-one"},
		},
		Candidates: []election.Candidate{
			{ConstituencyID: "BKK_1", No: 1, Name: "ก", PartyNo: 31}, {ConstituencyID: "BKK_1", No: 2, Name: "ข", PartyNo: 7},
			{ConstituencyID: "BKK_1", No: 3, Name: "ค", PartyNo: 1}, {ConstituencyID: "BKK_1", No: 4, Name: "ง", PartyNo: 2},
			{ConstituencyID: "BKK_1", No: 5, Name: "จ", PartyNo: 3},
			{ConstituencyID: "BKK_2", No: 1, Name: "ฉ", PartyNo: 1}, {ConstituencyID: "BKK_2", No: 2, Name: "ช", PartyNo: 2},
			{ConstituencyID: "CNX_1", No: 1, Name: "ซ", PartyNo: 7},
		},
	}
}

var testKey = bytes.Repeat([]byte{0x5A}, 32)

func testKeyring(t testing.TB) *token.Keyring {
	t.Helper()
	k, err := token.NewKeyring("k1", map[string][]byte{"k1": testKey})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var testStaffKey = bytes.Repeat([]byte{0xA5}, 32)

// testStaffKeyring signs the leads' and the war room's tokens, with the same key id as the
// volunteers' ring on purpose: ingest must tell them apart by signature.
func testStaffKeyring(t testing.TB) *token.Keyring {
	t.Helper()
	k, err := token.NewStaffKeyring("k1", map[string][]byte{"k1": testStaffKey})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var testConsoleKey = bytes.Repeat([]byte{0x3C}, 32)

// testConsoleKeys is the key the review console signs forwarded decisions with.
func testConsoleKeys(t testing.TB) *token.ConsoleKeys {
	t.Helper()
	k, err := token.NewConsoleKeys("c1", map[string][]byte{"c1": testConsoleKey})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, k *token.Keyring, c token.Claims) string {
	t.Helper()
	if c.Org == "" {
		c.Org = "iLaw"
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = testNow.Add(-48 * time.Hour)
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = testNow.Add(24 * time.Hour)
	}
	tok, err := k.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeProducer acknowledges, fails or holds records in memory.
type fakeProducer struct {
	mu      sync.Mutex
	records []*kgo.Record
	fail    error // when set, every record fails with it
	hold    bool  // when set, records wait for release
	held    []func()
	pingErr error
}

func (f *fakeProducer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.fail != nil:
		promise(r, f.fail)
	case f.hold:
		f.held = append(f.held, func() {
			f.records = append(f.records, r)
			promise(r, nil)
		})
	default:
		f.records = append(f.records, r)
		promise(r, nil)
	}
}

// release acknowledges every held record.
func (f *fakeProducer) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.held {
		fn()
	}
	f.held, f.hold = nil, false
}

func (f *fakeProducer) Ping(context.Context) error    { return f.pingErr }
func (f *fakeProducer) BufferedProduceRecords() int64 { return 0 }
func (f *fakeProducer) Flush(context.Context) error   { return nil }
func (f *fakeProducer) Close()                        {}

func (f *fakeProducer) recs() []*kgo.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*kgo.Record(nil), f.records...)
}

type harness struct {
	t     testing.TB
	s     *Server
	prod  *fakeProducer
	keys  *token.Keyring
	staff *token.Keyring
	// console signs the harness's reviews and official figures as the review console does
	// (do); postDirect sends them unsigned, as a lead posting straight to ingest would.
	console *token.ConsoleKeys
	clock   *testClock
	// Tokens for the usual actors.
	volunteer, lead, warRoom string
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newHarness(t testing.TB, mutate func(*Config), opts ...Option) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.EvidenceDir = t.TempDir()
	cfg.RatePerVolunteer = 0
	cfg.ProduceTimeout = 200 * time.Millisecond
	cfg.WarmupTimeout = 0 // the fake producer writes to no topic to read back
	cfg.Country = testCountry(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, prod: &fakeProducer{}, keys: testKeyring(t), staff: testStaffKeyring(t), console: testConsoleKeys(t), clock: &testClock{now: testNow}}
	all := append([]Option{
		withProducer(h.prod), WithKeyring(h.keys), WithStaffKeyring(h.staff), WithConsoleKeys(h.console), WithClock(h.clock.Now),
	}, opts...)
	s, err := New(cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h.s = s
	h.volunteer = issue(t, h.keys, token.Claims{VolunteerID: "ilaw-0001", Role: schemas.RoleStation, Stations: []string{"BKK_1_0001"}})
	h.lead = issue(t, h.staff, token.Claims{VolunteerID: "lead-bkk1", Org: "war room", Role: schemas.RoleDistrictLead, Constituency: "BKK_1"})
	h.warRoom = issue(t, h.staff, token.Claims{VolunteerID: "wr-01", Org: "war room", Role: schemas.RoleWarRoom})
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() (code, field string) {
	var b struct {
		Error APIError `json:"error"`
	}
	_ = json.Unmarshal(r.body, &b)
	return b.Error.Code, b.Error.Field
}

func (r response) receipt(t testing.TB) schemas.Receipt {
	t.Helper()
	var rc schemas.Receipt
	if err := json.Unmarshal(r.body, &rc); err != nil {
		t.Fatalf("receipt: %v in %s", err, r.body)
	}
	return rc
}

func (h *harness) do(method, path, tok, contentType string, body []byte) response {
	return h.send(method, path, tok, contentType, body, path == "/v1/reviews" || path == "/v1/official")
}

// postDirect posts without the console's signature.
func (h *harness) postDirect(path, tok, body string) response {
	return h.send(http.MethodPost, path, tok, "application/json", []byte(body), false)
}

func (h *harness) send(method, path, tok, contentType string, body []byte, sign bool) response {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if sign && h.console != nil {
		h.console.Sign(req, path, body, h.clock.Now())
	}
	rec := httptest.NewRecorder()
	h.s.Handler().ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (h *harness) post(path, tok, body string) response {
	return h.do(http.MethodPost, path, tok, "application/json", []byte(body))
}

// sub is a valid constituency-ballot submission for BKK_1_0001 (500 eligible voters),
// with fields to change.
type sub map[string]any

func validSub() sub {
	return sub{
		"submission_id": "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01",
		"station_id":    "BKK_1_0001",
		"ballot":        "constituency",
		"stage":         "final",
		"counted_at":    "2023-05-14T17:45:00+07:00",
		"ballots_cast":  412, "invalid": 9, "no_vote": 4,
		"votes": map[string]int{"1": 230, "2": 120, "5": 49},
	}
}

func (s sub) with(kv ...any) sub {
	out := sub{}
	for k, v := range s {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func (s sub) json() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// writeFile replaces the file whole (a temporary file renamed over it): a revocation list
// rewritten in place can be reloaded between the truncation and the write, empty.
func writeFile(path, content string) error {
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
