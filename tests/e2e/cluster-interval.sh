#!/bin/sh
# Cluster mode: the periodic full reconcile runs once per sync.interval per
# workspace across the cluster, not once per replica.  Three replicas,
# sync.interval 2s: every claim of a due full reconcile is logged by the
# replica that made it; over a dozen seconds the claims come one interval
# apart (the next one is due 0.9 to 1.1 intervals later, and claimed at the
# first one-second tick of any replica after that), never two at once, and
# each becomes one full job, on the replica that ran the one before; a
# platform change made with events lost (no webhook) arrives through them.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
plan 6

cluster_setup 2s
replicas_ready 1 2 3 || bail "the replicas did not become ready: $(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"
sleep 12
claims() { cluster_logs | sed -n 's/^ts=\([^ ]*\) .*msg="cluster: periodic full reconcile claimed" workspace=w replica=\(r[0-9]\).*/\1 \2/p' | sort; }
claims > "$T/claims"
n=$(wc -l < "$T/claims")
gaps=$(python3 -c '
import sys, datetime
t = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for l in open(sys.argv[1]) if l.strip()]
print(" ".join("%.1f" % (b - a) for a, b in zip(t, t[1:])))' "$T/claims")
ok "at least 4 full reconciles were claimed in 12 s with sync.interval 2s (not 3 per interval: one per cluster)" \
    sh -c "[ $n -ge 4 ] && [ $n -le 8 ]" || diag "claims: $(cat "$T/claims")"
is "consecutive claims are 1.5 to 3.5 s apart (one interval, jittered; never two at once)" \
    "$(for g in $gaps; do python3 -c "import sys; g=float(sys.argv[1]); print('ok' if 1.5 <= g <= 3.5 else 'gap %s' % g)" "$g"; done | sort -u | tr '\n' ' ')" "ok "
# Each claim is one job on one replica, not one per replica.
cluster_logs | sed -n 's/^ts=\([^ ]*\) .*msg="cluster job started" workspace=w replica=\(r[0-9]\).*/\1 \2/p' | sort > "$T/jobs"
per_claim=$(python3 -c '
import sys
claims = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
jobs = [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
if len(claims) < 2:
    print("too few claims"); sys.exit()
print(sum(1 for j in jobs if claims[0] <= j < claims[-1]), len(claims) - 1)' "$T/claims" "$T/jobs")
set -- $per_claim
is "between the first and the last claim, one full job per claim (not one per replica)" "$1" "$2"
# Affinity: each job goes to the replica that ran the one before (it is
# woken at once, the others 100 ms later), so the jobs do not hop.
moves=$(awk '{ if (NR > 1 && $2 != last) n++; last = $2 } END { print n + 0 }' "$T/jobs")
ok "the jobs stay on the replica that ran the last one (at most 1 move in $(wc -l < "$T/jobs") jobs)" \
    sh -c "[ $moves -le 1 ]" || diag "jobs: $(tr '\n' ' ' < "$T/jobs")"
# A change whose webhook never came: the next full reconcile brings it.
kill "$PPID_"; wait "$PPID_" 2>/dev/null
spawn "$T/platform-quiet.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" \
    --token "$PTOKEN" --webhook-secret "$PSECRET" --data "$T/platform.json"
PPID_=$!
wait_port "$PPORT" 10 || bail "the demo platform did not start again: $(cat "$T/platform-quiet.log")"
plat_post models '{"slug":"no-event","name":"No event","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 1"}}' >/dev/null
has() { git --git-dir="$T/remote.git" cat-file -e "main:models/$1.yaml" 2>/dev/null; }
if wait_for 30 has no-event; then pass "a change with no webhook arrives through a periodic full reconcile"; else
    fail "a change with no webhook arrives through a periodic full reconcile" "$(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"; fi
is "it is committed once" "$(git --git-dir="$T/remote.git" log --format=%H main -- models/no-event.yaml | wc -l | tr -d ' ')" 1
done_testing
