package kgorecord_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

func TestRecordRoundTrip(t *testing.T) {
	in := schemas.StationResult{
		StationID: "BKK_1_0042", ConstituencyID: "BKK_1", Ballot: "partylist", Version: 2,
		Status: schemas.StatusProvisional, Stage: schemas.StageProgress, BallotsCast: 120,
		Votes: map[string]int{"31": 70, "29": 50}, CountedAt: time.Date(2023, 5, 14, 10, 40, 0, 0, time.UTC),
		UpdatedAt: time.Date(2023, 5, 14, 10, 41, 0, 0, time.UTC),
	}
	r, err := kgorecord.New("test-"+schemas.TopicStationResults, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Key) != "BKK_1_0042/partylist" || r.Topic != "test-station-results.v1" {
		t.Errorf("key %q topic %q", r.Key, r.Topic)
	}
	want := []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: "schema", Value: []byte("station-result.v1")}}
	if len(r.Headers) != 2 || string(r.Headers[0].Value) != string(want[0].Value) || r.Headers[1].Key != want[1].Key || string(r.Headers[1].Value) != string(want[1].Value) {
		t.Errorf("headers %q, want %q", r.Headers, want)
	}
	var out schemas.StationResult
	if err := kgorecord.Decode(r, &out); err != nil {
		t.Fatal(err)
	}
	if out.Version != 2 || out.Votes["29"] != 50 || !out.UpdatedAt.Equal(in.UpdatedAt) {
		t.Errorf("decoded %#v", out)
	}
	v, err := kgorecord.DecodeAny(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*schemas.StationResult); !ok {
		t.Errorf("DecodeAny gave %T", v)
	}

	r.Headers[1].Value = []byte("station-result.v2")
	r.Partition, r.Offset = 3, 1041
	err = kgorecord.Decode(r, &out)
	if !errors.Is(err, schemas.ErrUnsupportedVersion) {
		t.Fatalf("v2 record: %v", err)
	}
	if got := err.Error(); got[:len("test-station-results.v1[3]@1041")] != "test-station-results.v1[3]@1041" {
		t.Errorf("error does not name the record: %s", got)
	}
}

func TestDeadLetter(t *testing.T) {
	src := &kgo.Record{Topic: "t1.submissions.v1", Partition: 3, Offset: 1234, Key: []byte("BKK_1_0001"), Value: []byte(`{"x":`),
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte("report.v1")}, {Key: schemas.HeaderStage, Value: []byte("forged")}}}
	dl := kgorecord.DeadLetter("t1.dead-letter.v1", "sink", src, errors.New("undecodable: unexpected end of JSON input"))
	if dl.Topic != "t1.dead-letter.v1" || string(dl.Key) != "BKK_1_0001" || string(dl.Value) != `{"x":` {
		t.Fatalf("record %s %q %q", dl.Topic, dl.Key, dl.Value)
	}
	if len(dl.Headers) != 2+len(schemas.DeadLetterHeaders) || dl.Headers[0].Key != schemas.HeaderSchema {
		t.Fatalf("headers %v: want the source's first, then the dead-letter ones", dl.Headers)
	}
	for i, name := range schemas.DeadLetterHeaders {
		if got := dl.Headers[2+i].Key; got != name {
			t.Errorf("header %d is %q, want %q", 2+i, got, name)
		}
	}
	d, ok := schemas.ParseDeadLetter(kgorecord.FromHeaders(dl.Headers))
	want := schemas.DeadLetter{SourceTopic: "t1.submissions.v1", SourcePartition: 3, SourceOffset: 1234, Stage: "sink", Reason: "undecodable: unexpected end of JSON input"}
	if !ok || d != want {
		t.Errorf("parsed %+v %v, want %+v (the dead letter's own stage wins over the source's)", d, ok, want)
	}
	if _, ok := schemas.ParseDeadLetter(kgorecord.FromHeaders(src.Headers)); ok {
		t.Error("a record without dead-letter headers parsed as one")
	}
	if len(src.Headers) != 2 {
		t.Error("the source record's headers were changed")
	}
}
