-- Station results: every version consolidate published (schemas.StationResult). The row
-- with the highest version per (station_id, ballot) is the current one; a re-delivered
-- version is identical and folds away. The sources of a result are parallel arrays.

CREATE TABLE IF NOT EXISTS {db}.station_results (
    station_id            String,
    constituency_id       String,
    ballot                String,
    version               UInt64,
    status                String,
    stage                 String,
    ballots_cast          UInt32,
    invalid               UInt32,
    no_vote               UInt32,
    vote_no               Array(UInt16),
    votes                 Array(UInt32),
    source_submission_ids Array(String),
    source_volunteer_ids  Array(String),
    source_orgs           Array(String),
    source_stages         Array(String),
    source_hashes         Array(String),
    anomalies             Array(String),
    decided_by            String,
    counted_at            DateTime('Asia/Bangkok'),
    updated_at            DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(version)
ORDER BY (station_id, ballot);

-- The current result per station and ballot, whether or not the parts have merged yet.
-- (v, not version, inside: an alias equal to a column name used in another aggregate is an
-- error on 18.16.)
CREATE VIEW IF NOT EXISTS {db}.station_results_current AS
SELECT
    station_id,
    ballot,
    max(v)                                    AS version,
    argMax(constituency_id, v)                AS constituency_id,
    argMax(status, v)                         AS status,
    argMax(stage, v)                          AS stage,
    argMax(ballots_cast, v)                   AS ballots_cast,
    argMax(invalid, v)                        AS invalid,
    argMax(no_vote, v)                        AS no_vote,
    argMax(vote_no, v)                        AS vote_no,
    argMax(votes, v)                          AS votes,
    argMax(source_submission_ids, v)          AS source_submission_ids,
    argMax(source_volunteer_ids, v)           AS source_volunteer_ids,
    argMax(source_orgs, v)                    AS source_orgs,
    argMax(source_stages, v)                  AS source_stages,
    argMax(source_hashes, v)                  AS source_hashes,
    argMax(anomalies, v)                      AS anomalies,
    argMax(decided_by, v)                     AS decided_by,
    argMax(counted_at, v)                     AS counted_at,
    argMax(updated_at, v)                     AS updated_at
FROM (
    SELECT
        station_id, ballot, version AS v, constituency_id, status, stage, ballots_cast,
        invalid, no_vote, vote_no, votes, source_submission_ids, source_volunteer_ids,
        source_orgs, source_stages, source_hashes, anomalies, decided_by, counted_at, updated_at
    FROM {db}.station_results
)
GROUP BY station_id, ballot;

-- Totals per constituency and ballot over the current results. Disputed stations count as
-- unreported (DESIGN.md §4): they are counted apart and left out of the sums.
CREATE VIEW IF NOT EXISTS {db}.constituency_totals AS
SELECT
    constituency_id,
    ballot,
    countIf(status != 'disputed')               AS stations_reported,
    countIf(status = 'disputed')                AS stations_disputed,
    countIf(status = 'verified')                AS stations_verified,
    countIf(status != 'disputed' AND stage = 'final') AS stations_final,
    sumIf(ballots_cast, status != 'disputed')   AS ballots_cast,
    sumIf(invalid, status != 'disputed')        AS invalid,
    sumIf(no_vote, status != 'disputed')        AS no_vote,
    max(updated_at)                             AS updated_at
FROM {db}.station_results_current
GROUP BY constituency_id, ballot;

-- Votes per constituency, ballot and number (candidate_no or party_no) over the current,
-- non-disputed results.
CREATE VIEW IF NOT EXISTS {db}.constituency_votes AS
SELECT
    constituency_id,
    ballot,
    number,
    sum(n)  AS votes,
    count() AS stations
FROM (
    SELECT constituency_id, ballot, number, n
    FROM {db}.station_results_current
    ARRAY JOIN vote_no AS number, votes AS n
    WHERE status != 'disputed'
)
GROUP BY constituency_id, ballot, number;
