package schemas

import "strconv"

// Dead-letter headers (DESIGN.md §2). A dead-letter.v1 record is the source record as it
// was (key, value, headers) plus these headers, added in this order by
// kgorecord.DeadLetter, the one builder every role uses. HeaderReason and
// HeaderSourceTopic are declared with the envelope headers.
const (
	// HeaderSourcePartition is the partition of the source record, in decimal.
	HeaderSourcePartition = "source-partition"
	// HeaderSourceOffset is the offset of the source record, in decimal.
	HeaderSourceOffset = "source-offset"
	// HeaderStage names the role that gave up on the record: consolidate, estimate, sink.
	HeaderStage = "stage"
)

// DeadLetterHeaders lists every header a dead letter adds to the source record's, in order.
var DeadLetterHeaders = []string{HeaderReason, HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset, HeaderStage}

// DeadLetter is what a dead letter says of its source record: where it was, which role gave
// up on it, and why.
type DeadLetter struct {
	// SourceTopic is the full name of the source topic, any prefix included.
	SourceTopic     string
	SourcePartition int32
	SourceOffset    int64
	// Stage is the role that gave up: "consolidate", "estimate", "sink".
	Stage string
	// Reason is why, for a person: the decoding or validation error.
	Reason string
}

// Headers returns the headers that d adds to the source record's, in DeadLetterHeaders
// order.
func (d DeadLetter) Headers() []Header {
	return []Header{
		{Key: HeaderReason, Value: []byte(d.Reason)},
		{Key: HeaderSourceTopic, Value: []byte(d.SourceTopic)},
		{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(d.SourcePartition), 10)},
		{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, d.SourceOffset, 10)},
		{Key: HeaderStage, Value: []byte(d.Stage)},
	}
}

// ParseDeadLetter reads the dead-letter headers of a dead-letter.v1 record. The last
// occurrence of each header wins (the source record may itself carry one of the names). It
// reports false when reason or source-topic is missing, or a number does not parse.
func ParseDeadLetter(hs []Header) (DeadLetter, bool) {
	var d DeadLetter
	var haveReason, haveTopic bool
	for _, h := range hs {
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			d.Reason, haveReason = v, true
		case HeaderSourceTopic:
			d.SourceTopic, haveTopic = v, true
		case HeaderSourcePartition:
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return DeadLetter{}, false
			}
			d.SourcePartition = int32(p)
		case HeaderSourceOffset:
			o, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return DeadLetter{}, false
			}
			d.SourceOffset = o
		case HeaderStage:
			d.Stage = v
		}
	}
	return d, haveReason && haveTopic
}
