-- Raw reports: one row per submissions.v1 record (schemas.Report), for audit and the
-- volunteer dashboards. The sink delivers at least once: a re-delivered record has the same
-- submission_id (and station and ballot), so ReplacingMergeTree folds it away at merge time.
-- Until then count with uniqExact(submission_id) or read with FINAL.
-- votes is two parallel arrays sorted by number: vote_no[i] got votes[i].

CREATE TABLE IF NOT EXISTS {db}.submissions (
    submission_id String,
    station_id    String,
    ballot        String,
    stage         String,
    counted_at    DateTime('Asia/Bangkok'),
    ballots_cast  UInt32,
    invalid       UInt32,
    no_vote       UInt32,
    vote_no       Array(UInt16),
    votes         Array(UInt32),
    evidence      Array(String),
    volunteer_id  String,
    org           String,
    role          String,
    received_at   DateTime('Asia/Bangkok'),
    hash          String
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, ballot, submission_id);
