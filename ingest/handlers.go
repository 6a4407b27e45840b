package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/ingest/token"
	"votestream/internal/httpserve"
	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// HeaderFlags is the record header listing flags ingest raised on a report (schemas.HeaderFlags).
const HeaderFlags = schemas.HeaderFlags

// jsonReadTimeout bounds reading one JSON body: a few hundred KiB even on a poor phone
// connection.
const jsonReadTimeout = 60 * time.Second

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // our own answer types always encode
	writeRaw(w, status, append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *APIError) {
	httpserve.WriteRefusal(w, e.Status(), e, "votestream")
}

func (s *Server) setRetryAfter(w http.ResponseWriter, d time.Duration) { httpserve.SetRetryAfter(w, d) }

// admit authenticates the request and applies the volunteer's rate limit. On refusal it has
// written the answer and returns false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, now time.Time) (token.Claims, bool) {
	c, e := s.authenticate(r, now)
	if e != nil {
		s.refused(r, c, e, "", "")
		writeError(w, e)
		return c, false
	}
	if ok, wait := s.limiter.allow(c.VolunteerID, now); !ok {
		s.setRetryAfter(w, wait)
		writeError(w, apiErr(CodeRateLimited, "", "too many requests from this volunteer; wait %s", wait))
		return c, false
	}
	return c, true
}

// readJSONBody checks the media type and reads the body within MaxBodyBytes.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, *APIError) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, apiErr(CodeUnsupportedMedia, "", "Content-Type %q: send application/json", clip(ct))
		}
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, apiErr(CodeBodyTooLarge, "", "the body is %d bytes, above the limit of %d", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(jsonReadTimeout))
	// The answer waits for Kafka at most ProduceTimeout; a client that then does not read it
	// must not hold the connection for ever.
	_ = rc.SetWriteDeadline(time.Now().Add(jsonReadTimeout + s.cfg.ProduceTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apiErr(CodeBodyTooLarge, "", "the body is above the limit of %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, apiErr(CodeIncompleteBody, "", "the body could not be read whole: %v", err)
	}
	return body, nil
}

// itemResult is one entry of a batch answer.
type itemResult struct {
	Status  int              `json:"status"`
	Receipt *schemas.Receipt `json:"receipt,omitempty"`
	Error   *APIError        `json:"error,omitempty"`
}

// batchBody is the answer to a batch: one result per item, in order.
type batchBody struct {
	Results []itemResult `json:"results"`
}

// handleSubmissions serves POST /v1/submissions: one submission object, or an array of up to
// MaxBatch. A single object is answered with its receipt (202) or error; a batch with one
// result per item and status 202 when all were accepted, 503 (with Retry-After) when any
// was not acknowledged in time, 207 otherwise. Resending a whole batch is safe: accepted
// items come back with their first receipts.
func (s *Server) handleSubmissions(w http.ResponseWriter, r *http.Request) {
	if s.warming.Load() {
		s.setRetryAfter(w, time.Second)
		writeError(w, apiErr(CodeStarting, "", "ingest is starting: it is reloading the ids it accepted before a restart; retry with the same id after the Retry-After delay"))
		return
	}
	now := s.now()
	c, ok := s.admit(w, r, now)
	if !ok {
		return
	}
	body, e := s.readJSONBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	// The common shape is scanned without encoding/json; anything else takes the strict path.
	wires, isBatch := scanBatch(body, s.cfg.MaxBatch)
	var items []json.RawMessage
	if !isBatch {
		if items, isBatch, e = splitBatch(body); e != nil {
			s.metrics.items.WithLabelValues("submission", e.Code).Inc()
			writeError(w, e)
			return
		}
		if !isBatch {
			items = []json.RawMessage{body}
		} else if len(items) == 0 || len(items) > s.cfg.MaxBatch {
			writeError(w, apiErr(CodeBatchTooLarge, "", "a batch holds 1 to %d submissions; this one has %d", s.cfg.MaxBatch, len(items)))
			return
		}
	}

	n := max(len(wires), len(items))
	outs := make([]outcome, n)
	ps := make([]*pending, 0, n)
	at := make([]int, 0, n)
	for i := range n {
		var p *pending
		var e *APIError
		if wires != nil {
			p, e = s.prepareSubmission(nil, &wires[i], c, now)
		} else {
			p, e = s.prepareSubmission(items[i], nil, c, now)
		}
		if e != nil {
			outs[i].err = e
			continue
		}
		ps = append(ps, p)
		at = append(at, i)
	}
	for j, o := range s.commit("submission", ps) {
		outs[at[j]] = o
	}
	s.countOutcomes("submission", outs)
	for i, o := range outs {
		if o.err != nil {
			var it refusalItem
			if wires != nil {
				it = refusalItem{StationID: deref(wires[i].StationID), SubmissionID: deref(wires[i].SubmissionID)}
			} else {
				it = peekItem(items[i])
			}
			s.refused(r, c, o.err, it.StationID, it.SubmissionID)
		}
	}

	if !isBatch {
		s.writeOutcome(w, outs[0])
		return
	}
	res := batchBody{Results: make([]itemResult, len(outs))}
	status, unavailable := http.StatusAccepted, false
	for i, o := range outs {
		if o.err != nil {
			res.Results[i] = itemResult{Status: o.err.Status(), Error: o.err}
			status = http.StatusMultiStatus
			unavailable = unavailable || o.err.Status() == http.StatusServiceUnavailable
			continue
		}
		rc := o.receipt
		res.Results[i] = itemResult{Status: http.StatusAccepted, Receipt: &rc}
	}
	if unavailable {
		status = http.StatusServiceUnavailable
		s.setRetryAfter(w, s.cfg.RetryAfter)
	}
	b, err := res.appendJSON(make([]byte, 0, 64+160*len(res.Results)))
	if err != nil {
		writeJSON(w, status, res)
		return
	}
	writeRaw(w, status, append(b, '\n'))
}

// appendJSON appends what json.Marshal(b) writes, without reflection over every receipt.
func (b *batchBody) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"results":[`...)
	for i, r := range b.Results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
		var err error
		if r.Receipt != nil {
			dst = append(dst, `,"receipt":`...)
			if dst, err = r.Receipt.AppendJSON(dst); err != nil {
				return nil, err
			}
		}
		if r.Error != nil {
			e, err := json.Marshal(r.Error)
			if err != nil {
				return nil, err
			}
			dst = append(append(dst, `,"error":`...), e...)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

func (s *Server) writeOutcome(w http.ResponseWriter, o outcome) {
	if o.err != nil {
		if o.err.Status() == http.StatusServiceUnavailable {
			s.setRetryAfter(w, s.cfg.RetryAfter)
		}
		writeError(w, o.err)
		return
	}
	// What writeJSON writes, without reflection: one receipt per accepted submission.
	b, err := o.receipt.AppendJSON(make([]byte, 0, 192))
	if err != nil {
		writeJSON(w, http.StatusAccepted, o.receipt)
		return
	}
	writeRaw(w, http.StatusAccepted, append(b, '\n'))
}

// writeRaw writes a JSON body already encoded, with writeJSON's headers.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = cacheNoStore
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Header values as slices, set without canonicalising the keys again. Every response shares
// them: net/http only reads header values, and Header().Set and Add replace or grow the
// slice (its capacity is its length) rather than write into it; never assign into them.
var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
)

func (s *Server) countOutcomes(kind string, outs []outcome) {
	for _, o := range outs {
		switch {
		case o.err != nil:
			s.metrics.items.WithLabelValues(kind, o.err.Code).Inc()
		case o.receipt.Duplicate:
			s.metrics.items.WithLabelValues(kind, "duplicate").Inc()
		default:
			s.metrics.acceptedBy[kind].Inc()
		}
	}
}

// prepareSubmission decodes (unless wire is already decoded) and checks one submission and
// claims its id in the dedupe store. The record it builds is produced by commit.
func (s *Server) prepareSubmission(raw []byte, wire *submissionWire, c token.Claims, now time.Time) (*pending, *APIError) {
	if wire == nil {
		wire = new(submissionWire)
		if e := decodeSubmission(raw, wire); e != nil {
			return nil, e
		}
	}
	sub, st, e := s.valid.submission(wire, now)
	if e != nil {
		return nil, e
	}
	flagged := false
	if !s.coveredBy(c, st) {
		if s.cfg.SpreadPolicy == SpreadRefuse {
			return nil, apiErr(CodeOutOfScope, "station_id", "station %s is outside your assignment", st.ID)
		}
		flagged = true
	}
	hash := schemas.CanonicalHash(sub)
	rep := schemas.Report{
		Submission: sub, VolunteerID: c.VolunteerID, Org: c.Org, Person: c.Person, Role: c.Role,
		ReceivedAt: now.UTC(), Hash: hash,
	}
	key := "submission/" + sub.SubmissionID
	p := &pending{
		// The receipt is remembered for retries: its id must not be a substring of the body.
		key:     key,
		receipt: schemas.Receipt{SubmissionID: key[len("submission/"):], Hash: hash, ReceivedAt: rep.ReceivedAt, LeafHash: schemas.LeafHashHex(schemas.ReportLeaf(&rep))},
		flagged: flagged,
	}
	return s.claim(p, hash, c, schemas.TopicSubmissions, rep, now)
}

// claim looks the pending record's id up in the dedupe store and, when it is new, builds its
// record. A new entry must reach commit, which settles it.
func (s *Server) claim(p *pending, hash string, c token.Claims, topic string, msg any, now time.Time) (*pending, *APIError) {
	var rec *kgo.Record
	var err error
	// Build the record before claiming the id: a failure here must not leave an entry that
	// nothing settles.
	if rec, err = kgorecord.New(s.cfg.TopicPrefix+topic, msg); err != nil {
		s.log.Error("ingest: cannot encode record", "err", err)
		return nil, apiErr(CodeInvalidValue, "", "the message cannot be encoded: %v", err)
	}
	rec.Timestamp = now
	if p.flagged {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderFlags, Value: []byte(schemas.AnomalySpread)})
	}
	p.entry, p.state = s.dedupe.begin(p.key, hash, c.VolunteerID, now)
	if p.state == dedupeConflict {
		return nil, apiErr(CodeIDConflict, "", "id %s was already accepted with different content (or from another sender); use a new id for a new report", p.receipt.SubmissionID)
	}
	p.record = rec
	switch m := msg.(type) {
	case schemas.Review:
		p.receipt.LeafHash = schemas.LeafHashHex(schemas.ReviewLeaf(rec.Value, &m))
	case schemas.Official:
		p.receipt.LeafHash = schemas.LeafHashHex(schemas.OfficialLeaf(rec.Value, &m))
	}
	return p, nil
}

// contentHash is "sha256:<hex>" of a message's JSON, for reviews and official figures,
// whose server-set fields are still zero when it is taken. encoding/json writes struct
// fields in a fixed order and map keys sorted, so equal content gives equal hashes.
func contentHash(v any) string {
	b, _ := json.Marshal(v) // our own message types always encode
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// handleLead serves an endpoint for district leads (own constituency) and the war room:
// POST /v1/reviews (kind "review", decide s.review) and POST /v1/official (kind "official",
// decide s.official). Each request carries one record, answered like a single submission.
func (s *Server) handleLead(kind string, decide func(body []byte, c token.Claims, now time.Time) outcome) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		c, ok := s.admit(w, r, now)
		if !ok {
			return
		}
		if e := requireLead(c); e != nil {
			s.refused(r, c, e, "", "")
			writeError(w, e)
			return
		}
		body, e := s.readJSONBody(w, r)
		if e != nil {
			writeError(w, e)
			return
		}
		if e := s.checkConsole(r, c, body, now); e != nil {
			s.countOutcomes(kind, []outcome{{err: e}})
			it := peekItem(body)
			s.refused(r, c, e, it.StationID, it.ReviewID+it.OfficialID)
			writeError(w, e)
			return
		}
		o := decide(body, c, now)
		s.countOutcomes(kind, []outcome{o})
		if o.err != nil {
			it := peekItem(body)
			s.refused(r, c, o.err, it.StationID, it.ReviewID+it.OfficialID)
		}
		s.writeOutcome(w, o)
	}
}

// checkConsole refuses a privileged token's decision that the review console did not sign,
// when ingest has console keys: the console is where the second factor and the second
// approver are checked.
func (s *Server) checkConsole(r *http.Request, c token.Claims, body []byte, now time.Time) *APIError {
	if s.console == nil || !token.Privileged(c.Role) {
		return nil
	}
	if err := s.console.Verify(r, body, now, s.cfg.ConsoleSkew); err != nil {
		s.log.Warn("ingest: decision not signed by the console", "volunteer", c.VolunteerID, "role", c.Role, "path", r.URL.Path, "err", err)
		why := strings.TrimPrefix(err.Error(), token.ErrConsoleSignature.Error()+": ")
		return apiErr(CodeConsoleOnly, "", "decisions by district leads and the war room go through the review console, with your authenticator code (%s)", why)
	}
	return nil
}

func (s *Server) review(body []byte, c token.Claims, now time.Time) outcome {
	var wire reviewWire
	if e := decodeStrict(body, &wire); e != nil {
		return outcome{err: e}
	}
	rv, st, e := s.valid.review(&wire)
	if e != nil {
		return outcome{err: e}
	}
	if !inScope(c, st) {
		return outcome{err: apiErr(CodeOutOfScope, "station_id", "station %s is outside constituency %s", st.ID, c.Constituency)}
	}
	hash := contentHash(rv)
	rv.ReviewerID, rv.Role, rv.ReceivedAt = c.VolunteerID, c.Role, now.UTC()
	p := &pending{key: "review/" + rv.ReviewID, receipt: schemas.Receipt{SubmissionID: rv.ReviewID, Hash: hash, ReceivedAt: rv.ReceivedAt}}
	p, e = s.claim(p, hash, c, schemas.TopicReviews, rv, now)
	if e != nil {
		return outcome{err: e}
	}
	return s.commit("review", []*pending{p})[0]
}

func (s *Server) official(body []byte, c token.Claims, now time.Time) outcome {
	var wire officialWire
	if e := decodeStrict(body, &wire); e != nil {
		return outcome{err: e}
	}
	of, st, e := s.valid.official(&wire)
	if e != nil {
		return outcome{err: e}
	}
	if !inScope(c, st) {
		return outcome{err: apiErr(CodeOutOfScope, "station_id", "station %s is outside constituency %s", st.ID, c.Constituency)}
	}
	hash := contentHash(of)
	of.EnteredBy, of.Role, of.ReceivedAt = c.VolunteerID, c.Role, now.UTC()
	p := &pending{key: "official/" + of.OfficialID, receipt: schemas.Receipt{SubmissionID: of.OfficialID, Hash: hash, ReceivedAt: of.ReceivedAt}}
	p, e = s.claim(p, hash, c, schemas.TopicOfficial, of, now)
	if e != nil {
		return outcome{err: e}
	}
	return s.commit("official", []*pending{p})[0]
}
