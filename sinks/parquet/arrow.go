package parquet

import (
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowBatchRows bounds the rows of one Arrow record batch, so a reader can stream the file
// without holding all 190,000 results of a night at once.
const arrowBatchRows = 16_384

var timeType = reflect.TypeFor[time.Time]()

// arrowSchema mirrors a Parquet row type column for column, by the names of its parquet
// tags, so the Arrow stream and the Parquet file of the same rows have the same columns:
// strings, integers, floats and booleans as themselves, a pointer as a nullable column, a
// slice as a list, a struct as a struct, and time.Time as a millisecond timestamp that
// carries the zone (Asia/Bangkok) in its type.
func arrowSchema(t reflect.Type, md map[string]string) *arrow.Schema {
	keys := slices.Sorted(maps.Keys(md))
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = md[k]
	}
	meta := arrow.NewMetadata(keys, values)
	fields, _ := arrowFields(t)
	return arrow.NewSchema(fields, &meta)
}

// arrowFields are the Arrow fields of struct type t and the index of the Go field behind each.
func arrowFields(t reflect.Type) ([]arrow.Field, []int) {
	var fields []arrow.Field
	var index []int
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		typ, nullable := arrowType(f.Type)
		fields = append(fields, arrow.Field{Name: name, Type: typ, Nullable: nullable})
		index = append(index, i)
	}
	return fields, index
}

func arrowType(t reflect.Type) (arrow.DataType, bool) {
	if t == timeType {
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: TimeZone}, false
	}
	switch t.Kind() {
	case reflect.Pointer:
		typ, _ := arrowType(t.Elem())
		return typ, true
	case reflect.String:
		return arrow.BinaryTypes.String, false
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean, false
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32, false
	case reflect.Int64:
		return arrow.PrimitiveTypes.Int64, false
	case reflect.Float64:
		return arrow.PrimitiveTypes.Float64, false
	case reflect.Slice:
		typ, _ := arrowType(t.Elem())
		return arrow.ListOf(typ), false
	case reflect.Struct:
		fields, _ := arrowFields(t)
		return arrow.StructOf(fields...), false
	}
	// The row types are ours: a kind missing above is a programming error, caught by the tests.
	panic(fmt.Sprintf("parquet: no Arrow type for %v", t))
}

// appendArrow appends v to b, whose type arrowType gave for v's type.
func appendArrow(b array.Builder, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.AppendNull()
			return
		}
		v = v.Elem()
	}
	switch b := b.(type) {
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.Interface().(time.Time).UnixMilli()))
	case *array.StringBuilder:
		b.Append(v.String())
	case *array.BooleanBuilder:
		b.Append(v.Bool())
	case *array.Int32Builder:
		b.Append(int32(v.Int()))
	case *array.Int64Builder:
		b.Append(v.Int())
	case *array.Float64Builder:
		b.Append(v.Float())
	case *array.ListBuilder:
		b.Append(true)
		for i := range v.Len() {
			appendArrow(b.ValueBuilder(), v.Index(i))
		}
	case *array.StructBuilder:
		b.Append(true)
		_, index := arrowFields(v.Type())
		for i, fi := range index {
			appendArrow(b.FieldBuilder(i), v.Field(fi))
		}
	default:
		panic(fmt.Sprintf("parquet: no Arrow append for %T", b))
	}
}

// writeArrow writes the rows as an Arrow IPC stream (the .arrows format), in record batches
// of at most arrowBatchRows rows; with no rows, the schema alone.
func writeArrow[T any](w io.Writer, rows []T, md map[string]string) error {
	t := reflect.TypeFor[T]()
	schema := arrowSchema(t, md)
	_, index := arrowFields(t)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	iw := ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		return iw.Write(rec)
	}
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for j, fi := range index {
			appendArrow(b.Field(j), v.Field(fi))
		}
		if (i+1)%arrowBatchRows == 0 {
			if err := flush(); err != nil {
				iw.Close()
				return err
			}
		}
	}
	if len(rows)%arrowBatchRows != 0 {
		if err := flush(); err != nil {
			iw.Close()
			return err
		}
	}
	return iw.Close()
}
