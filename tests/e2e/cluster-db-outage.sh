#!/bin/sh
# Cluster mode with PostgreSQL stopped for 10 s mid-run: webhooks get 503
# with Retry-After (nothing is acknowledged that is not committed), /readyz
# is 503 so HAProxy takes the replicas out; once the server is back the
# replicas reconnect, and the platform changes and the push made during
# the outage reach the other side (the demo platform retries its
# deliveries; the push, whose hook got 503, is found by the periodic full
# reconcile), each exactly once.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
plan 20

cluster_setup 5s
all_ready() { replica_ready 1 && replica_ready 2 && replica_ready 3; }
replicas_ready 1 2 3 || bail "the replicas did not become ready: $(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"
plat_post models '{"slug":"before","name":"Before","sourceId":1,"queryType":"raw_sql"}' >/dev/null
has() { git --git-dir="$T/remote.git" cat-file -e "main:models/$1.yaml" 2>/dev/null; }
wait_for 60 has before || bail "the first platform change never reached Git: $(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"
bid=$(plat_id models before)

pg_stop fast
t0=$(date +%s)
diag "PostgreSQL stopped"
none_ready() {
    [ "$(replica_code 1 /readyz) $(replica_code 2 /readyz) $(replica_code 3 /readyz)" = "503 503 503" ]
}
if wait_for 30 none_ready; then pass "/readyz is 503 on the three replicas"; else
    fail "/readyz is 503 on the three replicas" "$(replica_code 1 /readyz) $(replica_code 2 /readyz) $(replica_code 3 /readyz)"; fi
body="{\"type\":\"model.updated\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"data\":{\"seq\":900001,\"kind\":\"model\",\"id\":$bid,\"slug\":\"before\",\"action\":\"updated\",\"actor\":{\"name\":\"Ada\",\"email\":\"ada@example.com\"}}}"
is "a signed platform event sent to r1 is answered 503" \
    "$(platform_event "$(replica_url 1)/hooks/w/platform" "msg_outage_$$" "$body")" 503
ok "with Retry-After" grep -Eqi '^retry-after: *[0-9]+' "$T/event.headers"
like "and an error that names the database" "$(cat "$T/event.out")" '"error": *"[^"]*database'
head=$(git --git-dir="$T/remote.git" rev-parse main)
gbody="{\"ref\":\"refs/heads/main\",\"before\":\"$head\",\"after\":\"$head\",\"created\":false,\"deleted\":false,\"forced\":false,\"repository\":{\"name\":\"remote\",\"full_name\":\"remote\",\"clone_url\":\"file://$T/remote.git\",\"url\":\"file://$T/remote.git\"},\"pusher\":{\"name\":\"Grace\",\"email\":\"grace@example.com\"},\"commits\":[],\"head_commit\":{\"id\":\"$head\"}}"
is "a signed push event sent to r2 is answered 503" \
    "$(git_event "$(replica_url 2)/hooks/w/git" "$(cat /proc/sys/kernel/random/uuid)" "$gbody")" 503
all_down() { [ "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)" = "DOWN DOWN DOWN" ]; }
if wait_for 30 all_down; then pass "HAProxy takes the three out of rotation"; else
    fail "HAProxy takes the three out of rotation" "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)"; fi

# Changes on both sides while the database is away.
for i in 1 2 3; do
    plat_post models "{\"slug\":\"out-$i\",\"name\":\"Out $i\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" \
        "Actor $i <actor-$i@example.com>" >/dev/null
done
clone_pull
mkdir -p "$T/clone/models"
printf 'slug: g-out\nname: Pushed during the outage\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-out.yaml"
clone_push "add g-out" || bail "push failed: $(cat "$T/push.err")"
like "the post-receive hook tells the pusher it was refused" "$(cat "$T/push.err")" 'answered 5[0-9][0-9]'
like "the platform's deliveries were refused with 503" "$(cat "$T/haproxy.log")" ' 503 .*"POST /hooks/w/platform'
# Keep the server away 10 s in all.
while [ "$(date +%s)" -lt $((t0 + 10)) ]; do sleep 0.5; done
pg_start
diag "PostgreSQL started again after $(( $(date +%s) - t0 )) s"

if wait_for 60 all_ready; then pass "the replicas reconnect: /readyz 200 on the three"; else
    fail "the replicas reconnect: /readyz 200 on the three" \
        "$(replica_code 1 /readyz) $(replica_code 2 /readyz) $(replica_code 3 /readyz)" \
        "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"; fi
all_up() { [ "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)" = "UP UP UP" ]; }
if wait_for 30 all_up; then pass "HAProxy puts them back"; else
    fail "HAProxy puts them back" "$(haproxy_server_state r1) $(haproxy_server_state r2) $(haproxy_server_state r3)"; fi
outs() { has out-1 && has out-2 && has out-3; }
if wait_for 120 outs; then pass "the platform changes made during the outage reach Git"; else
    fail "the platform changes made during the outage reach Git" "$(cluster_compare)" \
        "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"; fi
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
if wait_for 120 has_id models g-out; then pass "the push made during the outage reaches the platform"; else
    fail "the push made during the outage reaches the platform" "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"; fi
agree() { [ "$(cluster_compare)" = "5 models" ]; }
if wait_for 60 agree; then pass "platform and branch agree"; else fail "platform and branch agree" "$(cluster_compare)"; fi
is "each outage change was added in Git by exactly one commit" \
    "$(for s in out-1 out-2 out-3; do git --git-dir="$T/remote.git" log --diff-filter=A --format=%H main -- "models/$s.yaml" | wc -l; done | tr '\n' ' ')" "1 1 1 "
cluster_audit > "$T/audit"
is "the push was applied once, and nothing else by gitsyncd" \
    "$(grep -v ' actor-[0-9]*@example\.com$' "$T/audit" | grep -v '^created before ' | sort | uniq -c | sed 's/^ *//')" \
    "1 created g-out $(grep '^created g-out ' "$T/audit" | head -n 1 | cut -d' ' -f3)"

like "a replica logged that the database was unavailable" \
    "$(cluster_logs | grep -E 'level=(error|warn)')" '[Dd]atabase'
for n in 1 2 3; do curl -s "$(replica_url "$n")/metrics" > "$T/metrics$n"; done
ok "r1 counts the refused intake as an error" grep -Eq '^gitsyncd_cluster_intake_total\{result="error"\} [1-9]' "$T/metrics1"
ok "the replicas count database errors" sh -c "cat '$T'/metrics[123] | grep -Eq '^gitsyncd_cluster_db_errors_total [1-9]'"
is "cluster_database_up is 1 again on the three" \
    "$(cat "$T"/metrics[123] | grep -Ec '^gitsyncd_cluster_database_up 1$')" 3
is "no two replicas ever ran a job of w at the same time" "$(cluster_overlaps w | head -n 5)" ""
done_testing
