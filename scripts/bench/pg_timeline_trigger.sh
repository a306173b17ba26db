#!/usr/bin/env bash
# The cost of the timeline trigger (schema version 3) per commit that moves a collection's seq:
# pgbench on a throw-away PostgreSQL 15 cluster, one client, the same UPDATE with and without a
# trigger of the same body as PostgresSchema's quiver_note_timeline, alternated twice.
# Usage: scripts/bench/pg_timeline_trigger.sh [SECONDS per run, default 10]   (as root)
set -euo pipefail
seconds=${1:-10}
bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/quiver-trigger-XXXX)
chown postgres "$dir"
trap 'runuser -u postgres -- "$bin/pg_ctl" -D "$dir/db" stop -m fast >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
runuser -u postgres -- "$bin/initdb" -D "$dir/db" -A trust >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/db" -o "-p 5499 -k $dir -c listen_addresses=''" -l "$dir/log" start >/dev/null
sql() { runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -h "$dir" -p 5499 postgres "$@"; }
sql -c "CREATE TABLE c (id int PRIMARY KEY, seq bigint NOT NULL, timeline bigint NOT NULL DEFAULT 0)" \
    -c "INSERT INTO c VALUES (1, 0)" \
    -c "CREATE TABLE t (id int, timeline bigint, base_seq bigint, PRIMARY KEY (id, timeline))"
sql <<'SQL'
CREATE FUNCTION note_timeline() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE current_timeline bigint;
BEGIN
    IF NEW.seq IS DISTINCT FROM OLD.seq THEN
        current_timeline := ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
        IF current_timeline <> OLD.timeline THEN
            NEW.timeline := current_timeline;
            INSERT INTO t VALUES (OLD.id, current_timeline, OLD.seq) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NEW;
END $fn$;
SQL
echo "UPDATE c SET seq = seq + 1 WHERE id = 1;" > "$dir/update.sql"
chown postgres "$dir/update.sql"
run() {
    printf '%-16s' "$1"
    runuser -u postgres -- "$bin/pgbench" -n -h "$dir" -p 5499 -c 1 -T "$seconds" -f "$dir/update.sql" postgres 2>&1 \
        | grep -E "latency average|^tps" | tr '\n' ' '
    echo
}
for round in 1 2; do
    run "without trigger"
    sql -c "CREATE TRIGGER tr BEFORE UPDATE OF seq ON c FOR EACH ROW EXECUTE FUNCTION note_timeline()"
    run "with trigger"
    sql -c "DROP TRIGGER tr ON c"
done
