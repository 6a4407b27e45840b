-- What of an estimate run is published (issue 10), one row per run beside estimates:
-- shares_state is too_early while the reports cannot support shares (then every share,
-- interval, projected vote and seat of the run is 0), estimate, or count once every station
-- is in; priority_used is 1 when the priority sample entered the shares.

CREATE TABLE IF NOT EXISTS {db}.estimate_states (
    estimate_id   String,
    data_time     DateTime('Asia/Bangkok'),
    shares_state  String,
    priority_used UInt8
) ENGINE = ReplacingMergeTree
ORDER BY (data_time, estimate_id);
