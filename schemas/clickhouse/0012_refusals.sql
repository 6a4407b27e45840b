-- refusals.v1 (schemas.Refusal): a sample of the requests ingest refused, per source at
-- most a few a minute (suppressed counts the ones left out). The war room reads them all,
-- a district lead those of their constituency (the console's /v1/refusals).
CREATE TABLE IF NOT EXISTS {db}.refusals (
    refusal_id      String,
    at              DateTime('Asia/Bangkok'),
    endpoint        String,
    code            String,
    status          UInt16,
    message         String,
    field           String,
    station_id      String,
    constituency_id String,
    submission_id   String,
    volunteer_id    String,
    org             String,
    role            String,
    suppressed      UInt32
) ENGINE = ReplacingMergeTree
ORDER BY (constituency_id, at, refusal_id);
