-- The newsrooms' database, {public} (the main database's name and "_public"): copies of
-- what newsrooms may see and nothing else, so that a ClickHouse user granted only this
-- database (ClickHouse 18.16 grants whole databases) can never read volunteer ids,
-- organisations, person hashes, who decided a result or anomaly texts that name poll workers.
-- Materialized views in the main database (named public_<table>_mv) copy every row inserted
-- there, cut down to its public columns; each is followed by an INSERT ... SELECT of the
-- rows already present (a re-run only repeats rows the ReplacingMergeTree folds away).
-- A view reading another database is refused to a user without it (18.16 checks the
-- tables under a view too), hence copies rather than views. The views below read only
-- tables of {public}. To publish another table: docs/sql.md, "Adding a public table".

CREATE DATABASE IF NOT EXISTS {public};

-- Reference data: as in the main database.
CREATE TABLE IF NOT EXISTS {public}.provinces (
    province_id String,
    name_th     String,
    name_en     String,
    region      String,
    loaded_at   DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY province_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_provinces_mv TO {public}.provinces AS
SELECT province_id, name_th, name_en, region, loaded_at FROM {db}.provinces;

INSERT INTO {public}.provinces SELECT province_id, name_th, name_en, region, loaded_at FROM {db}.provinces;

CREATE TABLE IF NOT EXISTS {public}.constituencies (
    constituency_id String,
    province_id     String,
    number          UInt16,
    eligible_voters UInt32,
    stations        UInt32,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY constituency_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_constituencies_mv TO {public}.constituencies AS
SELECT constituency_id, province_id, number, eligible_voters, stations, loaded_at FROM {db}.constituencies;

INSERT INTO {public}.constituencies SELECT constituency_id, province_id, number, eligible_voters, stations, loaded_at FROM {db}.constituencies;

CREATE TABLE IF NOT EXISTS {public}.stations (
    station_id      String,
    constituency_id String,
    subdistrict     String,
    number          UInt32,
    eligible_voters UInt32,
    urban           UInt8,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY station_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_stations_mv TO {public}.stations AS
SELECT station_id, constituency_id, subdistrict, number, eligible_voters, urban, loaded_at FROM {db}.stations;

INSERT INTO {public}.stations SELECT station_id, constituency_id, subdistrict, number, eligible_voters, urban, loaded_at FROM {db}.stations;

CREATE TABLE IF NOT EXISTS {public}.parties (
    party_no  UInt16,
    name_th   String,
    name_en   String,
    loaded_at DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY party_no;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_parties_mv TO {public}.parties AS
SELECT party_no, name_th, name_en, loaded_at FROM {db}.parties;

INSERT INTO {public}.parties SELECT party_no, name_th, name_en, loaded_at FROM {db}.parties;

CREATE TABLE IF NOT EXISTS {public}.candidates (
    constituency_id String,
    candidate_no    UInt16,
    name            String,
    party_no        UInt16,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (constituency_id, candidate_no);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_candidates_mv TO {public}.candidates AS
SELECT constituency_id, candidate_no, name, party_no, loaded_at FROM {db}.candidates;

INSERT INTO {public}.candidates SELECT constituency_id, candidate_no, name, party_no, loaded_at FROM {db}.candidates;

-- Station results without their sources (submission and volunteer ids, organisations,
-- hashes) or who decided them: sources is only how many reports stand behind a version.
CREATE TABLE IF NOT EXISTS {public}.station_results (
    station_id      String,
    constituency_id String,
    ballot          String,
    version         UInt64,
    status          String,
    stage           String,
    ballots_cast    UInt32,
    invalid         UInt32,
    no_vote         UInt32,
    vote_no         Array(UInt16),
    votes           Array(UInt32),
    sources         UInt16,
    anomalies       Array(String),
    counted_at      DateTime('Asia/Bangkok'),
    updated_at      DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(version)
ORDER BY (station_id, ballot);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_station_results_mv TO {public}.station_results AS
SELECT station_id, constituency_id, ballot, version, status, stage, ballots_cast, invalid, no_vote,
    vote_no, votes, toUInt16(length(source_submission_ids)) AS sources, anomalies, counted_at, updated_at
FROM {db}.station_results;

INSERT INTO {public}.station_results SELECT station_id, constituency_id, ballot, version, status, stage, ballots_cast, invalid, no_vote,
    vote_no, votes, toUInt16(length(source_submission_ids)) AS sources, anomalies, counted_at, updated_at
FROM {db}.station_results;

-- Anomalies as codes only: no volunteer, no submissions, no message or evidence (those
-- may read as accusations against named poll workers and stay in the war room).
CREATE TABLE IF NOT EXISTS {public}.anomalies (
    anomaly_id      String,
    code            String,
    severity        String,
    station_id      String,
    constituency_id String,
    ballot          String,
    detected_at     DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, anomaly_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_anomalies_mv TO {public}.anomalies AS
SELECT anomaly_id, code, severity, station_id, constituency_id, ballot, detected_at FROM {db}.anomalies;

INSERT INTO {public}.anomalies SELECT anomaly_id, code, severity, station_id, constituency_id, ballot, detected_at FROM {db}.anomalies;

-- Estimates: as in the main database.
CREATE TABLE IF NOT EXISTS {public}.estimates (
    estimate_id       String,
    data_time         DateTime('Asia/Bangkok'),
    computed_at       DateTime('Asia/Bangkok'),
    stations_reported UInt32,
    stations_total    UInt32,
    eligible_reported UInt64,
    eligible_total    UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimates_mv TO {public}.estimates AS
SELECT estimate_id, data_time, computed_at, stations_reported, stations_total, eligible_reported, eligible_total FROM {db}.estimates;

INSERT INTO {public}.estimates SELECT estimate_id, data_time, computed_at, stations_reported, stations_total, eligible_reported, eligible_total FROM {db}.estimates;

CREATE TABLE IF NOT EXISTS {public}.estimate_parties (
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

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimate_parties_mv TO {public}.estimate_parties AS
SELECT estimate_id, data_time, party_no, counted_votes, projected_votes, share, share_lo, share_hi, seats FROM {db}.estimate_parties;

INSERT INTO {public}.estimate_parties SELECT estimate_id, data_time, party_no, counted_votes, projected_votes, share, share_lo, share_hi, seats FROM {db}.estimate_parties;

CREATE TABLE IF NOT EXISTS {public}.estimate_constituencies (
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

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimate_constituencies_mv TO {public}.estimate_constituencies AS
SELECT estimate_id, data_time, constituency_id, leader_no, win_probability, call, stations_reported, stations_total,
    eligible_reported, eligible_total, candidate_no, counted_votes, projected_votes
FROM {db}.estimate_constituencies;

INSERT INTO {public}.estimate_constituencies SELECT estimate_id, data_time, constituency_id, leader_no, win_probability, call, stations_reported, stations_total,
    eligible_reported, eligible_total, candidate_no, counted_votes, projected_votes
FROM {db}.estimate_constituencies;

CREATE TABLE IF NOT EXISTS {public}.estimate_states (
    estimate_id   String,
    data_time     DateTime('Asia/Bangkok'),
    shares_state  String,
    priority_used UInt8
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimate_states_mv TO {public}.estimate_states AS
SELECT estimate_id, data_time, shares_state, priority_used FROM {db}.estimate_states;

INSERT INTO {public}.estimate_states SELECT estimate_id, data_time, shares_state, priority_used FROM {db}.estimate_states;

-- The transparency log's checkpoints: what a newsroom cites.
CREATE TABLE IF NOT EXISTS {public}.log_checkpoints (
    origin       String,
    size         UInt64,
    root_hash    String,
    note         String,
    cosigners    Array(String),
    cosignatures UInt16,
    published_at DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(cosignatures)
ORDER BY (origin, size);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_log_checkpoints_mv TO {public}.log_checkpoints AS
SELECT origin, size, root_hash, note, cosigners, cosignatures, published_at FROM {db}.log_checkpoints;

INSERT INTO {public}.log_checkpoints SELECT origin, size, root_hash, note, cosigners, cosignatures, published_at FROM {db}.log_checkpoints;

-- The views of the main database, over the public tables.
CREATE VIEW IF NOT EXISTS {public}.station_results_current AS
SELECT
    station_id,
    ballot,
    max(v)                     AS version,
    argMax(constituency_id, v) AS constituency_id,
    argMax(status, v)          AS status,
    argMax(stage, v)           AS stage,
    argMax(ballots_cast, v)    AS ballots_cast,
    argMax(invalid, v)         AS invalid,
    argMax(no_vote, v)         AS no_vote,
    argMax(vote_no, v)         AS vote_no,
    argMax(votes, v)           AS votes,
    argMax(sources, v)         AS sources,
    argMax(anomalies, v)       AS anomalies,
    argMax(counted_at, v)      AS counted_at,
    argMax(updated_at, v)      AS updated_at
FROM (
    SELECT
        station_id, ballot, version AS v, constituency_id, status, stage, ballots_cast,
        invalid, no_vote, vote_no, votes, sources, anomalies, counted_at, updated_at
    FROM {public}.station_results
)
GROUP BY station_id, ballot;

CREATE VIEW IF NOT EXISTS {public}.constituency_totals AS
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
FROM {public}.station_results_current
GROUP BY constituency_id, ballot;

CREATE VIEW IF NOT EXISTS {public}.constituency_votes AS
SELECT
    constituency_id,
    ballot,
    number,
    sum(n)  AS votes,
    count() AS stations
FROM (
    SELECT constituency_id, ballot, number, n
    FROM {public}.station_results_current
    ARRAY JOIN vote_no AS number, votes AS n
    WHERE status != 'disputed'
)
GROUP BY constituency_id, ballot, number;

CREATE VIEW IF NOT EXISTS {public}.estimate_latest AS
SELECT *
FROM {public}.estimates
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {public}.estimates
)
LIMIT 1;

CREATE VIEW IF NOT EXISTS {public}.estimate_parties_latest AS
SELECT *
FROM {public}.estimate_parties
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {public}.estimates
)
LIMIT 1 BY party_no;

CREATE VIEW IF NOT EXISTS {public}.estimate_constituencies_latest AS
SELECT *
FROM {public}.estimate_constituencies
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {public}.estimates
)
LIMIT 1 BY constituency_id;

CREATE VIEW IF NOT EXISTS {public}.log_checkpoint_latest AS
SELECT
    origin,
    argMax(n, k)    AS size,
    argMax(r, k)    AS root_hash,
    argMax(t, k)    AS note,
    argMax(c, k)    AS cosigners,
    argMax(p, k)    AS published_at
FROM (
    SELECT origin, size AS n, root_hash AS r, note AS t, cosigners AS c, published_at AS p,
        tuple(size, cosignatures, published_at) AS k
    FROM {public}.log_checkpoints
)
GROUP BY origin;
