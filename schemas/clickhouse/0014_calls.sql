-- calls.v1 (schemas.Call): the call log. One row per recommendation of the estimator and
-- per decision of the decision desk (approve, hold, release, retract), with who, when,
-- why and the evidence the desk saw. Newsrooms' SQL users read calls_standing: the calls
-- approved and not retracted. The call column of estimate_constituencies is the
-- estimator's recommendation, not a call.
CREATE TABLE IF NOT EXISTS {db}.calls (
    call_id           String,
    race              String,
    action            String,
    state             String,
    leader_no         UInt16,
    party_no          UInt16,
    by                String,
    org               String,
    role              String,
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
    decided           UInt8,
    seats_lo          Nullable(UInt16),
    seats_hi          Nullable(UInt16)
) ENGINE = ReplacingMergeTree
ORDER BY (race, call_id);

-- The standing call of each race: its latest approval, when no retraction came after it.
CREATE VIEW IF NOT EXISTS {db}.calls_standing AS
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
FROM {db}.calls
WHERE action IN ('approve', 'retract')
GROUP BY race
HAVING argMax(action, at_ms) = 'approve';
