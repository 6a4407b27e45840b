-- Seats with their uncertainty (issue 10): beside each estimate run, one row per party in
-- estimate_seats (seats_state follows shares_state; while it is too_early every figure is 0)
-- and, once seats are published, one row per constituency in estimate_races with each
-- candidate's share of the simulated nights won and the swing against the baseline election
-- (nan where there is no baseline or it lacks the party), as parallel arrays in the
-- estimate's candidate order.

CREATE TABLE IF NOT EXISTS {db}.estimate_seats (
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

CREATE TABLE IF NOT EXISTS {db}.estimate_races (
    estimate_id     String,
    data_time       DateTime('Asia/Bangkok'),
    constituency_id String,
    candidate_no    Array(UInt16),
    win_probability Array(Float64),
    swing           Array(Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id, constituency_id);

CREATE VIEW IF NOT EXISTS {db}.estimate_seats_latest AS
SELECT *
FROM {db}.estimate_seats
WHERE estimate_id = (
    SELECT argMax(estimate_id, tuple(data_time, computed_at)) FROM {db}.estimates
)
LIMIT 1 BY party_no;
