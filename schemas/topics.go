package schemas

// Topic is one Kafka topic of the contract. Names carry the major version of their message.
type Topic struct {
	Name       string
	Partitions int32
	Compacted  bool // cleanup.policy=compact: the latest record per key is the state
	// KeepForever sets retention.ms=-1: a log that is the state itself, read whole at start.
	KeepForever bool
}

// Topic names. Report and result topics are keyed by station_id so one station's records
// stay ordered on one partition; the report topics (submissions, reviews, official) are
// placed by constituency (internal/partition), so one partition holds a whole constituency.
const (
	TopicSubmissions    = "submissions.v1"
	TopicReviews        = "reviews.v1"
	TopicOfficial       = "official.v1"
	TopicStationResults = "station-results.v1"
	TopicAnomalies      = "anomalies.v1"
	TopicEstimates      = "estimates.v1"
	TopicDeadLetter     = "dead-letter.v1"
	// TopicEvidence: one record per photo ingest stored (or already had), keyed by digest.
	TopicEvidence = "evidence.v1"
	// TopicCheckpoints: the transparency log's signed checkpoints, keyed by origin.
	TopicCheckpoints = "checkpoints.v1"
	// TopicFieldwork is one partition, kept for ever: its order decides who activated a
	// link first and which claims are within a station's cap (schemas.FieldEvent).
	TopicFieldwork = "fieldwork.v1"
	TopicIncidents = "incidents.v1"
	// TopicRefusals: a sample of the requests ingest refused (schemas.Refusal).
	TopicRefusals = "refusals.v1"
	// TopicCalls is the call log: recommendations and the desk's decisions
	// (schemas.Call), one partition kept for ever, keyed by race.
	TopicCalls = "calls.v1"
)

// Topics is the full topic set, created by `votestream migrate` (never by broker auto-create).
var Topics = []Topic{
	{Name: TopicSubmissions, Partitions: 6},
	{Name: TopicReviews, Partitions: 6},
	{Name: TopicOfficial, Partitions: 6},
	{Name: TopicStationResults, Partitions: 6, Compacted: true},
	{Name: TopicAnomalies, Partitions: 6},
	{Name: TopicEstimates, Partitions: 1},
	{Name: TopicDeadLetter, Partitions: 1},
	{Name: TopicEvidence, Partitions: 6},
	{Name: TopicCheckpoints, Partitions: 1},
	{Name: TopicFieldwork, Partitions: 1, KeepForever: true},
	{Name: TopicIncidents, Partitions: 6},
	{Name: TopicRefusals, Partitions: 6},
	{Name: TopicCalls, Partitions: 1, KeepForever: true},
}
