package parquet

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	pq "github.com/parquet-go/parquet-go"
)

// checkHistory reads the estimate history TestExportOnBroker wrote: estimates e-1755, e-1800
// (published twice) and e-1805, oldest first, three parties and one constituency each, in
// Parquet and in Arrow.
func checkHistory(t *testing.T, out string) {
	t.Helper()
	parties, err := pq.ReadFile[EstimatePartyRow](filepath.Join(out, FileHistoryParties))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var nos []int32
	for _, p := range parties {
		ids, nos = append(ids, p.EstimateID), append(nos, p.PartyNo)
	}
	wantIDs := []string{"e-1755", "e-1755", "e-1755", "e-1800", "e-1800", "e-1800", "e-1805", "e-1805", "e-1805"}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(nos, []int32{31, 29, 7, 31, 29, 7, 31, 29, 7}) {
		t.Fatalf("history parties %q %v, want %q and 31, 29, 7 each", ids, nos, wantIDs)
	}
	if p := parties[3]; !p.DataTime.Equal(bkk(18, 0)) || !p.ComputedAt.Equal(bkk(18, 0).Add(3*time.Second)) || p.NameTH != "ก้าวไกล" ||
		p.SharesState != "estimate" || p.ShareLo != 0.4 || p.ShareHi != 0.6 || p.TotalLo90 != 50 || p.StationsReported != 2 {
		t.Errorf("history party row 3: %+v", p)
	}
	consts, err := pq.ReadFile[EstimateConstituencyRow](filepath.Join(out, FileHistoryConstituencies))
	if err != nil {
		t.Fatal(err)
	}
	if len(consts) != 3 || consts[0].EstimateID != "e-1755" || consts[2].EstimateID != "e-1805" || consts[1].ConstituencyID != "BKK_1" ||
		consts[1].SharesState != "estimate" || len(consts[1].Candidates) != 2 || !consts[0].DataTime.Equal(bkk(17, 55)) {
		t.Errorf("history constituencies: %+v", consts)
	}

	// Arrow: the same columns by name, the zone in the type, the same values.
	r := openArrow(t, filepath.Join(out, FileHistoryPartiesArrow))
	defer r.Release()
	checkArrowColumns(t, FileHistoryPartiesArrow, r.Schema(), EstimatePartyRow{})
	var arrowIDs, names []string
	var dataTimes []int64
	for r.Next() {
		rec := r.RecordBatch()
		s := rec.Schema()
		id := rec.Column(s.FieldIndices("estimate_id")[0]).(*array.String)
		name := rec.Column(s.FieldIndices("name_th")[0]).(*array.String)
		dt := rec.Column(s.FieldIndices("data_time")[0]).(*array.Timestamp)
		for i := range int(rec.NumRows()) {
			arrowIDs, names, dataTimes = append(arrowIDs, id.Value(i)), append(names, name.Value(i)), append(dataTimes, int64(dt.Value(i)))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(arrowIDs, wantIDs) || names[0] != "ก้าวไกล" || dataTimes[0] != bkk(17, 55).UnixMilli() || dataTimes[8] != bkk(18, 5).UnixMilli() {
		t.Errorf("arrow history parties: %q %q %v", arrowIDs, names, dataTimes)
	}
	f := r.Schema().Field(r.Schema().FieldIndices("data_time")[0])
	if ts, ok := f.Type.(*arrow.TimestampType); !ok || ts.TimeZone != TimeZone || ts.Unit != arrow.Millisecond {
		t.Errorf("arrow data_time type %v", f.Type)
	}

	rc := openArrow(t, filepath.Join(out, FileHistoryConstituenciesArrow))
	defer rc.Release()
	checkArrowColumns(t, FileHistoryConstituenciesArrow, rc.Schema(), EstimateConstituencyRow{})
	var candidates []int
	var swings []bool
	for rc.Next() {
		rec := rc.RecordBatch()
		list := rec.Column(rec.Schema().FieldIndices("candidates")[0]).(*array.List)
		st := list.ListValues().(*array.Struct)
		swing := st.Field(4).(*array.Float64)
		for i := range int(rec.NumRows()) {
			start, end := list.ValueOffsets(i)
			candidates = append(candidates, int(end-start))
			swings = append(swings, !swing.IsNull(int(start)), !swing.IsNull(int(start)+1))
		}
	}
	if !slices.Equal(candidates, []int{2, 2, 2}) || !slices.Equal(swings, []bool{true, false, true, false, true, false}) {
		t.Errorf("arrow history constituencies: candidates %v, swing present %v", candidates, swings)
	}
}

func openArrow(t *testing.T, path string) *ipc.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := ipc.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkArrowColumns: the stream has the Parquet file's top-level columns, in order.
func checkArrowColumns(t *testing.T, name string, s *arrow.Schema, row any) {
	t.Helper()
	var want, got []string
	for _, f := range pq.SchemaOf(row).Fields() {
		want = append(want, f.Name())
	}
	for _, f := range s.Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s columns %q, want the Parquet file's %q", name, got, want)
	}
}
