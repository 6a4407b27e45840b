// Package evidencelog is the transparency-log role: it appends a leaf for every record of
// the logged topics (accepted reports, stored photos, review decisions, official figures,
// published estimates) to a Tessera POSIX log in the C2SP tlog-tiles layout, signs a
// checkpoint every CheckpointInterval, archives and publishes each (checkpoints.v1), pushes
// each to the registered witnesses (C2SP tlog-witness) and merges the cosignatures they
// answer or post, and serves the log's files, proofs (by leaf hash, photo digest or report
// submission id) and, after polls close, the public station pages.
//
// It owns the log folder (one writer per folder, enforced by a lock file) and its own
// consumer group. Exactly once: a round's Kafka offsets are committed only after Tessera
// has integrated its leaves, and a leaf index rebuilt from the log drops re-delivered
// records. The writer group-commits: each batch handed to Tessera is everything read while
// the previous one was being written. It never writes to other roles' topics or tables; what verifiers and witnesses
// share lives in evidencelog/tlog. See docs/evidence-log.md.
package evidencelog
