-- Reference data (DESIGN.md §4, the CSV files of a country), loaded at start.
-- ReplacingMergeTree(loaded_at): loading the same files again replaces rows by key instead
-- of adding them; the newest load wins. Read with FINAL (or argMax by loaded_at) when a
-- re-load may not be merged yet.
-- Every statement ends with ';' at the end of a line and is idempotent (IF NOT EXISTS).
-- {db} stands for the target database, quoted by the runner.

CREATE TABLE IF NOT EXISTS {db}.provinces (
    province_id String,
    name_th     String,
    name_en     String,
    region      String,
    loaded_at   DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY province_id;

CREATE TABLE IF NOT EXISTS {db}.constituencies (
    constituency_id String,
    province_id     String,
    number          UInt16,
    eligible_voters UInt32,
    stations        UInt32,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY constituency_id;

CREATE TABLE IF NOT EXISTS {db}.stations (
    station_id      String,
    constituency_id String,
    subdistrict     String,
    number          UInt32,
    eligible_voters UInt32,
    priority        UInt8,
    urban           UInt8,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY station_id;

CREATE TABLE IF NOT EXISTS {db}.parties (
    party_no  UInt16,
    name_th   String,
    name_en   String,
    loaded_at DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY party_no;

CREATE TABLE IF NOT EXISTS {db}.candidates (
    constituency_id String,
    candidate_no    UInt16,
    name            String,
    party_no        UInt16,
    loaded_at       DateTime('Asia/Bangkok')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (constituency_id, candidate_no);
