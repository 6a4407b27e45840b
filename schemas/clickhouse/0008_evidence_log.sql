-- The transparency log's records (evidencelog): the photos ingest holds (evidence.v1) and
-- the log's signed checkpoints (checkpoints.v1). A checkpoint is published again each time a
-- witness cosigns it; the row with the most cosignatures of a size wins at merge time.

CREATE TABLE IF NOT EXISTS {db}.evidence (
    evidence     String,
    bytes        UInt64,
    volunteer_id String,
    received_at  DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (evidence, received_at, volunteer_id);

CREATE TABLE IF NOT EXISTS {db}.log_checkpoints (
    origin       String,
    size         UInt64,
    root_hash    String,
    note         String,
    cosigners    Array(String),
    cosignatures UInt16,
    published_at DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(cosignatures)
ORDER BY (origin, size);

-- The newest checkpoint of each log, with the most cosignatures gathered for it: what a
-- newsroom cites.
CREATE VIEW IF NOT EXISTS {db}.log_checkpoint_latest AS
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
    FROM {db}.log_checkpoints
)
GROUP BY origin;
