// Package kgorecord turns votestream messages into franz-go records and back, with the
// envelope of package schemas. It is the only part of schemas that imports franz-go.
package kgorecord

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
)

// New builds the record for a message on a topic: the JSON value, the envelope headers and
// the message's key (schemas.Key). topic is the full name, with any prefix.
func New(topic string, v any) (*kgo.Record, error) {
	value, headers, err := schemas.Encode(v)
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: topic, Value: value, Headers: Headers(headers)}
	if k := schemas.Key(v); k != "" {
		r.Key = []byte(k)
	}
	return r, nil
}

// Headers converts envelope headers to franz-go's.
func Headers(hs []schemas.Header) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader(h)
	}
	return out
}

// FromHeaders converts franz-go headers to envelope headers.
func FromHeaders(hs []kgo.RecordHeader) []schemas.Header {
	out := make([]schemas.Header, len(hs))
	for i, h := range hs {
		out[i] = schemas.Header(h)
	}
	return out
}

// Decode decodes a record into a pointer to a message type (see schemas.Decode); the error
// names the record's topic, partition and offset.
func Decode(r *kgo.Record, into any) error {
	if err := schemas.Decode(r.Value, FromHeaders(r.Headers), into); err != nil {
		return fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return nil
}

// DecodeAny decodes a record into a new message of the type its schema header names.
func DecodeAny(r *kgo.Record) (any, error) {
	v, err := schemas.DecodeAny(r.Value, FromHeaders(r.Headers))
	if err != nil {
		return nil, fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return v, nil
}

// DeadLetter builds the dead-letter.v1 record for a source record that stage (the role) can
// never process: the source's key, value and headers, then the headers of
// schemas.DeadLetter. deadTopic is the full name of the dead-letter topic, prefix included.
// The caller produces it and must check its delivery (in a transaction, or ProduceSync).
func DeadLetter(deadTopic, stage string, src *kgo.Record, reason error) *kgo.Record {
	d := schemas.DeadLetter{SourceTopic: src.Topic, SourcePartition: src.Partition, SourceOffset: src.Offset, Stage: stage, Reason: reason.Error()}
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+len(schemas.DeadLetterHeaders))
	headers = append(append(headers, src.Headers...), Headers(d.Headers())...)
	return &kgo.Record{Topic: deadTopic, Key: src.Key, Value: src.Value, Headers: headers}
}
