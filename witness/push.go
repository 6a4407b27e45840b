package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"votestream/evidencelog/tlog"
)

// maxPushBytes bounds a pushed request: a checkpoint with its signatures and a consistency
// proof of at most 63 hashes.
const maxPushBytes = tlog.MaxNoteBytes + 64*48

// Handler serves the C2SP tlog-witness API the log pushes checkpoints to:
//
//	POST /add-checkpoint   "old <size>\n", the consistency proof from that size (base64
//	                       lines), an empty line, the signed checkpoint; answered 200 with
//	                       this witness's cosignature line, or 409 with the size it last
//	                       cosigned (text/x.tlog.size) when old is not that size
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.handleAdd)
	return mux
}

func (w *Witness) handleAdd(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxPushBytes))
	if err != nil {
		w.answer(rw, http.StatusRequestEntityTooLarge, "the request is larger than a checkpoint and its proof")
		return
	}
	old, proof, raw, err := parseAdd(body)
	if err != nil {
		w.answer(rw, http.StatusBadRequest, err.Error())
		return
	}
	status, out := w.add(r.Context(), old, proof, raw)
	if status == http.StatusConflict && out != nil {
		w.m.pushes.WithLabelValues(strconv.Itoa(status)).Inc()
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(status)
		_, _ = rw.Write(out)
		return
	}
	if status != http.StatusOK {
		w.answer(rw, status, string(out))
		return
	}
	w.m.pushes.WithLabelValues("200").Inc()
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = rw.Write(out)
}

func (w *Witness) answer(rw http.ResponseWriter, status int, msg string) {
	w.m.pushes.WithLabelValues(strconv.Itoa(status)).Inc()
	w.log.Warn("witness: pushed checkpoint refused", "status", status, "why", msg)
	http.Error(rw, msg, status)
}

// parseAdd reads an add-checkpoint request body.
func parseAdd(body []byte) (old uint64, proof [][]byte, note []byte, err error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	sz, found := bytes.CutPrefix(line, []byte("old "))
	if !ok || !found {
		return 0, nil, nil, errors.New(`the body must start with "old <size>"`)
	}
	if old, err = strconv.ParseUint(string(sz), 10, 64); err != nil {
		return 0, nil, nil, fmt.Errorf("old size %q: not a decimal number", sz)
	}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return 0, nil, nil, errors.New("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		h, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return 0, nil, nil, errors.New("a proof line is not a base64 SHA-256 hash")
		}
		if len(proof) == 63 {
			return 0, nil, nil, errors.New("more than 63 proof hashes")
		}
		proof = append(proof, h)
	}
	return old, proof, rest, nil
}

// add checks a pushed checkpoint against the last one cosigned and cosigns it. It answers
// the HTTP status and body: 200 and the cosignature line; 409 and the size last cosigned
// when old is not that size; 409 for a checkpoint of the cosigned size with another root
// (a fork: evidence written, cosigning stops); 403 when the log's key did not sign it; 400
// when old is larger than the checkpoint; 422 when the proof does not verify (and the log's
// own tiles, fetched, do not show a fork).
func (w *Witness) add(ctx context.Context, old uint64, proof [][]byte, raw []byte) (int, []byte) {
	cp, err := tlog.Open(raw, w.logKey, nil)
	if err != nil {
		return http.StatusForbidden, []byte("not a checkpoint signed by the log this witness watches: " + err.Error())
	}
	if old > cp.Size {
		return http.StatusBadRequest, fmt.Appendf(nil, "old size %d is larger than the checkpoint's %d", old, cp.Size)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.forked != nil {
		return http.StatusConflict, []byte("this witness saw the log fork and cosigns nothing more: " + w.forked.Error())
	}
	var last uint64
	if w.last != nil {
		last = w.last.Size
	}
	if old != last {
		return http.StatusConflict, fmt.Appendf(nil, "%d\n", last)
	}
	if w.last != nil {
		switch {
		case cp.Size == last && cp.Root != w.last.Root:
			err := fmt.Errorf("%w: two checkpoints of %d leaves with different roots %x and %x", ErrFork, last, w.last.Root, cp.Root)
			w.m.checks.WithLabelValues("fork").Inc()
			w.reportFork(w.last, cp, err)
			return http.StatusConflict, []byte(err.Error())
		case cp.Size > last:
			if err := tlog.VerifyConsistency(w.last, cp, proof); err != nil {
				// A bad proof is the pusher's fault unless the log's own tiles agree: check
				// them before calling it a fork.
				if cerr := w.consistent(ctx, w.last, cp); errors.Is(cerr, ErrFork) {
					w.m.checks.WithLabelValues("fork").Inc()
					w.reportFork(w.last, cp, cerr)
					return http.StatusConflict, []byte(cerr.Error())
				}
				return http.StatusUnprocessableEntity, []byte("the consistency proof does not verify: " + err.Error())
			}
		}
	}
	signed, err := w.cosign(cp)
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	w.m.checks.WithLabelValues("cosigned").Inc()
	w.log.Info("witness: pushed checkpoint cosigned", "size", cp.Size, "root", fmt.Sprintf("%x", cp.Root))
	// The answer is this witness's signature line only.
	var out []byte
	have := map[string]bool{}
	for _, l := range tlog.SignatureLines(cp.Raw) {
		have[string(l)] = true
	}
	for _, l := range tlog.SignatureLines(signed) {
		if !have[string(l)] {
			out = append(out, l...)
		}
	}
	return http.StatusOK, out
}
