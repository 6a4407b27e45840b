package evidencelog

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"votestream/ingest/s3store"
	"votestream/internal/testenv"
	"votestream/schemas"
	"votestream/schemas/chtable"
	"votestream/schemas/provision"
)

func jpegOf(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, size, size)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// photoWithGPS is a real JPEG carrying an EXIF segment that names a place, as phones write.
func photoWithGPS(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.RGBA{200, 10, 10, 255})
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, img, nil); err != nil {
		t.Fatal(err)
	}
	exif := append([]byte("Exif\x00\x00"), []byte("GPS 13.7563N 100.5018E device Pixel-7 SECRET-PLACE")...)
	seg := append([]byte{0xFF, 0xE1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	b := enc.Bytes()
	return append(append(append([]byte{}, b[:2]...), seg...), b[2:]...)
}

// TestStationPages: after polls close, a station's page shows the consolidated figures and
// each source's, in Thai first; its photo is served without its metadata; a photo taken down
// is withdrawn (410) while the page says its hash stays in the log; before polls close the
// page is refused.
func TestStationPages(t *testing.T) {
	env := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := provision.MigrateClickHouse(ctx, env.Conn, env.Database); err != nil {
		t.Fatal(err)
	}
	evDir := t.TempDir()
	photo := photoWithGPS(t)
	ref := schemas.SHA256Ref(photo)
	if _, _, err := image.Decode(bytes.NewReader(photo)); err != nil {
		t.Fatalf("the test photo does not decode: %v", err)
	}
	hexd := ref[len("sha256:"):]
	if err := os.MkdirAll(filepath.Join(evDir, hexd[:2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(evDir, hexd[:2], hexd), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	other := schemas.SHA256Ref([]byte("a photo of another station"))
	at := time.Date(2023, 5, 14, 17, 40, 0, 0, time.UTC)
	sub := schemas.Submission{SubmissionID: "s-1", StationID: "BKK_1_0001", Ballot: "constituency", Stage: schemas.StageFinal,
		CountedAt: at, BallotsCast: 412, Invalid: 9, NoVote: 4, Votes: map[string]int{"1": 230, "2": 120, "5": 49}, Evidence: []string{ref}}
	rep := schemas.Report{Submission: sub, VolunteerID: "ilaw-0001", Org: "iLaw", Role: "station", ReceivedAt: at, Hash: schemas.CanonicalHash(sub)}
	res := schemas.StationResult{StationID: "BKK_1_0001", ConstituencyID: "BKK_1", Ballot: "constituency", Version: 1,
		Status: schemas.StatusProvisional, Stage: schemas.StageFinal, BallotsCast: 412, Invalid: 9, NoVote: 4,
		Votes: map[string]int{"1": 230, "2": 120, "5": 49}, CountedAt: at, UpdatedAt: at}
	for _, msg := range []any{&rep, &res} {
		rowsets, err := chtable.MessageRows(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range rowsets {
			batch, err := env.Conn.PrepareBatch(ctx, rs.Table.InsertQuery(env.Database))
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

	takedowns := filepath.Join(t.TempDir(), "takedowns")
	cfg := DefaultConfig()
	cfg.ClickHouseAddr, cfg.ClickHouseDatabase, cfg.EvidenceDir, cfg.TakedownFile = env.Addr, env.Database, evDir, takedowns
	cfg.PollsClose = time.Date(2023, 5, 14, 10, 0, 0, 0, time.UTC)
	s, err := newStations(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.conn.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /station/{id}", s.handlePage)
	mux.HandleFunc("GET /station/{id}/photo/{digest}", s.handlePhoto)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, []byte) { t.Helper(); return testenv.Get(t, srv.URL+path) }

	code, page := get("/station/BKK_1_0001")
	if code != http.StatusOK {
		t.Fatalf("page: %d %s", code, page)
	}
	for _, want := range []string{"หน่วยเลือกตั้ง BKK_1_0001", "แบบแบ่งเขต", "<td>412</td>", "<td>230</td>", "iLaw", "/station/BKK_1_0001/photo/" + ref, "/photo/" + ref} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Each report links its own proof: by submission id and canonical hash (the log's
	// /report/ endpoint; TestLogNight checks what it answers).
	if want := `href="/report/s-1?hash=` + strings.Replace(rep.Hash, ":", "%3a", 1) + `"`; !strings.Contains(string(page), want) {
		t.Errorf("page lacks the report's proof link %s", want)
	}
	if strings.Contains(string(page), "ilaw-0001") {
		t.Error("the page names the volunteer")
	}
	code, img := get("/station/BKK_1_0001/photo/" + ref)
	if code != http.StatusOK {
		t.Fatalf("photo: %d %s", code, img)
	}
	if _, format, err := image.Decode(bytes.NewReader(img)); err != nil || format != "jpeg" {
		t.Fatalf("served photo: %s %v", format, err)
	}
	if bytes.Contains(img, []byte("SECRET-PLACE")) || bytes.Contains(img, []byte("Exif")) {
		t.Error("the served photo still carries its EXIF metadata")
	}
	if code, _ := get("/station/BKK_1_0001/photo/" + other); code != http.StatusNotFound {
		t.Errorf("a photo the station's reports do not cite: %d, want 404", code)
	}
	if code, _ := get("/station/NO_SUCH"); code != http.StatusNotFound {
		t.Errorf("a station without reports: %d, want 404", code)
	}

	// The same photo from ingest's bucket instead of its folder.
	s3env := testenv.S3(t)
	bcfg := cfg
	bcfg.EvidenceS3 = s3store.DefaultConfig()
	b := &bcfg.EvidenceS3
	b.Endpoint, b.Bucket, b.Region, b.AccessKey, b.SecretKey, b.Secure, b.SpoolDir = s3env.Endpoint, s3env.Bucket, s3env.Region, s3env.AccessKey, s3env.SecretKey, false, t.TempDir()
	bs, err := newStations(bcfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer bs.conn.Close()
	if err := bs.bucket.Put(ctx, hexd, bytes.NewReader(photo)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/station/BKK_1_0001/photo/"+ref, nil)
	req.SetPathValue("id", "BKK_1_0001")
	req.SetPathValue("digest", ref)
	bs.handlePhoto(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte("SECRET-PLACE")) {
		t.Errorf("photo from the bucket: %d, metadata kept: %v", rec.Code, bytes.Contains(rec.Body.Bytes(), []byte("SECRET-PLACE")))
	}

	// A stored copy altered behind ingest's back is never served.
	if err := os.WriteFile(filepath.Join(evDir, hexd[:2], hexd), jpegOf(t, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, b := get("/station/BKK_1_0001/photo/" + ref); code != http.StatusInternalServerError || !strings.Contains(string(b), "PHOTO_ALTERED") {
		t.Errorf("an altered stored photo: %d %s, want 500 PHOTO_ALTERED", code, b)
	}

	// Taken down for privacy: withdrawn, and the page says its hash stays in the log.
	if err := os.WriteFile(takedowns, []byte("# privacy requests\n"+ref+" a voter's face\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.reloadTakedowns(); err != nil {
		t.Fatal(err)
	}
	if code, b := get("/station/BKK_1_0001/photo/" + ref); code != http.StatusGone || !strings.Contains(string(b), "WITHDRAWN") {
		t.Errorf("a photo taken down: %d %s, want 410 WITHDRAWN", code, b)
	}
	if _, page := get("/station/BKK_1_0001"); !strings.Contains(string(page), "a voter&#39;s face") || strings.Contains(string(page), `img src="/station/BKK_1_0001/photo/`) {
		t.Errorf("the page still shows the photo taken down, or not why")
	}
	if err := os.WriteFile(takedowns, []byte("not-a-digest reason\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour) // a modification time the reload must notice
	_ = os.Chtimes(takedowns, future, future)
	if err := s.reloadTakedowns(); err == nil {
		t.Error("a malformed takedown file was accepted")
	}
	if code, _ := get("/station/BKK_1_0001/photo/" + ref); code != http.StatusGone {
		t.Errorf("after a bad takedown file the previous list must stay in force: %d", code)
	}

	// Before polls close: refused.
	s.now = func() time.Time { return cfg.PollsClose.Add(-time.Minute) }
	if code, b := get("/station/BKK_1_0001"); code != http.StatusForbidden || !strings.Contains(string(b), "NOT_YET_OPEN") {
		t.Errorf("before polls close: %d %s, want 403 NOT_YET_OPEN", code, b)
	}
	if code, _ := get("/station/BKK_1_0001/photo/" + ref); code != http.StatusForbidden {
		t.Errorf("a photo before polls close: %d, want 403", code)
	}
}
