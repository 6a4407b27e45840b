-- Estimates (schemas.Estimate): one row per run in estimates, one row per party in
-- estimate_parties, one row per constituency in estimate_constituencies, all carrying the
-- run's estimate_id and data_time. Re-publishing a run folds away by key.

CREATE TABLE IF NOT EXISTS {db}.estimates (
    estimate_id       String,
    data_time         DateTime('Asia/Bangkok'),
    computed_at       DateTime('Asia/Bangkok'),
    stations_reported UInt32,
    stations_total    UInt32,
    eligible_reported UInt64,
    eligible_total    UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id);

CREATE TABLE IF NOT EXISTS {db}.estimate_parties (
    estimate_id     String,
    data_time       DateTime('Asia/Bangkok'),
    party_no        UInt16,
    counted_votes   UInt64,
    projected_votes UInt64,
    share           Float64,
    share_lo        Float64,
    share_hi        Float64,
    seats           UInt16
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id, party_no);

-- candidates are parallel arrays in candidate order: candidate_no[i] has counted_votes[i]
-- and projected_votes[i].
CREATE TABLE IF NOT EXISTS {db}.estimate_constituencies (
    estimate_id       String,
    data_time         DateTime('Asia/Bangkok'),
    constituency_id   String,
    leader_no         UInt16,
    win_probability   Float64,
    call              String,
    stations_reported UInt32,
    stations_total    UInt32,
    eligible_reported UInt64,
    eligible_total    UInt64,
    candidate_no      Array(UInt16),
    counted_votes     Array(UInt64),
    projected_votes   Array(UInt64)
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id, constituency_id);

-- The newest run: the one with the latest data time (then the latest computation).
CREATE VIEW IF NOT EXISTS {db}.estimate_latest AS
SELECT *
FROM {db}.estimates
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {db}.estimates
)
LIMIT 1;

CREATE VIEW IF NOT EXISTS {db}.estimate_parties_latest AS
SELECT *
FROM {db}.estimate_parties
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {db}.estimates
)
LIMIT 1 BY party_no;

CREATE VIEW IF NOT EXISTS {db}.estimate_constituencies_latest AS
SELECT *
FROM {db}.estimate_constituencies
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {db}.estimates
)
LIMIT 1 BY constituency_id;
