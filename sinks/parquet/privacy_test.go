package parquet

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// volunteerColumn matches the names of columns that would say who reported, reviewed or was
// flagged: none may leave the war room in an export (docs/data.md, "Analyst exports").
var volunteerColumn = regexp.MustCompile(`(?i)volunteer|person|submission|decided_by|entered_by|reviewer|^orgs?$|organi[sz]ation|^role$|message|evidence|token|phone|hash|^source_`)

// rowTypes are the row types of every export file.
var rowTypes = []any{StationRow{}, AnomalyRow{}, EstimatePartyRow{}, EstimateConstituencyRow{}, CallRow{}}

// TestRowTypesCarryNoVolunteers fails on any column of an export row type, at any depth of
// its Parquet or Arrow schema, whose name reads as a volunteer's, reviewer's or source's.
func TestRowTypesCarryNoVolunteers(t *testing.T) {
	for _, row := range rowTypes {
		name := reflect.TypeOf(row).Name()
		for _, path := range pq.SchemaOf(row).Columns() {
			for _, part := range path {
				if volunteerColumn.MatchString(part) {
					t.Errorf("%s: Parquet column %s", name, strings.Join(path, "."))
				}
			}
		}
		for _, f := range arrowSchema(reflect.TypeOf(row), nil).Fields() {
			checkArrowFieldNames(t, name, f)
		}
	}
	// The check itself must bite: the war room's anomaly carries a volunteer.
	bad := false
	for _, path := range pq.SchemaOf(struct {
		VolunteerID string `parquet:"volunteer_id"`
	}{}).Columns() {
		bad = bad || volunteerColumn.MatchString(path[0])
	}
	if !bad {
		t.Error("volunteerColumn does not match volunteer_id")
	}
}

func checkArrowFieldNames(t *testing.T, row string, f arrow.Field) {
	t.Helper()
	if volunteerColumn.MatchString(f.Name) {
		t.Errorf("%s: Arrow field %s", row, f.Name)
	}
	switch typ := f.Type.(type) {
	case *arrow.ListType:
		checkArrowFieldNames(t, row, typ.ElemField())
	case *arrow.StructType:
		for _, c := range typ.Fields() {
			checkArrowFieldNames(t, row, c)
		}
	}
}

// checkExportFiles reads every file of an export folder: no column reads as a volunteer's and
// no text value holds secret (a marker the test put in every volunteer, reviewer and
// organisation field of the input); every Parquet timestamp is an instant
// (isAdjustedToUTC) and every Parquet string is UTF-8 text; every Arrow timestamp carries
// Asia/Bangkok.
func checkExportFiles(t *testing.T, dir, secret string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(e.Name()) {
		case ".parquet":
			checkParquetFile(t, e.Name(), raw, secret)
		case ".arrows":
			// The IPC stream is not compressed: a secret would appear as its bytes.
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds %q", e.Name(), secret)
			}
			r, err := ipc.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			for _, f := range r.Schema().Fields() {
				checkArrowFieldNames(t, e.Name(), f)
				if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone != TimeZone {
					t.Errorf("%s: %s has zone %q", e.Name(), f.Name, ts.TimeZone)
				}
			}
			r.Release()
		default:
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds %q", e.Name(), secret)
			}
		}
	}
}

func checkParquetFile(t *testing.T, name string, raw []byte, secret string) {
	t.Helper()
	f, err := pq.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, el := range f.Metadata().Schema {
		if volunteerColumn.MatchString(el.Name) {
			t.Errorf("%s: column %s", name, el.Name)
		}
		switch lt := el.LogicalType.Value.(type) {
		case *format.TimestampType:
			if !lt.IsAdjustedToUTC {
				t.Errorf("%s: timestamp %s is not adjusted to UTC", name, el.Name)
			}
		}
		if el.Type.Valid && el.Type.V == format.ByteArray {
			if _, ok := el.LogicalType.Value.(*format.StringType); !ok {
				t.Errorf("%s: byte array %s is not annotated as UTF-8 text", name, el.Name)
			}
		}
	}
	if tz, _ := f.Lookup("votestream.time_zone"); tz != TimeZone {
		t.Errorf("%s: time_zone metadata %q", name, tz)
	}
	r := pq.NewReader(bytes.NewReader(raw))
	defer r.Close()
	rows := make([]pq.Row, 64)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			for _, v := range row {
				if v.Kind() == pq.ByteArray && bytes.Contains(v.ByteArray(), []byte(secret)) {
					t.Errorf("%s holds %q in column %d", name, secret, v.Column())
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
