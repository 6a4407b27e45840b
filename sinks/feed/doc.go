// Package feed is the newsroom feed (DESIGN.md §2): it reads station-results.v1 and
// estimates.v1 (read_committed) into an in-memory view and serves it to newsrooms over a
// read-only HTTP JSON API, a Server-Sent Events stream that resumes without gaps, and a
// change cursor for pollers (/v1/feed/changes) read from the same ring of events.
//
// What it owns: the view (the current result per station and ballot, totals per
// constituency and for the country, the latest estimate), the event ring behind the
// stream, the newsroom key file, and its HTTP endpoints. What it must not do: write to
// Kafka (it is a reader; the ClickHouse sink and the estimator already dead-letter records
// nobody can use, so the feed counts and logs them instead), keep anything on disk, or
// block its consumer on a newsroom: a client that falls too far behind is dropped and
// resumes from the ring when it reconnects.
//
// Every process builds the whole view from the topics (no consumer group, nothing
// committed): station-results.v1 is compacted, so reading it from the start gives the
// current state; of estimates.v1 only the newest few records are read. The API answers 503
// NOT_READY until that first read has caught up, so a newsroom never sees a half-built
// night as if it were the count.
package feed
