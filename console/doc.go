// Package console is the review console of district leads and the war room: a role that
// reads station results, anomalies, reports, reviews and official figures from ClickHouse,
// orders what is still open into a queue, serves evidence photos to the people allowed to
// see them, and serves the web app (embedded, no build step) through which leads work the
// queue.
//
// It decides nothing itself: a lead's decision (accept a source, corrected figures, mark
// verified) is forwarded to ingest's POST /v1/reviews with the lead's own token, so it is
// checked, scoped and audited there like any review, and official figures go to ingest's
// POST /v1/official. Each forward is signed with the console key (Config.ConsoleKeysFile):
// an ingest holding the same key takes a privileged token's decision only so signed, so
// the second factor and the second approver checked here cannot be skipped. The console
// only refuses early what ingest would refuse, and validates a whole CSV of official
// figures before sending any row.
//
// What it refuses (a wrong sign-in, a role or constituency that may not do something) is
// logged, counted, audited when the person is known, and published on refusals.v1 with
// --kafka, sampled per sender like ingest's (internal/refusals).
//
// Who sees what: the war room sees everything; a district lead sees the stations of the
// constituency their token names, and an evidence photo only when a report from one of
// those stations cites it. Station volunteers have no access.
package console
