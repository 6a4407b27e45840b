-- Anomalies (schemas.Anomaly). anomaly_id is deterministic, so a re-delivered or re-raised
-- flag has the same key and folds away. evidence is two parallel arrays of names and values.

CREATE TABLE IF NOT EXISTS {db}.anomalies (
    anomaly_id      String,
    code            String,
    severity        String,
    station_id      String,
    constituency_id String,
    ballot          String,
    volunteer_id    String,
    submission_ids  Array(String),
    message         String,
    evidence_keys   Array(String),
    evidence_values Array(String),
    detected_at     DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, anomaly_id);
