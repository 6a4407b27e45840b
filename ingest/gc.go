package ingest

// GCPercent is the GOGC that `votestream ingest` runs with when the GOGC environment variable
// is not set. Ingest's live heap is small (the idempotency store, some 150 MB at its bound)
// and nearly all it allocates dies with the request, so collecting at Go's default of 100 %
// growth spent about a sixth of its CPU in the collector; at 400 it handled 8 % more
// submissions a second on the same cores (docs/benchmarks.md). It is a process setting, so
// the command sets it, not New: `votestream up` shares its process with consolidate, whose
// heap is large.
const GCPercent = 400
