// Package evidencelog is the transparency-log role: it appends a leaf for every record of
// the logged topics (accepted reports, stored photos, review decisions, official figures,
// published estimates) to a Tessera POSIX log in the C2SP tlog-tiles layout, signs a
// checkpoint every CheckpointInterval, archives and publishes each (checkpoints.v1), merges
// the cosignatures witnesses post, and serves the log's files, proofs and, after polls
// close, the public station pages.
//
// It owns the log folder (one writer per folder, enforced by a lock file) and its own
// consumer group. Exactly once: a round's Kafka offsets are committed only after Tessera
// has integrated its leaves, and a leaf index rebuilt from the log drops re-delivered
// records. It never writes to other roles' topics or tables; what verifiers and witnesses
// share lives in evidencelog/tlog. See docs/evidence-log.md.
package evidencelog
