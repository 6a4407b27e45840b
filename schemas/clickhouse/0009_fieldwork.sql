-- The volunteers around the counts: rosters (hashes only), fieldwork.v1 events (link
-- activations and reissues, claims, check-ins, reassignments), critical incidents, and the
-- coverage of every station by volunteers and organisations.

-- One row per volunteer and assigned station of an imported roster (votestream volunteers
-- import --clickhouse). No names, no phone numbers: person is the salted phone hash. An
-- organisation's newest import replaces its older ones (station_coverage reads only the
-- rows with the newest imported_at of each org).
CREATE TABLE IF NOT EXISTS {db}.roster (
    org             String,
    volunteer_id    String,
    person          String,
    role            String,
    station_id      String,
    constituency_id String,
    imported_at     DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (org, volunteer_id, station_id, imported_at);

-- fieldwork.v1 (schemas.FieldEvent). A claim has a 'requested' row and then an 'accepted'
-- or 'refused' one with the same event_id.
CREATE TABLE IF NOT EXISTS {db}.field_events (
    event_id        String,
    kind            String,
    volunteer_id    String,
    org             String,
    token_id        String,
    station_id      String,
    constituency_id String,
    device_key      String,
    issued_at       DateTime('Asia/Bangkok'),
    status          String,
    by              String,
    at              DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (kind, event_id, status);

-- incidents.v1 (schemas.Incident), apart from the counts.
CREATE TABLE IF NOT EXISTS {db}.incidents (
    incident_id     String,
    station_id      String,
    constituency_id String,
    category        String,
    occurred_at     DateTime('Asia/Bangkok'),
    text            String,
    evidence        Array(String),
    volunteer_id    String,
    org             String,
    role            String,
    received_at     DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree
ORDER BY (station_id, incident_id);

-- Per station: how many volunteers cover it and from how many organisations, counting the
-- newest roster of each organisation, claims whose last word is 'accepted' (not withdrawn),
-- and reassignments. A station nobody covers has 0 and 0.
CREATE VIEW IF NOT EXISTS {db}.station_coverage AS
SELECT station_id, constituency_id, volunteers, orgs
FROM (SELECT station_id, constituency_id FROM {db}.stations FINAL) AS s
ANY LEFT JOIN (
    SELECT station_id, uniqExact(volunteer_id) AS volunteers, uniqExact(org) AS orgs
    FROM (
        SELECT station_id, volunteer_id, org FROM {db}.roster
        WHERE role = 'station' AND (org, imported_at) IN (SELECT org, max(imported_at) FROM {db}.roster GROUP BY org)
        UNION ALL
        SELECT station_id, volunteer_id, any(org) AS org FROM {db}.field_events
        WHERE kind IN ('claim', 'unclaim')
        GROUP BY station_id, volunteer_id
        HAVING argMax(concat(kind, '/', status), tuple(at, status != 'requested')) = 'claim/accepted'
        UNION ALL
        SELECT station_id, volunteer_id, org FROM {db}.field_events WHERE kind = 'assign'
    )
    GROUP BY station_id
) AS c USING station_id;
