-- The newsrooms' copies (docs/sql.md, "Adding a public table") of the desk's calls and the
-- seat simulation. Of calls.v1 only approvals and retractions: a recommendation or a hold
-- is the war room's, not a call. Who made a call stays (newsrooms cite it); the desk
-- member's organisation and role, and the `decided` flag, do not.

CREATE TABLE IF NOT EXISTS {public}.calls (
    call_id           String,
    race              String,
    action            String,
    state             String,
    leader_no         UInt16,
    party_no          UInt16,
    by                String,
    at                DateTime('Asia/Bangkok'),
    at_ms             UInt64,
    reason            String,
    estimate_id       String,
    data_time         DateTime('Asia/Bangkok'),
    recommendation    String,
    win_probability   Nullable(Float64),
    margin_votes      Int64,
    stations_reported UInt32,
    stations_total    UInt32,
    seats_lo          Nullable(UInt16),
    seats_hi          Nullable(UInt16)
) ENGINE = ReplacingMergeTree
ORDER BY (race, call_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_calls_mv TO {public}.calls AS
SELECT call_id, race, action, state, leader_no, party_no, by, at, at_ms, reason, estimate_id, data_time, recommendation, win_probability, margin_votes, stations_reported, stations_total, seats_lo, seats_hi FROM {db}.calls WHERE action IN ('approve', 'retract');

INSERT INTO {public}.calls SELECT call_id, race, action, state, leader_no, party_no, by, at, at_ms, reason, estimate_id, data_time, recommendation, win_probability, margin_votes, stations_reported, stations_total, seats_lo, seats_hi FROM {db}.calls WHERE action IN ('approve', 'retract');

-- The standing call of each race: its latest approval, when no retraction came after it.
CREATE VIEW IF NOT EXISTS {public}.calls_standing AS
SELECT
    race,
    argMax(state, at_ms)       AS state,
    argMax(leader_no, at_ms)   AS leader_no,
    argMax(party_no, at_ms)    AS party_no,
    argMax(by, at_ms)          AS by,
    argMax(at, at_ms)          AS at,
    argMax(reason, at_ms)      AS reason,
    argMax(call_id, at_ms)     AS call_id,
    argMax(estimate_id, at_ms) AS estimate_id
FROM {public}.calls
GROUP BY race
HAVING argMax(action, at_ms) = 'approve';

CREATE TABLE IF NOT EXISTS {public}.estimate_seats (
    estimate_id         String,
    data_time           DateTime('Asia/Bangkok'),
    seats_state         String,
    seat_draws          UInt32,
    party_no            UInt16,
    constituency_seats  UInt16,
    list_seats          UInt16,
    total               UInt16,
    total_lo90          UInt16,
    total_hi90          UInt16,
    total_lo95          UInt16,
    total_hi95          UInt16,
    largest_probability Float64
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id, party_no);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimate_seats_mv TO {public}.estimate_seats AS
SELECT estimate_id, data_time, seats_state, seat_draws, party_no, constituency_seats, list_seats, total, total_lo90, total_hi90, total_lo95, total_hi95, largest_probability FROM {db}.estimate_seats;

INSERT INTO {public}.estimate_seats SELECT estimate_id, data_time, seats_state, seat_draws, party_no, constituency_seats, list_seats, total, total_lo90, total_hi90, total_lo95, total_hi95, largest_probability FROM {db}.estimate_seats;

CREATE TABLE IF NOT EXISTS {public}.estimate_races (
    estimate_id     String,
    data_time       DateTime('Asia/Bangkok'),
    constituency_id String,
    candidate_no    Array(UInt16),
    win_probability Array(Float64),
    swing           Array(Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id, constituency_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.public_estimate_races_mv TO {public}.estimate_races AS
SELECT estimate_id, data_time, constituency_id, candidate_no, win_probability, swing FROM {db}.estimate_races;

INSERT INTO {public}.estimate_races SELECT estimate_id, data_time, constituency_id, candidate_no, win_probability, swing FROM {db}.estimate_races;

CREATE VIEW IF NOT EXISTS {public}.estimate_seats_latest AS
SELECT *
FROM {public}.estimate_seats
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {public}.estimates
)
LIMIT 1 BY party_no;
