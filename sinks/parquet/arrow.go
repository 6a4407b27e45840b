package parquet

import (
	"io"
	"maps"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowBatchRows bounds the rows of one Arrow record batch, so a reader can stream the file
// without holding all 190,000 results of a night at once.
const arrowBatchRows = 16_384

// stationArrowSchema mirrors StationRow column for column; the timestamps carry the zone.
func stationArrowSchema(md map[string]string) *arrow.Schema {
	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: TimeZone}
	vote := arrow.StructOf(
		arrow.Field{Name: "number", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "votes", Type: arrow.PrimitiveTypes.Int64},
	)
	keys := slices.Sorted(maps.Keys(md))
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = md[k]
	}
	meta := arrow.NewMetadata(keys, values)
	str := arrow.BinaryTypes.String
	i64 := arrow.PrimitiveTypes.Int64
	return arrow.NewSchema([]arrow.Field{
		{Name: "station_id", Type: str},
		{Name: "constituency_id", Type: str},
		{Name: "province_id", Type: str},
		{Name: "subdistrict", Type: str},
		{Name: "ballot", Type: str},
		{Name: "status", Type: str},
		{Name: "stage", Type: str},
		{Name: "version", Type: i64},
		{Name: "ballots_cast", Type: i64},
		{Name: "invalid", Type: i64},
		{Name: "no_vote", Type: i64},
		{Name: "eligible_voters", Type: i64, Nullable: true},
		{Name: "votes", Type: arrow.ListOf(vote)},
		{Name: "anomalies", Type: arrow.ListOf(str)},
		{Name: "sources", Type: arrow.PrimitiveTypes.Int32},
		{Name: "decided_by", Type: str},
		{Name: "counted_at", Type: ts},
		{Name: "updated_at", Type: ts},
	}, &meta)
}

// writeArrowStations writes the rows as an Arrow IPC stream (the .arrows format).
func writeArrowStations(w io.Writer, rows []StationRow, md map[string]string) error {
	schema := stationArrowSchema(md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	iw := ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	str := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	i64 := func(i int) *array.Int64Builder { return b.Field(i).(*array.Int64Builder) }
	tsb := func(i int) *array.TimestampBuilder { return b.Field(i).(*array.TimestampBuilder) }
	votes := b.Field(12).(*array.ListBuilder)
	vote := votes.ValueBuilder().(*array.StructBuilder)
	voteNo := vote.FieldBuilder(0).(*array.Int32Builder)
	voteN := vote.FieldBuilder(1).(*array.Int64Builder)
	anomalies := b.Field(13).(*array.ListBuilder)
	anomaly := anomalies.ValueBuilder().(*array.StringBuilder)

	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		return iw.Write(rec)
	}
	for i, r := range rows {
		str(0).Append(r.StationID)
		str(1).Append(r.ConstituencyID)
		str(2).Append(r.ProvinceID)
		str(3).Append(r.Subdistrict)
		str(4).Append(r.Ballot)
		str(5).Append(r.Status)
		str(6).Append(r.Stage)
		i64(7).Append(r.Version)
		i64(8).Append(r.BallotsCast)
		i64(9).Append(r.Invalid)
		i64(10).Append(r.NoVote)
		if r.EligibleVoters != nil {
			i64(11).Append(*r.EligibleVoters)
		} else {
			i64(11).AppendNull()
		}
		votes.Append(true)
		for _, v := range r.Votes {
			vote.Append(true)
			voteNo.Append(v.Number)
			voteN.Append(v.Votes)
		}
		anomalies.Append(true)
		for _, a := range r.Anomalies {
			anomaly.Append(a)
		}
		b.Field(14).(*array.Int32Builder).Append(r.Sources)
		str(15).Append(r.DecidedBy)
		tsb(16).Append(arrow.Timestamp(r.CountedAt.UnixMilli()))
		tsb(17).Append(arrow.Timestamp(r.UpdatedAt.UnixMilli()))
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
