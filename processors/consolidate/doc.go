// Package consolidate turns the noisy stream of volunteer reports, reviews and official
// figures into one explainable result per station and ballot, and flags what looks wrong
// (DESIGN.md §4, issue 5).
//
// It owns two layers:
//
//   - the pure logic: Rules.Apply, a per-station state machine that keeps every report and
//     derives the current result and its anomalies, and Ledger, which holds the stations of
//     the partitions one process owns, runs the detectors that look across stations
//     (outliers, reused photos, volunteers spread over many stations) and can roll a
//     transaction's changes back. Neither touches Kafka; both are deterministic functions of
//     their inputs.
//   - the runner (Run): a consumer group on submissions.v1, reviews.v1 and official.v1 that
//     produces station-results.v1 and anomalies.v1 in Kafka transactions together with the
//     consumed offsets, and rebuilds its state from Kafka, never from a local file. Its
//     input topics are placed by constituency (internal/partition), so the partitions it
//     owns hold whole constituencies; a record found elsewhere is counted and logged.
//
// It must not import another role, write anywhere but its own output topics and the
// dead-letter topic, or keep state that a crash could leave half-written. The rules, with
// worked examples, are in docs/consolidation.md.
package consolidate
