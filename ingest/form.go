package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"votestream/election"
	"votestream/ingest/token"
	"votestream/schemas"
)

// The volunteers' form: plain HTML, CSS and JavaScript embedded in the binary and served by
// ingest on the same origin as the API (so no CORS is needed, and none is allowed). The
// service worker caches them so the form opens without a signal once it was opened once.
//
//go:embed web
var webFiles embed.FS

// webAsset is one file of the form, gzipped once at start.
type webAsset struct {
	body, gz    []byte
	contentType string
	etag        string
}

var webAssets = loadWebAssets()

func loadWebAssets() map[string]webAsset {
	out := map[string]webAsset{}
	_ = fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFiles.ReadFile(p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".webmanifest":
			ct = "application/manifest+json"
		case ".js":
			ct = "text/javascript; charset=utf-8"
		}
		out["/"+strings.TrimPrefix(p, "web/")] = webAsset{body: b, gz: buf.Bytes(), contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out
}

// formPaths are served from the embedded files; "/" is index.html. The service worker must
// be at the root to control the whole origin.
var formPaths = []string{"/", "/app.js", "/app.css", "/sw.js", "/manifest.webmanifest", "/icon-192.png", "/icon-512.png"}

// mountForm adds the form's files to mux.
func (s *Server) mountForm(mux *http.ServeMux) {
	csp := formCSP(s.cfg.EvidenceLogURL)
	for _, p := range formPaths {
		name := p
		if p == "/" {
			name = "/index.html"
		}
		a, ok := webAssets[name]
		if !ok {
			continue
		}
		pattern := "GET " + p
		if p == "/" {
			pattern = "GET /{$}"
		}
		mux.Handle(pattern, s.metrics.instrument("form", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, a, csp) })))
	}
}

// formCSP is the form's Content-Security-Policy. The page talks to its own origin only,
// and to the transparency log's when ingest knows it: the form fetches each accepted
// report's inclusion proof from there and keeps it.
func formCSP(logURL string) string {
	connect := "'self'"
	if u, err := url.Parse(logURL); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src " + connect + "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

func serveAsset(w http.ResponseWriter, r *http.Request, a webAsset, csp string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// Always revalidated: a fixed form reaches phones at their next load with a signal;
	// the service worker serves them when there is none.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	if strings.Contains(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	_, _ = w.Write(body)
}

// meStation is one station the form lists.
type meStation struct {
	ID             string `json:"id"`
	ConstituencyID string `json:"constituency_id"`
	Number         int    `json:"number"`
	Subdistrict    string `json:"subdistrict"`
	Eligible       int    `json:"eligible"`
	// How the volunteer has it: "roster" (their token), "claim" (claimed before the day),
	// "assign" (moved to them on the night).
	Via         string     `json:"via"`
	CheckedInAt *time.Time `json:"checked_in_at,omitempty"`
}

type meCandidate struct {
	No      int    `json:"no"`
	Name    string `json:"name"`
	PartyNo int    `json:"party_no"`
	Party   string `json:"party"`
}

type meConstituency struct {
	ID         string        `json:"id"`
	Province   string        `json:"province"`
	Number     int           `json:"number"`
	Candidates []meCandidate `json:"candidates"`
}

type meParty struct {
	No     int    `json:"no"`
	NameTH string `json:"name_th"`
	NameEN string `json:"name_en"`
}

// meBody is GET /v1/me: what the form needs to draw both ballots of every station the
// volunteer covers.
type meBody struct {
	VolunteerID    string                    `json:"volunteer_id"`
	Org            string                    `json:"org"`
	Role           string                    `json:"role"`
	ExpiresAt      time.Time                 `json:"expires_at"`
	Stations       []meStation               `json:"stations"`
	Constituencies map[string]meConstituency `json:"constituencies"`
	Parties        []meParty                 `json:"parties"`
	ClaimCap       int                       `json:"claim_cap"`
	ServerTime     time.Time                 `json:"server_time"`
}

// handleMe serves GET /v1/me.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return
	}
	body := meBody{
		VolunteerID: c.VolunteerID, Org: c.Org, Role: c.Role, ExpiresAt: c.ExpiresAt,
		Constituencies: map[string]meConstituency{}, ClaimCap: s.cfg.ClaimCap, ServerTime: now.UTC(),
	}
	for _, p := range s.country.Parties {
		body.Parties = append(body.Parties, meParty{No: p.No, NameTH: p.NameTH, NameEN: p.NameEN})
	}
	var checkins map[string]time.Time
	if s.field != nil {
		checkins = s.field.checkedIn(c.VolunteerID)
	}
	add := func(id, via string) {
		st, ok := s.country.StationByID(id)
		if !ok || slices.ContainsFunc(body.Stations, func(m meStation) bool { return m.ID == id }) {
			return
		}
		m := meStation{ID: st.ID, ConstituencyID: st.ConstituencyID, Number: st.Number, Subdistrict: st.Subdistrict, Eligible: st.EligibleVoters, Via: via}
		if t, ok := checkins[id]; ok {
			m.CheckedInAt = &t
		}
		body.Stations = append(body.Stations, m)
		if _, ok := body.Constituencies[st.ConstituencyID]; !ok {
			body.Constituencies[st.ConstituencyID] = s.meConstituency(st.ConstituencyID)
		}
	}
	switch c.Role {
	case schemas.RoleStation:
		for _, id := range c.Stations {
			add(id, "roster")
		}
	case schemas.RoleDistrictLead:
		for _, st := range s.country.StationsIn(c.Constituency) {
			add(st.ID, "roster")
		}
	}
	if s.field != nil {
		for _, id := range s.field.assignedTo(c.VolunteerID) {
			via := "assign"
			if slices.Contains(s.field.stationClaims(id), c.VolunteerID) {
				via = "claim"
			}
			add(id, via)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) meConstituency(id string) meConstituency {
	con, _ := s.country.Constituency(id)
	out := meConstituency{ID: id, Number: con.Number, Candidates: []meCandidate{}}
	if p, ok := s.country.Province(con.ProvinceID); ok {
		out.Province = p.NameTH
	}
	for _, cand := range s.country.CandidatesIn(id) {
		mc := meCandidate{No: cand.No, Name: cand.Name, PartyNo: cand.PartyNo}
		if p, ok := s.country.Party(cand.PartyNo); ok {
			mc.Party = p.NameTH
		}
		out.Candidates = append(out.Candidates, mc)
	}
	slices.SortFunc(out.Candidates, func(a, b meCandidate) int { return a.No - b.No })
	return out
}

// coveredBy reports whether the volunteer may report on station: their token's scope, or a
// station moved to them or claimed by them in fieldwork.v1.
func (s *Server) coveredBy(c token.Claims, st election.Station) bool {
	if inScope(c, st) {
		return true
	}
	return s.field != nil && slices.Contains(s.field.assignedTo(c.VolunteerID), st.ID)
}
