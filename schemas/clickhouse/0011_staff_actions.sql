-- The console's audit of privileged actions (console/audit.go): every sign-in, sign-out,
-- refusal, decision, official upload and every step of a two-person override, with who,
-- from where and when. An override's rows carry both names: requested_by on every row,
-- approved_by on the approval and on the row of it taking effect. Written by the console
-- itself, one row per action; never updated.
CREATE TABLE IF NOT EXISTS {db}.staff_actions (
    action_id       String,
    at              DateTime('Asia/Bangkok'),
    actor_id        String,
    actor_name      String,
    actor_role      String,
    actor_org       String,
    token_id        String,
    remote_addr     String,
    action          String,
    what            String,
    station_id      String,
    ballot          String,
    override_id     String,
    override_kind   String,
    requested_by    String,
    approved_by     String,
    outcome         String,
    detail          String
) ENGINE = MergeTree
ORDER BY (at, action_id);
