package evidencelog

import (
	"strings"
	"testing"
	"time"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Every desk decision and recommendation on calls.v1 becomes a call.v1 leaf naming the
// exact bytes Kafka holds.
func TestCallLeaf(t *testing.T) {
	c := schemas.Call{CallID: "c-1", Race: "BKK_1", Action: schemas.ActionRetract, By: "desk-1", Role: schemas.RoleDesk,
		At: time.Date(2023, 5, 14, 14, 0, 0, 0, time.UTC), Reason: "พบหน่วยนับซ้ำ"}
	rec, err := kgorecord.New(schemas.TopicCalls, &c)
	if err != nil {
		t.Fatal(err)
	}
	src := sourceFor(schemas.TopicCalls)
	if src == nil {
		t.Fatal("calls.v1 is not logged")
	}
	leaf, ok := leafOf(src, rec)
	want := `{"kind":"call.v1","record":"` + schemas.SHA256Ref(rec.Value) + `","race":"BKK_1","action":"retract","call_id":"c-1","at":"2023-05-14T14:00:00Z"}`
	if !ok || string(leaf) != want {
		t.Fatalf("leaf %s (%v)\nwant %s", leaf, ok, want)
	}
	rec.Value = []byte(strings.Replace(string(rec.Value), `"call_id":"c-1"`, `"call_id":""`, 1))
	if leaf, ok := leafOf(src, rec); ok || !strings.Contains(string(leaf), `"kind":"record.v1"`) {
		t.Fatalf("a call without an id: %s (%v); want a record.v1 leaf", leaf, ok)
	}
}
