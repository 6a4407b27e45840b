package evidencelog

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/jpeg"
	"image/png"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"votestream/election"
	"votestream/ingest/s3store"
	"votestream/internal/chquery"
	"votestream/schemas"
)

// stations serves the public station pages once polls have closed (KawalPemilu's and
// Escrutinio Social's practice): the consolidated figures, each source's figures, and the
// count-form photos, so the crowd can re-check the count. Photos are re-encoded before they
// are served, which drops their metadata (GPS position, device, time); the originals stay
// in ingest's store, never served. A photo withdrawn for privacy (Config.TakedownFile) is
// answered 410 while its hash stays in the log. Volunteers are not named, only their
// organisation.
type stations struct {
	cfg    Config
	log    *slog.Logger
	conn   driver.Conn
	bucket *s3store.Store // nil: photos from cfg.EvidenceDir
	now    func() time.Time

	mu        sync.RWMutex
	takedowns map[string]string // "sha256:<hex>" -> reason
	modTime   time.Time
}

// ErrStationPages: station pages cannot be served as configured.
var ErrStationPages = errors.New("evidencelog: station pages")

func newStations(cfg Config, log *slog.Logger) (*stations, error) {
	var bucket *s3store.Store
	if cfg.EvidenceS3.Endpoint != "" {
		var err error
		if bucket, err = s3store.New(cfg.EvidenceS3); err != nil {
			return nil, fmt.Errorf("%w: evidence bucket: %w", ErrStationPages, err)
		}
	}
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{cfg.ClickHouseAddr},
		Auth:        ch.Auth{Database: cfg.ClickHouseDatabase, Username: cfg.ClickHouseUser, Password: cfg.ClickHousePassword},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: clickhouse %s: %w", ErrStationPages, cfg.ClickHouseAddr, err)
	}
	s := &stations{cfg: cfg, log: log, conn: conn, bucket: bucket, now: time.Now, takedowns: map[string]string{}}
	if err := s.reloadTakedowns(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// watchTakedowns re-reads the takedown file every 2 s when it changed, until ctx ends.
func (s *stations) watchTakedowns(ctx context.Context) error {
	defer s.conn.Close()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.reloadTakedowns(); err != nil {
				s.log.Error("evidencelog: takedown file not reloaded; the previous list stays in force", "err", err)
			}
		}
	}
}

// reloadTakedowns reads the takedown file ("sha256:<hex> reason" a line, '#' comments) when
// its modification time changed.
func (s *stations) reloadTakedowns() error {
	if s.cfg.TakedownFile == "" {
		return nil
	}
	st, err := os.Stat(s.cfg.TakedownFile)
	if errors.Is(err, os.ErrNotExist) {
		st, err = nil, nil // no takedowns yet
	}
	if err != nil {
		return fmt.Errorf("%w: takedown file: %w", ErrStationPages, err)
	}
	var mod time.Time
	if st != nil {
		mod = st.ModTime()
	}
	s.mu.RLock()
	same := mod.Equal(s.modTime) && st != nil
	s.mu.RUnlock()
	if same {
		return nil
	}
	out := map[string]string{}
	if st != nil {
		raw, err := os.ReadFile(s.cfg.TakedownFile)
		if err != nil {
			return fmt.Errorf("%w: takedown file: %w", ErrStationPages, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ref, reason, _ := strings.Cut(line, " ")
			if !evidenceRef.MatchString(ref) {
				return fmt.Errorf("%w: takedown file line %d: %q is not sha256:<64 lower-case hex>", ErrStationPages, n, ref)
			}
			out[ref] = strings.TrimSpace(reason)
		}
	}
	s.mu.Lock()
	s.takedowns, s.modTime = out, mod
	s.mu.Unlock()
	return nil
}

func (s *stations) takenDown(ref string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.takedowns[ref]
	return r, ok
}

var stationID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// open answers 403 before polls close, 400 for a malformed id; true when the page may be
// served.
func (s *stations) open(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !stationID.MatchString(id) {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "a station id is letters, digits, '_' and '-'")
		return "", false
	}
	if s.now().Before(s.cfg.PollsClose) {
		writeError(w, http.StatusForbidden, "NOT_YET_OPEN", "ยังไม่เปิด: หน้าหน่วยเลือกตั้งเปิดหลังปิดหีบ %s (station pages open after polls close)",
			s.cfg.PollsClose.In(election.Bangkok).Format("2006-01-02 15:04"))
		return "", false
	}
	return id, true
}

// Figures of one ballot: the consolidated result or one source's report.
type pageFigures struct {
	Ballot      string
	Status      string // consolidated only
	Stage       string
	Org         string // source only
	BallotsCast uint32
	Invalid     uint32
	NoVote      uint32
	Votes       []pageVote
	Evidence    []pagePhoto // source only
	Hash        string      // source only
	ID          string      // source only: the submission id, which the log's /report/ finds
	At          string      // updated (consolidated) or received (source), Bangkok time
}

type pageVote struct {
	Number uint16
	Votes  uint32
}

type pagePhoto struct {
	Ref       string
	Withdrawn string // the reason, when taken down
}

type pageData struct {
	StationID string
	Results   []pageFigures
	Sources   []pageFigures
}

func (s *stations) handlePage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.open(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	data := pageData{StationID: id}
	var err error
	if data.Results, err = s.results(ctx, id); err == nil {
		data.Sources, err = s.sources(ctx, id)
	}
	if err != nil {
		s.log.Warn("evidencelog: station page", "station", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "DATABASE_UNAVAILABLE", "the figures cannot be read now; try again shortly")
		return
	}
	if len(data.Results) == 0 && len(data.Sources) == 0 {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no report for station %s", id)
		return
	}
	var buf bytes.Buffer
	if err := stationPage.Execute(&buf, data); err != nil {
		writeError(w, http.StatusInternalServerError, "PAGE_FAILED", "%v", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=30")
	_, _ = w.Write(buf.Bytes())
}

func bangkok(t time.Time) string { return t.In(election.Bangkok).Format("2006-01-02 15:04:05") }

func pairVotes(no []uint16, n []uint32) []pageVote {
	out := make([]pageVote, 0, len(no))
	for i := range min(len(no), len(n)) {
		out = append(out, pageVote{no[i], n[i]})
	}
	return out
}

func (s *stations) results(ctx context.Context, id string) ([]pageFigures, error) {
	return chquery.All(ctx, s.conn, func(rows driver.Rows) (pageFigures, error) {
		var f pageFigures
		var no []uint16
		var n []uint32
		var at time.Time
		err := rows.Scan(&f.Ballot, &f.Status, &f.Stage, &f.BallotsCast, &f.Invalid, &f.NoVote, &no, &n, &at)
		f.Votes, f.At = pairVotes(no, n), bangkok(at)
		return f, err
	}, `SELECT ballot, status, stage, ballots_cast, invalid, no_vote, vote_no, votes, updated_at
FROM `+s.cfg.ClickHouseDatabase+`.station_results_current WHERE station_id = ? ORDER BY ballot`, id)
}

func (s *stations) sources(ctx context.Context, id string) ([]pageFigures, error) {
	return chquery.All(ctx, s.conn, func(rows driver.Rows) (pageFigures, error) {
		var f pageFigures
		var no []uint16
		var n []uint32
		var ev []string
		var at time.Time
		if err := rows.Scan(&f.Ballot, &f.Stage, &f.Org, &f.BallotsCast, &f.Invalid, &f.NoVote, &no, &n, &ev, &f.Hash, &f.ID, &at); err != nil {
			return f, err
		}
		f.Votes, f.At = pairVotes(no, n), bangkok(at)
		for _, ref := range ev {
			p := pagePhoto{Ref: ref}
			if reason, down := s.takenDown(ref); down {
				p.Withdrawn = cmp.Or(reason, "privacy")
			}
			f.Evidence = append(f.Evidence, p)
		}
		return f, nil
	}, `SELECT ballot, stage, org, ballots_cast, invalid, no_vote, vote_no, votes, evidence, hash, submission_id, received_at
FROM `+s.cfg.ClickHouseDatabase+`.submissions FINAL WHERE station_id = ? ORDER BY ballot, received_at, submission_id`, id)
}

// handlePhoto serves a count-form photo cited by one of the station's reports, re-encoded
// without its metadata.
func (s *stations) handlePhoto(w http.ResponseWriter, r *http.Request) {
	id, ok := s.open(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("digest")
	if !evidenceRef.MatchString(ref) {
		writeError(w, http.StatusBadRequest, "INVALID_VALUE", "want sha256: and 64 lower-case hex digits")
		return
	}
	if reason, down := s.takenDown(ref); down {
		writeError(w, http.StatusGone, "WITHDRAWN", "this photo was withdrawn from public view (%s); its hash stays in the public log", reason)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var cited uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM `+s.cfg.ClickHouseDatabase+`.submissions WHERE station_id = ? AND has(evidence, ?)`, id, ref).Scan(&cited); err != nil {
		writeError(w, http.StatusServiceUnavailable, "DATABASE_UNAVAILABLE", "the reports cannot be read now; try again shortly")
		return
	}
	if cited == 0 {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no report of station %s cites this photo", id)
		return
	}
	raw, err := s.readPhoto(ctx, ref[len("sha256:"):])
	switch {
	case errors.Is(err, errPhotoAltered):
		// Never serve bytes that are not the photo the log holds the hash of.
		s.log.Error("evidencelog: a stored photo does not match its hash", "station", id, "photo", ref, "err", err)
		writeError(w, http.StatusInternalServerError, "PHOTO_ALTERED", "the stored copy of this photo does not match its hash; it is not served")
		return
	case err != nil:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "the photo is cited but not stored (not uploaded yet?)")
		return
	}
	clean, ctype, err := stripMetadata(raw)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "UNREADABLE_PHOTO", "the stored photo cannot be decoded: %v", err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	// Short: a takedown must take effect in caches too.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Length", strconv.Itoa(len(clean)))
	_, _ = w.Write(clean)
}

// maxPhotoBytes bounds a photo read for a page (ingest's default limit is 10 MiB).
const maxPhotoBytes = 64 << 20

var errPhotoAltered = errors.New("stored photo does not hash to its name")

// readPhoto reads a stored photo from the bucket or ingest's folder and checks its hash.
func (s *stations) readPhoto(ctx context.Context, hexd string) ([]byte, error) {
	if s.bucket != nil {
		b, err := s.bucket.Get(ctx, hexd, maxPhotoBytes)
		if errors.Is(err, s3store.ErrDigest) {
			return nil, fmt.Errorf("%w: %w", errPhotoAltered, err)
		}
		return b, err
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.EvidenceDir, hexd[:2], hexd))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexd {
		return nil, fmt.Errorf("%w: sha256:%s", errPhotoAltered, hexd)
	}
	return b, nil
}

// stripMetadata decodes a JPEG or PNG and encodes its pixels again: Go's encoders write no
// EXIF, XMP or text chunks, so GPS position, device and times are gone.
func stripMetadata(raw []byte) ([]byte, string, error) {
	img, format, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, "", err
	}
	var out bytes.Buffer
	switch format {
	case "jpeg":
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
		return out.Bytes(), "image/jpeg", err
	case "png":
		err = png.Encode(&out, img)
		return out.Bytes(), "image/png", err
	}
	return nil, "", fmt.Errorf("format %s", format)
}

// labelTH returns the template function that shows a value by its Thai label (with the
// English word), or as it is when it has none.
func labelTH(labels map[string]string) func(string) string {
	return func(v string) string {
		if l, ok := labels[v]; ok {
			return l
		}
		return v
	}
}

var stationPage = template.Must(template.New("station").Funcs(template.FuncMap{
	"ballotTH": labelTH(map[string]string{
		"constituency": "แบบแบ่งเขต (constituency)",
		"partylist":    "บัญชีรายชื่อ (party list)",
	}),
	"statusTH": labelTH(map[string]string{
		string(schemas.StatusProvisional):  "ชั่วคราว: แหล่งเดียว (provisional)",
		string(schemas.StatusCorroborated): "ตรงกันหลายแหล่ง (corroborated)",
		string(schemas.StatusDisputed):     "ขัดแย้ง ยังไม่นับ (disputed)",
		string(schemas.StatusVerified):     "ตรวจสอบแล้ว (verified)",
	}),
	"stageTH": labelTH(map[string]string{
		string(schemas.StageFinal):    "ใบนับคะแนนฉบับสุดท้าย (final)",
		string(schemas.StageProgress): "ระหว่างนับ (in progress)",
	}),
}).Parse(`<!doctype html>
<html lang="th"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>หน่วยเลือกตั้ง {{.StationID}}</title>
<style>body{font-family:"TH Sarabun New",Sarabun,"Noto Sans Thai",sans-serif;max-width:60em;margin:1em auto;padding:0 1em;line-height:1.5}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;padding:.2em .6em;text-align:right}th{background:#eee}
.src{border-top:1px solid #ccc;margin-top:1em}.muted{color:#555}.ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}
button.check{font:inherit;padding:.2em .8em;margin-left:.5em}</style></head><body>
<h1>หน่วยเลือกตั้ง {{.StationID}} <span class="muted">· polling station</span></h1>
<p>ผลที่รวบรวมจากอาสาสมัคร พร้อมภาพถ่ายใบนับคะแนน ให้ทุกคนตรวจซ้ำได้ ทุกรายงานและภาพถูกบันทึกในบันทึกสาธารณะที่ตรวจสอบได้ (<a href="/">transparency log</a>)
<br><span class="muted">Figures volunteers reported, with the count-form photos, for anyone to re-check. Every report and photo is in the public log.</span></p>
<h2>ผลรวม <span class="muted">· consolidated</span></h2>
{{range .Results}}<h3>{{ballotTH .Ballot}}</h3>
<p>สถานะ {{statusTH .Status}} · {{stageTH .Stage}} · ปรับปรุง {{.At}} (เวลาไทย)</p>
<table><tr><th>บัตรที่ใช้ (cast)</th><th>บัตรเสีย (invalid)</th><th>ไม่เลือกผู้ใด (no vote)</th></tr>
<tr><td>{{.BallotsCast}}</td><td>{{.Invalid}}</td><td>{{.NoVote}}</td></tr></table>
<table><tr><th>หมายเลข (number)</th><th>คะแนน (votes)</th></tr>{{range .Votes}}<tr><td>{{.Number}}</td><td>{{.Votes}}</td></tr>{{end}}</table>
{{else}}<p>ยังไม่มีผลรวม (no consolidated result yet)</p>{{end}}
<h2>รายงานแต่ละแหล่ง <span class="muted">· each source</span></h2>
{{range .Sources}}<div class="src"><h3>{{ballotTH .Ballot}} · {{.Org}}</h3>
<p>{{stageTH .Stage}} · รับเมื่อ {{.At}} (เวลาไทย)<br><a class="proof" href="/report/{{.ID}}?hash={{.Hash}}">หลักฐานของรายงานนี้ในบันทึกสาธารณะ (this report's log proof)</a>
<button type="button" class="check" data-proof="/report/{{.ID}}?hash={{.Hash}}" data-id="{{.ID}}" data-hash="{{.Hash}}">ตรวจสอบ (verify)</button> <span class="result" role="status"></span>
<br><span class="muted">{{.Hash}}</span></p>
<table><tr><th>บัตรที่ใช้</th><th>บัตรเสีย</th><th>ไม่เลือกผู้ใด</th></tr><tr><td>{{.BallotsCast}}</td><td>{{.Invalid}}</td><td>{{.NoVote}}</td></tr></table>
<table><tr><th>หมายเลข</th><th>คะแนน</th></tr>{{range .Votes}}<tr><td>{{.Number}}</td><td>{{.Votes}}</td></tr>{{end}}</table>
{{range .Evidence}}<p>{{if .Withdrawn}}ภาพถูกถอนจากการแสดงผลเพื่อความเป็นส่วนตัว ({{.Withdrawn}}) แต่ค่าแฮชยังอยู่ในบันทึกสาธารณะ <span class="muted">· photo withdrawn; its hash stays in the log</span>{{else}}<a href="/station/{{$.StationID}}/photo/{{.Ref}}"><img src="/station/{{$.StationID}}/photo/{{.Ref}}" alt="ภาพถ่ายใบนับคะแนน" style="max-width:100%"></a>{{end}}
<br><a href="/photo/{{.Ref}}">หลักฐานของภาพนี้ในบันทึกสาธารณะ (this photo's log proof)</a> <span class="muted">{{.Ref}}</span></p>{{end}}
</div>{{end}}
<p class="muted">ปุ่ม "ตรวจสอบ" คำนวณในเบราว์เซอร์นี้ว่ารายงานอยู่ในต้นไม้ที่บันทึกลงนามไว้ โดยใช้กุญแจที่เซิร์ฟเวอร์นี้ให้มา (/log.pub) การตรวจอย่างอิสระ ให้ใช้กุญแจที่ได้จากแหล่งอื่นกับ <code>votestream verify</code><br>
The verify button checks in this browser that the report is in the tree the log signed, with the key this server gives (/log.pub). To check independently, use a key obtained elsewhere with <code>votestream verify</code>.</p>
<script>
` + verifyScript + `
</script>
</body></html>
`))

// verifyScript checks a report's proof bundle in the browser: the leaf hashes to the
// bundle's leaf hash and names the report's hash, the audit path leads to the checkpoint's
// root (RFC 9162 2.1.3.2), and the checkpoint is signed by a key of /log.pub (Ed25519, C2SP
// signed note). WebCrypto does the hashing and the signature.
const verifyScript = `
const enc = new TextEncoder();
const hex = b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, '0')).join('');
const unhex = s => new Uint8Array(s.match(/../g).map(x => parseInt(x, 16)));
const unb64 = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const sha = async (...parts) => {
  const n = parts.reduce((a, p) => a + p.length, 0), buf = new Uint8Array(n);
  let o = 0; for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
};
async function rootFromPath(index, size, leaf, path) {
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error('proof too long');
    if (fn % 2 === 1 || fn === sn) {
      r = await sha(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
    } else {
      r = await sha(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('proof too short');
  return r;
}
async function signedBy(note, keys) {
  const cut = note.indexOf('\n\n');
  const text = note.slice(0, cut + 1), sigs = note.slice(cut + 2).split('\n').filter(Boolean);
  for (const k of keys) {
    const i = k.indexOf('+'), j = k.indexOf('+', i + 1); // the base64 key may hold '+'
    const name = k.slice(0, i), khash = k.slice(i + 1, j), kb64 = k.slice(j + 1);
    const raw = unb64(kb64);
    if (raw[0] !== 1) continue;
    const key = await crypto.subtle.importKey('raw', raw.slice(1), {name: 'Ed25519'}, false, ['verify']);
    for (const line of sigs) {
      const m = line.match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== name) continue;
      const sig = unb64(m[2]);
      if (hex(sig.slice(0, 4)) !== khash) continue;
      if (await crypto.subtle.verify({name: 'Ed25519'}, key, sig.slice(4), enc.encode(text))) return name;
    }
  }
  throw new Error('the checkpoint is not signed by a key of /log.pub');
}
async function verifyReport(proofURL, reportID, reportHash) {
  const [res, keysRes] = await Promise.all([fetch(proofURL), fetch('/log.pub')]);
  const b = await res.json();
  if (!res.ok) throw new Error((b.error && b.error.message) || res.status);
  const keys = (await keysRes.text()).split('\n').filter(Boolean);
  const leaf = await sha(Uint8Array.of(0), enc.encode(b.entry));
  if (hex(leaf) !== b.leaf_hash) throw new Error('the entry does not hash to the leaf');
  const e = JSON.parse(b.entry);
  if (e.kind !== 'report.v1' || e.submission_id !== reportID || e.hash !== reportHash) throw new Error('the proof is for another report');
  const lines = b.checkpoint.split('\n');
  if (Number(lines[1]) !== b.tree_size) throw new Error('the checkpoint is of another size');
  const root = await rootFromPath(b.leaf_index, b.tree_size, leaf, b.inclusion.map(unhex));
  if (hex(root) !== hex(unb64(lines[2]))) throw new Error('the audit path does not lead to the signed root');
  const by = await signedBy(b.checkpoint, keys);
  return {index: b.leaf_index, size: b.tree_size, by};
}
for (const btn of document.querySelectorAll('button.check')) {
  btn.addEventListener('click', async () => {
    const out = btn.nextElementSibling;
    out.textContent = 'กำลังตรวจ…';
    try {
      const v = await verifyReport(btn.dataset.proof, btn.dataset.id, btn.dataset.hash);
      out.className = 'result ok';
      out.textContent = '\u2713 อยู่ในบันทึก ลำดับที่ ' + v.index + ' ของ ' + v.size + ' ลงนามโดย ' + v.by + ' (verified: leaf ' + v.index + ' of ' + v.size + ')';
    } catch (e) {
      out.className = 'result bad';
      out.textContent = '\u2717 ตรวจไม่ผ่าน (failed): ' + e.message;
    }
  });
}
`
