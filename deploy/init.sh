#!/bin/sh
# votestream-init: fills the state folder the roles read, once per start of the deployment,
# and changes nothing that is already right (it may run any number of times).
#
#   VOTESTREAM_HOME        state folder                  (default /var/lib/votestream)
#   VOTESTREAM_IMPORT      what the operators provide    (default /import):
#                            ref/       the night's reference CSVs (provinces, constituencies,
#                                       stations, parties, candidates), copied on every start
#                            rosters/   organisations' roster CSVs: tokens into HOME/tokens.csv
#                            staff.csv  the review console's people (id,role,constituency,name;
#                                       role district_lead, war_room or desk): enrolled once
#   VOTESTREAM_EVIDENCE    evidence folder to hand to the roles' user (default
#                          /var/lib/votestream-evidence; skipped when absent)
#   VOTESTREAM_LOG_DIR     the transparency log's folder to hand to the roles' user
#                          (default /var/lib/votestream-log; skipped when absent)
#   VOTESTREAM_LOG_ORIGIN  the log's name (e.g. log.example.org/log): its signing key
#                          HOME/log.key is made once with it (public key in log.key.pub)
#   VOTESTREAM_NEWSROOMS   newsrooms to give an API key, comma-separated (keys appended to
#                          HOME/newsroom-keys; a newsroom that has one gets no second)
#   VOTESTREAM_DEMO_COUNTRY  1: without ref/, generate a synthetic country (a rehearsal)
#   VOTESTREAM_RUN_AS      uid:gid that must own the state (default 65532:65532, the roles'
#                          distroless user; empty: leave ownership alone)
#   VOTESTREAM_BIN         the votestream binary (default: votestream on PATH)
set -eu

HOME_DIR=${VOTESTREAM_HOME:-/var/lib/votestream}
IMPORT=${VOTESTREAM_IMPORT:-/import}
EVIDENCE=${VOTESTREAM_EVIDENCE:-/var/lib/votestream-evidence}
LOG_DIR=${VOTESTREAM_LOG_DIR:-/var/lib/votestream-log}
RUN_AS=${VOTESTREAM_RUN_AS-65532:65532}
VS=${VOTESTREAM_BIN:-votestream}

log() { echo "init: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$HOME_DIR"

# Reference data: the operators' copy wins, replaced whole so a role never reads a mix.
if [ -f "$IMPORT/ref/stations.csv" ]; then
  rm -rf "$HOME_DIR/ref.new"
  cp -R "$IMPORT/ref" "$HOME_DIR/ref.new"
  rm -rf "$HOME_DIR/ref.old"
  [ -d "$HOME_DIR/ref" ] && mv "$HOME_DIR/ref" "$HOME_DIR/ref.old"
  mv "$HOME_DIR/ref.new" "$HOME_DIR/ref"
  rm -rf "$HOME_DIR/ref.old"
  log "reference data copied from $IMPORT/ref ($(($(wc -l <"$HOME_DIR/ref/stations.csv") - 1)) stations)"
elif [ -f "$HOME_DIR/ref/stations.csv" ]; then
  log "no $IMPORT/ref: keeping the reference data already in $HOME_DIR/ref"
elif [ "${VOTESTREAM_DEMO_COUNTRY:-0}" = 1 ]; then
  log "no reference data: VOTESTREAM_DEMO_COUNTRY=1, generating a SYNTHETIC country (a rehearsal, not an election)"
  "$VS" simulate country --seed 1 --scale 0.1 --out "$HOME_DIR/ref"
else
  die "no reference data: put the night's provinces.csv, constituencies.csv, stations.csv, parties.csv and candidates.csv in deploy/import/ref/ (or set VOTESTREAM_DEMO_COUNTRY=1 for a rehearsal)"
fi

# The volunteers' token signing key: made once, kept (rotating it is `volunteers keygen`).
if [ ! -s "$HOME_DIR/keys" ]; then
  "$VS" volunteers keygen --keys "$HOME_DIR/keys"
  log "made the token signing key $HOME_DIR/keys"
fi
# The staff key (district leads', the war room's, the desk's tokens): separate, so the
# volunteers' key signs no privileged token. Made once, kept (rotating: `staff keygen`).
if [ ! -s "$HOME_DIR/staff-keys" ]; then
  "$VS" staff keygen --staff-keys "$HOME_DIR/staff-keys"
  log "made the staff token signing key $HOME_DIR/staff-keys"
fi
# The console key: the review console signs every decision it forwards with it, and ingest
# takes a lead's or the war room's decision only so signed (the second factor and the second
# approver are checked in the console). Give the console the same file (--console-keys).
if [ ! -s "$HOME_DIR/console-keys" ]; then
  "$VS" staff keygen --console-keys "$HOME_DIR/console-keys"
  log "made the console key $HOME_DIR/console-keys (give the review console the same file)"
fi
[ -f "$HOME_DIR/revocations" ] || : >"$HOME_DIR/revocations"

# The transparency log's signing key: made once, kept (rotating it is evidencelog keygen).
if [ ! -s "$HOME_DIR/log.key" ]; then
  [ -n "${VOTESTREAM_LOG_ORIGIN:-}" ] || die "VOTESTREAM_LOG_ORIGIN is empty: set VOTESTREAM_LOG_HOST in .env"
  "$VS" evidencelog keygen --key "$HOME_DIR/log.key" --origin "$VOTESTREAM_LOG_ORIGIN" >/dev/null
  log "made the transparency log's signing key $HOME_DIR/log.key (public key in log.key.pub, origin $VOTESTREAM_LOG_ORIGIN)"
fi

# Tokens for the rosters provided, every start (same salt, so one person is one person).
if ls "$IMPORT"/rosters/*.csv >/dev/null 2>&1; then
  rosters=$(ls "$IMPORT"/rosters/*.csv | tr '\n' ',' | sed 's/,$//')
  "$VS" volunteers import --roster "$rosters" --keys "$HOME_DIR/keys" --staff-keys "$HOME_DIR/staff-keys" --salt "$HOME_DIR/phone-salt" \
    --ref "$HOME_DIR/ref" --out "$HOME_DIR/tokens.csv"
fi

# The review console's sign-ins: each person of staff.csv (id,role,constituency,name) not yet
# enrolled gets a staff token and an authenticator secret, written to HOME/staff-logins/ID.txt
# and ID.png (the QR code), mode 0600, for an operator to hand over in person. Someone already
# enrolled keeps their secret (re-enrolling is `votestream staff add` by hand).
if [ -f "$IMPORT/staff.csv" ]; then
  mkdir -p "$HOME_DIR/staff-logins"
  chmod 700 "$HOME_DIR/staff-logins"
  tr -d '\r' <"$IMPORT/staff.csv" | while IFS=, read -r id role cons name; do
    [ -n "$id" ] && [ "$id" != id ] || continue
    if "$VS" staff code "$id" --staff "$HOME_DIR/staff.json" >/dev/null 2>&1; then
      continue
    fi
    out="$HOME_DIR/staff-logins/$id.txt"
    (umask 077; "$VS" staff add "$id" --role "$role" --constituency "$cons" --name "$name" \
      --staff "$HOME_DIR/staff.json" --staff-keys "$HOME_DIR/staff-keys" \
      --qr "$HOME_DIR/staff-logins/$id.png" >"$out") || die "staff.csv: cannot enrol $id as $role"
    log "enrolled $id ($role $cons) for the review console: give them $out and its QR code in person"
  done
fi

# Newsroom API keys: one per newsroom named, never a second.
touch "$HOME_DIR/newsroom-keys"
chmod 600 "$HOME_DIR/newsroom-keys"
echo "${VOTESTREAM_NEWSROOMS:-}" | tr ',' '\n' | while IFS= read -r name; do
  name=$(echo "$name" | sed 's/^ *//; s/ *$//')
  [ -n "$name" ] || continue
  if awk -v n="$name" '{ k=$1; $1=""; sub(/^ /, ""); if ($0 == n) found=1 } END { exit !found }' "$HOME_DIR/newsroom-keys"; then
    continue
  fi
  "$VS" feed keygen --keys "$HOME_DIR/newsroom-keys" --newsroom "$name" >/dev/null
  log "made an API key for newsroom \"$name\" (in $HOME_DIR/newsroom-keys)"
done

if [ -n "$RUN_AS" ] && [ "$(id -u)" = 0 ]; then
  chown -R "$RUN_AS" "$HOME_DIR"
  [ -d "$EVIDENCE" ] && chown "$RUN_AS" "$EVIDENCE"
  [ -d "$LOG_DIR" ] && chown -R "$RUN_AS" "$LOG_DIR"
fi
log "ready: $HOME_DIR"
