-- Reviews (schemas.Review) and official figures (schemas.Official) as district leads and
-- the war room entered them. A review either accepts a submission (accept_submission_id,
-- figures NULL) or enters figures (accept_submission_id ''). Re-deliveries fold away by key.

CREATE TABLE IF NOT EXISTS {db}.reviews (
    review_id            String,
    station_id           String,
    ballot               String,
    accept_submission_id String,
    ballots_cast         Nullable(UInt32),
    invalid              Nullable(UInt32),
    no_vote              Nullable(UInt32),
    vote_no              Array(UInt16),
    votes                Array(UInt32),
    reason               String,
    reviewer_id          String,
    role                 String,
    received_at          DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, ballot, review_id);

CREATE TABLE IF NOT EXISTS {db}.official_figures (
    official_id  String,
    station_id   String,
    ballot       String,
    ballots_cast UInt32,
    invalid      UInt32,
    no_vote      UInt32,
    vote_no      Array(UInt16),
    votes        Array(UInt32),
    entered_by   String,
    role         String,
    received_at  DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, ballot, official_id);

-- The newest official figure per station and ballot (ties on received_at broken by
-- official_id, so every replica and every run picks the same one).
CREATE VIEW IF NOT EXISTS {db}.official_current AS
SELECT
    station_id,
    ballot,
    argMax(official_id, k)  AS official_id,
    argMax(ballots_cast, k) AS ballots_cast,
    argMax(invalid, k)      AS invalid,
    argMax(no_vote, k)      AS no_vote,
    argMax(vote_no, k)      AS vote_no,
    argMax(votes, k)        AS votes,
    argMax(entered_by, k)   AS entered_by,
    argMax(t, k)            AS received_at
FROM (
    SELECT station_id, ballot, official_id, ballots_cast, invalid, no_vote, vote_no, votes,
        entered_by, received_at AS t, tuple(received_at, official_id) AS k
    FROM {db}.official_figures
)
GROUP BY station_id, ballot;
