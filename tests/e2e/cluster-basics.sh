#!/bin/sh
# Cluster mode, the basics, with a real PostgreSQL that asks for a password
# (read from password_file) and HAProxy in front of three replicas: three
# replicas started at once on an empty database all come up (the schema is
# created once); a delivery id seen by one replica is a duplicate at
# another; /status names the cluster and who holds the workspace;
# check-config shows the cluster settings without the password; the
# metrics pass promtool and carry the cluster series; a failing job is
# counted for the cluster-wide backoff without a database error.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
PG_PASSWORD=pgpw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
plan 30

# Three replicas at once on an empty database.
cluster_setup 0 ""
replica_spawn 1
replica_spawn 2
replica_spawn 3
if replicas_ready 1 2 3; then
    pass "three replicas started at once on an empty database all become ready"
else
    fail "three replicas started at once on an empty database all become ready" \
        "/readyz: r1 $(replica_code 1 /readyz), r2 $(replica_code 2 /readyz), r3 $(replica_code 3 /readyz)" \
        "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 10)"
fi
is "the schema is recorded once, each version in one row" \
    "$(pg_sql 'select count(*) = count(distinct version) and count(*) > 0 from gitsyncd_schema' 2>&1)" t
is "the tables of the contract exist" \
    "$(pg_sql "select string_agg(tablename, ' ' order by tablename) from pg_tables where tablename in ('gitsyncd_events', 'gitsyncd_deliveries', 'gitsyncd_workspaces')" 2>&1)" \
    "gitsyncd_deliveries gitsyncd_events gitsyncd_workspaces"
unlike "no replica logged an error while creating the schema" \
    "$(cluster_logs | grep 'level=error')" '.'
# The server asks role gitsyncd for its password (scram-sha-256): sessions
# of that role mean the replicas read it from password_file.
is "the replicas are connected with the password from password_file" \
    "$(pg_sql "select count(*) >= 3 from pg_stat_activity where usename = 'gitsyncd'")" t

all_up() { [ "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)" = "UP UP UP" ]; }
if wait_for 60 all_up; then pass "HAProxy sees the three replicas ready"; else
    fail "HAProxy sees the three replicas ready" "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)"; fi

# Through HAProxy, both ways.
plat_post models '{"slug":"first","name":"First","sourceId":1,"queryType":"raw_sql"}' \
    'Ada Lovelace <ada@example.com>' >/dev/null
has() { git --git-dir="$T/remote.git" cat-file -e "main:models/$1.yaml" 2>/dev/null; }
if wait_for 60 has first; then pass "a platform change reaches Git through the cluster"; else
    fail "a platform change reaches Git through the cluster" "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 10)"; fi
clone_pull
mkdir -p "$T/clone/models"
printf 'slug: pushed\nname: Pushed\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/pushed.yaml"
clone_push "add pushed" || bail "push failed: $(cat "$T/push.err")"
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
if wait_for 60 has_id models pushed; then pass "a push reaches the platform through the cluster"; else
    fail "a push reaches the platform through the cluster" "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 10)"; fi
is "the post-receive hook got a 2xx from HAProxy" "$(cat "$T/push.err")" ""

# One delivery id at two replicas: queued once, then a duplicate.
fid=$(plat_id models first)
body="{\"type\":\"model.updated\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"data\":{\"seq\":900001,\"kind\":\"model\",\"id\":$fid,\"slug\":\"first\",\"action\":\"updated\",\"actor\":{\"name\":\"Ada\",\"email\":\"ada@example.com\"}}}"
did=msg_dup_$$
c1=$(platform_event "$(replica_url 1)/hooks/w/platform" "$did" "$body"); b1=$(cat "$T/event.out")
c2=$(platform_event "$(replica_url 2)/hooks/w/platform" "$did" "$body"); b2=$(cat "$T/event.out")
is "a platform event at r1 is queued (202)" "$c1" 202
like "its answer says queued" "$b1" '"status": *"queued"'
is "the same webhook-id at r2 is a duplicate (200)" "$c2" 200
like "its answer says duplicate" "$b2" '"status": *"duplicate"'
head=$(git --git-dir="$T/remote.git" rev-parse main)
gbody="{\"ref\":\"refs/heads/main\",\"before\":\"$head\",\"after\":\"$head\",\"created\":false,\"deleted\":false,\"forced\":false,\"repository\":{\"name\":\"remote\",\"full_name\":\"remote\",\"clone_url\":\"file://$T/remote.git\",\"url\":\"file://$T/remote.git\"},\"pusher\":{\"name\":\"Grace\",\"email\":\"grace@example.com\"},\"commits\":[],\"head_commit\":{\"id\":\"$head\"}}"
gid=$(cat /proc/sys/kernel/random/uuid)
c1=$(git_event "$(replica_url 2)/hooks/w/git" "$gid" "$gbody")
c2=$(git_event "$(replica_url 3)/hooks/w/git" "$gid" "$gbody"); b2=$(cat "$T/event.out")
is "a push event at r2 is queued, the same X-GitHub-Delivery at r3 a duplicate" "$c1 $c2" "202 200"
like "r3's answer says duplicate" "$b2" '"status": *"duplicate"'

# /status: the cluster block, and a holder of the workspace.
curl -s "$(replica_url 1)/status" > "$T/status.json"
is "/status has the cluster block: replica, database, holders and queue of w" \
    "$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cluster"]; print(c["replica"], c["database"], "w" in c["holders"], "w" in c["events_pending"])' "$T/status.json" 2>&1)" \
    "r1 ok True True"
# Make work, and look at each replica's /status for who holds w.
holder_seen() {
    for _n in 1 2 3; do
        _h=$(curl -s "$(replica_url "$_n")/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["cluster"]["holders"].get("w") or "", s["workspaces"]["w"].get("holder") or "")' 2>/dev/null)
        case $_h in r[123]*) echo "$_h" > "$T/holder"; return 0 ;; esac
    done
    plat -X PATCH -H "X-Actor: Ada <ada@example.com>" --data "{\"name\":\"First $(date +%s%N)\"}" \
        "$PURL/api/v1/models/$fid" >/dev/null
    return 1
}
if wait_for 60 holder_seen; then pass "/status names the replica holding w"; else
    fail "/status names the replica holding w" "$(cat "$T/status.json")"; fi

# check-config: the cluster block, the password nowhere.
"$GITSYNCD" check-config -c "$T/r1.yaml" > "$T/check.out" 2>&1; rc=$?
out=$(cat "$T/check.out")
is "check-config accepts a cluster configuration" "$rc" 0
like "check-config shows the cluster block (database, role, where the password comes from, replica)" \
    "$(printf '%s' "$out" | tr '\n' ' ')" "cluster +database postgres://127\.0\.0\.1:$PGPORT/gitsyncd, role gitsyncd, password <redacted> \(cluster\.password or password_file\) +cluster replica r1, sweep 1000ms"
sed "s|postgres://gitsyncd@|postgres://gitsyncd:$PG_PASSWORD@|; /password_file:/d" "$T/r1.yaml" > "$T/inline.yaml"
out=$("$GITSYNCD" check-config -c "$T/inline.yaml" 2>&1)
like "a password inside database: check-config says so, redacted" "$out" "database postgres://127\.0\.0\.1:$PGPORT/gitsyncd, role gitsyncd, password <redacted> \(in the database conninfo\)"
unlike "check-config never prints the password" "$(cat "$T/check.out"; printf '%s' "$out")" "$PG_PASSWORD"

# Metrics: valid for Prometheus, with the cluster series.
curl -s "$(replica_url 2)/metrics" > "$T/metrics2"
curl -s "$(replica_url 3)/metrics" > "$T/metrics3"
if command -v promtool >/dev/null 2>&1; then
    out=$(promtool check metrics < "$T/metrics2" 2>&1); rc=$?
    is "promtool check metrics accepts a replica's metrics" "$rc:$out" "0:"
else
    skip "promtool check metrics accepts a replica's metrics" "promtool not installed (Debian prometheus)"
fi
missing=""
for m in gitsyncd_cluster_intake_total gitsyncd_cluster_intake_seconds gitsyncd_cluster_lock_total \
    gitsyncd_cluster_db_errors_total gitsyncd_cluster_database_up gitsyncd_cluster_events_pending; do
    grep -q "^# TYPE $m " "$T/metrics2" || missing="$missing $m"
done
is "every cluster metric of the contract is exported" "$missing" ""
ok "r2 counts a committed intake and is up" sh -c \
    "grep -Eq '^gitsyncd_cluster_intake_total\{result=\"committed\"\} [1-9]' '$T/metrics2' && grep -Eq '^gitsyncd_cluster_database_up 1\$' '$T/metrics2'"
ok "r3 counts the duplicate" grep -Eq '^gitsyncd_cluster_intake_total\{result="duplicate"\} [1-9]' "$T/metrics3"
unlike "neither /status nor /metrics holds a secret" \
    "$(cat "$T/status.json" "$T/metrics2" "$T/metrics3")" "$PG_PASSWORD|$PTOKEN|$GSECRET"

# A job that fails (the remote is away): reported as a failed sync and
# counted in the database for the cluster-wide backoff, without a database
# error; once the remote is back the change arrives.
mv "$T/remote.git" "$T/remote.away"
plat_post models '{"slug":"while-away","name":"W","sourceId":1,"queryType":"raw_sql"}' >/dev/null
failed() { cluster_logs | grep -q 'msg="sync failed"'; }
if wait_for 60 failed; then pass "a job that fails is logged as a failed sync"; else
    fail "a job that fails is logged as a failed sync" "$(cluster_logs | tail -n 5)"; fi
counted() { [ "$(pg_sql "select failures > 0 from gitsyncd_workspaces where name = 'w'")" = t ]; }
if wait_for 30 counted; then pass "the failure is counted in gitsyncd_workspaces (cluster-wide backoff)"; else
    fail "the failure is counted in gitsyncd_workspaces (cluster-wide backoff)" \
        "$(pg_sql "select failures, not_before from gitsyncd_workspaces where name = 'w'" 2>&1)"; fi
unlike "a failed job causes no database statement error" \
    "$(cluster_logs | grep 'cluster database statement failed' | head -n 3)" '.'
mv "$T/remote.away" "$T/remote.git"
if wait_for 120 has while-away; then pass "once the remote is back, the change arrives"; else
    fail "once the remote is back, the change arrives" "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"; fi
done_testing
