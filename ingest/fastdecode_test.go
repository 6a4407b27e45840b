package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"votestream/schemas"
)

// TestScanSubmission pins which bodies the scanner takes itself and which it leaves to
// encoding/json; FuzzFastSubmission checks that both paths then agree.
func TestScanSubmission(t *testing.T) {
	const full = `{"submission_id":"0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01","station_id":"BKK_1_0001","ballot":"constituency",` +
		`"stage":"final","counted_at":"2023-05-14T17:20:00+07:00","ballots_cast":120,"invalid":1,"no_vote":0,` +
		`"votes":{"1":60,"2":-40},"evidence":["sha256:ab"]}`
	var w submissionWire
	if !scanSubmission([]byte(" \n"+full+"\t"), &w) {
		t.Fatal("the common shape went to the slow path")
	}
	if *w.SubmissionID != "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a9b01" || *w.StationID != "BKK_1_0001" || *w.Ballot != "constituency" ||
		*w.Stage != "final" || *w.CountedAt != "2023-05-14T17:20:00+07:00" || *w.BallotsCast != 120 || *w.Invalid != 1 ||
		*w.NoVote != 0 || !reflect.DeepEqual(w.Votes, map[string]int{"1": 60, "2": -40}) || !reflect.DeepEqual(w.Evidence, []string{"sha256:ab"}) {
		t.Fatalf("scanned %+v", w)
	}
	for name, body := range map[string]string{
		"escape in a string":     `{"station_id":"BKK\u005f1"}`,
		"non-ASCII":              `{"station_id":"กทม"}`,
		"null":                   `{"station_id":null}`,
		"fraction":               `{"ballots_cast":1.0}`,
		"exponent":               `{"ballots_cast":1e2}`,
		"leading zero":           `{"ballots_cast":01}`,
		"19 digits":              `{"ballots_cast":1000000000000000000}`,
		"field twice":            `{"ballot":"partylist","ballot":"constituency"}`,
		"vote key twice":         `{"votes":{"1":1,"1":2}}`,
		"unknown field":          `{"station":"x"}`,
		"other case":             `{"Station_ID":"x"}`,
		"trailing comma":         `{"votes":{"1":1,}}`,
		"data after the object":  `{} {}`,
		"array":                  `[{}]`,
		"string for a number":    `{"invalid":"1"}`,
		"number for a string":    `{"ballot":1}`,
		"object in the evidence": `{"evidence":[{}]}`,
		"cut off":                `{"votes":{"1":1}`,
		"byte order mark":        "\xef\xbb\xbf{}",
	} {
		if scanSubmission([]byte(body), &submissionWire{}) {
			t.Errorf("%s: %s was scanned, want encoding/json", name, body)
		}
	}
}

// FuzzFastSubmission holds the scanner to encoding/json: whatever it takes must decode
// strictly to the same values.
func FuzzFastSubmission(f *testing.F) {
	for _, s := range []string{
		validSub().json(),
		validSub().with("evidence", []string{}).json(),
		`{}`, `{"votes":{}}`, `{"votes":{"-0":-0,"7":18}}`, `{"ballots_cast":-0}`, `{"ballots_cast":999999999999999999}`,
		`{"station_id":"a\"b"}`, `{"evidence":["a","b"] }`, `{"stage":"final","stage":"progress"}`, ` { } `, `{"x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast submissionWire
		if !scanSubmission(body, &fast) {
			return
		}
		var strict submissionWire
		if e := decodeStrict(body, &strict); e != nil {
			t.Fatalf("scanned %q, but encoding/json refuses it: %s %s", body, e.Code, e.Message)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: scanned %+v, encoding/json %+v", body, fast, strict)
		}
	})
}

func TestScanBatch(t *testing.T) {
	one := validSub().json()
	two := validSub().with("submission_id", "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002").json()
	ws, ok := scanBatch([]byte(" [ "+one+" ,\n"+two+" ] "), 3)
	if !ok || len(ws) != 2 || *ws[1].SubmissionID != "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002" {
		t.Fatalf("scanBatch = %d items, %v", len(ws), ok)
	}
	for name, body := range map[string]string{
		"a single object":           one,
		"empty":                     `[]`,
		"above the limit":           "[" + one + "," + one + "," + one + "," + one + "]",
		"one item of another shape": "[" + one + `,{"station_id":null}]`,
		"not an object":             "[" + one + `,1]`,
		"data after the array":      "[" + one + "] x",
		"trailing comma":            "[" + one + ",]",
	} {
		if ws, ok := scanBatch([]byte(body), 3); ok || ws != nil {
			t.Errorf("%s: scanned %d items, want the strict path", name, len(ws))
		}
	}
}

func TestBatchBodyAppendJSONMatchesMarshal(t *testing.T) {
	rc := schemas.Receipt{SubmissionID: "0b6a3c1e-8d2f-4a57-9e3b-5f1d2c7a0002", Hash: "sha256:ab",
		ReceivedAt: time.Date(2023, 5, 14, 10, 41, 2, 5000, time.UTC), Duplicate: true}
	body := batchBody{Results: []itemResult{
		{Status: http.StatusAccepted, Receipt: &rc},
		{Status: http.StatusBadRequest, Error: apiErr(CodeUnknownField, "x<y>", "unknown field %q: สถานี & \"quotes\"", "x<y>")},
		{Status: http.StatusServiceUnavailable, Error: apiErr(CodeKafkaUnavailable, "", "not stored")},
	}}
	want, err := json.Marshal(&body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := body.appendJSON(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("appendJSON = %s, %v\nwant %s", got, err, want)
	}
}

// FuzzFastBatch holds scanBatch to the strict path: a batch it takes must split, and every
// item decode strictly, to the same values.
func FuzzFastBatch(f *testing.F) {
	one := validSub().json()
	for _, s := range []string{"[" + one + "]", "[" + one + "," + one + "]", "[]", "[{}]", "[{},{}, {} ]", `[{"votes":{"1":2}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ws, ok := scanBatch(body, 4)
		if !ok {
			return
		}
		items, isBatch, e := splitBatch(body)
		if e != nil || !isBatch || len(items) != len(ws) {
			t.Fatalf("scanned %d items of %q; splitBatch: %d items, batch %v, error %v", len(ws), body, len(items), isBatch, e)
		}
		for i, raw := range items {
			var strict submissionWire
			if e := decodeStrict(raw, &strict); e != nil {
				t.Fatalf("item %d of %q scanned, but encoding/json refuses it: %s", i, body, e.Message)
			}
			if !reflect.DeepEqual(ws[i], strict) {
				t.Fatalf("item %d of %q: scanned %+v, encoding/json %+v", i, body, ws[i], strict)
			}
		}
	})
}
