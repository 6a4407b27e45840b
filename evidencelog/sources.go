package evidencelog

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
	"votestream/schemas/kgorecord"
)

// Source is one logged topic and how its records become leaves.
type Source struct {
	Topic string // without prefix
	// Leaf builds the leaf of a record; false when the record cannot be read as the topic's
	// message, and the writer logs a record.v1 leaf of its bytes instead.
	Leaf func(r *kgo.Record) ([]byte, bool)
}

// Sources are the topics the log records, each with its leaf (schemas' leaf functions). A
// new topic to log (calls, retractions) is one line here.
var Sources = []Source{
	{schemas.TopicSubmissions, reportLeaf},
	{schemas.TopicEvidence, photoLeaf},
	{schemas.TopicReviews, reviewLeaf},
	{schemas.TopicOfficial, officialLeaf},
	{schemas.TopicEstimates, estimateLeaf},
	{schemas.TopicCalls, callLeaf},
}

// SourceTopics lists the topics of Sources.
func SourceTopics() []string {
	out := make([]string, len(Sources))
	for i, s := range Sources {
		out[i] = s.Topic
	}
	return out
}

func sourceFor(topic string) *Source {
	for i := range Sources {
		if Sources[i].Topic == topic {
			return &Sources[i]
		}
	}
	return nil
}

// leafOf is the leaf of a record of a logged topic: its Source's leaf, or, for a record
// that cannot be read, {"kind":"record.v1","record":"sha256:…","topic":…} so that every
// record Kafka holds is in the log, the unreadable ones too.
func leafOf(src *Source, r *kgo.Record) (leaf []byte, ok bool) {
	if leaf, ok := src.Leaf(r); ok {
		return leaf, true
	}
	return schemas.RecordLeaf(schemas.LeafRecord, r.Value, schemas.LeafField{Name: "topic", Value: src.Topic}), false
}

func reportLeaf(r *kgo.Record) ([]byte, bool) {
	var rep schemas.Report
	if err := kgorecord.Decode(r, &rep); err != nil || rep.Hash == "" || rep.SubmissionID == "" {
		return nil, false
	}
	return schemas.ReportLeaf(&rep), true
}

var evidenceRef = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func photoLeaf(r *kgo.Record) ([]byte, bool) {
	var e schemas.Evidence
	if err := kgorecord.Decode(r, &e); err != nil || !evidenceRef.MatchString(e.Evidence) {
		return nil, false
	}
	return schemas.PhotoLeaf(e.Evidence), true
}

func reviewLeaf(r *kgo.Record) ([]byte, bool) {
	var rv schemas.Review
	if err := kgorecord.Decode(r, &rv); err != nil || rv.ReviewID == "" {
		return nil, false
	}
	return schemas.ReviewLeaf(r.Value, &rv), true
}

func officialLeaf(r *kgo.Record) ([]byte, bool) {
	var of schemas.Official
	if err := kgorecord.Decode(r, &of); err != nil || of.OfficialID == "" {
		return nil, false
	}
	return schemas.OfficialLeaf(r.Value, &of), true
}

// estimateFields is what an estimate's leaf names. estimator_version and config_hash are
// read when the record has them (they came with a later minor version of estimate.v1).
type estimateFields struct {
	EstimateID       string    `json:"estimate_id"`
	DataTime         time.Time `json:"data_time"`
	EstimatorVersion string    `json:"estimator_version"`
	ConfigHash       string    `json:"config_hash"`
}

func estimateLeaf(r *kgo.Record) ([]byte, bool) {
	name, err := schemas.RecordSchema(kgorecord.FromHeaders(r.Headers))
	if err != nil || name != schemas.SchemaEstimate {
		return nil, false
	}
	var e estimateFields
	if err := json.Unmarshal(r.Value, &e); err != nil || strings.TrimSpace(e.EstimateID) == "" {
		return nil, false
	}
	return schemas.EstimateLeaf(r.Value, e.EstimateID, e.DataTime, e.EstimatorVersion, e.ConfigHash), true
}

func callLeaf(r *kgo.Record) ([]byte, bool) {
	var c schemas.Call
	if err := kgorecord.Decode(r, &c); err != nil || c.CallID == "" {
		return nil, false
	}
	return schemas.CallLeaf(r.Value, &c), true
}
