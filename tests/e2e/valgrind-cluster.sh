#!/bin/sh
# Cluster mode under valgrind memcheck, end to end, with a real PostgreSQL:
# a replica imports, commits a platform change, applies a push, answers
# 503 while the database is stopped and catches up once it is back; a
# `sync --once` of the same workspace runs under the cluster's lock; then
# SIGTERM.  Zero memcheck errors and no definite leaks, in both processes.
# Needs a build without sanitizers: contrib/quickstart.sh test runs it in
# build-valgrind, beside valgrind.sh.
. "$top_srcdir/tests/e2e/lib.sh"
command -v valgrind >/dev/null 2>&1 || skip_all "valgrind not installed"
if grep -q '__asan_init' "$GITSYNCD" 2>/dev/null; then
    skip_all "$GITSYNCD is built with sanitizers; valgrind needs a plain build"
fi
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
plan 8
real=$GITSYNCD
memcheck() { # memcheck LOG CMD...: run CMD under memcheck, its report in LOG
    _log=$1; shift
    GITSYNCD_JSON_REGIONS=0 valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=99 --track-origins=yes \
        --num-callers=30 --suppressions="$top_srcdir/tests/valgrind.supp" \
        --log-file="$_log" "$@"
}
memcheck_wrapper "$T/vg-gitsyncd" "$T/valgrind-r%p.log" "$real"
GITSYNCD=$T/vg-gitsyncd
cluster_setup 0 "1"
replicas_ready 1 || bail "the replica is not ready under valgrind: $(tail -n 20 "$T/r1-1.log")"
synced() { curl -s "$(replica_url 1)/metrics" | grep -q '^gitsyncd_last_sync_timestamp_seconds{workspace="w"}'; }
wait_for 90 synced || bail "no first sync under valgrind: $(tail -n 20 "$T/r1-1.log")"

plat_post models '{"slug":"vg-one","name":"One","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 1"},"primaryKey":"id","tags":{}}' >/dev/null
if wait_commits 1 90; then pass "a platform change becomes a commit through the cluster under valgrind"
else fail "a platform change becomes a commit through the cluster under valgrind" "$(tail -n 20 "$T/r1-1.log")"; fi

clone_pull
sed -i 's/^name: One$/name: One renamed/' "$T/clone/models/vg-one.yaml"
clone_push "Rename vg-one"
renamed() { [ "$(plat_field models vg-one name)" = '"One renamed"' ]; }
if wait_for 90 renamed; then pass "a push is applied to the platform through the cluster under valgrind"
else fail "a push is applied to the platform through the cluster under valgrind" "$(tail -n 20 "$T/r1-1.log")"; fi

pg_stop fast
code=$(platform_event "$(replica_url 1)/hooks/w/platform" msg_vg_outage \
    '{"type":"model.updated","data":{"kind":"model","id":1,"slug":"vg-one","action":"updated"}}')
is "with the database stopped, a webhook is answered 503" "$code" 503
plat -X PATCH -H 'X-Actor: Ada Lovelace <ada@example.com>' --data '{"name":"During the outage"}' \
    "$PURL/api/v1/models/$(plat_id models vg-one)" >/dev/null
pg_start
during() { git --git-dir="$T/remote.git" show main:models/vg-one.yaml 2>/dev/null | grep -q 'During the outage'; }
if wait_for 120 during; then pass "once the database is back, the change made meanwhile is committed"
else fail "once the database is back, the change made meanwhile is committed" "$(tail -n 20 "$T/r1-1.log")"; fi

# sync --once of the same workspace, its own state_dir, under the lock.
sed "s#$T/r1-state#$T/once-state#; s/replica: r1/replica: once/" "$T/r1.yaml" > "$T/once.yaml"
memcheck "$T/valgrind-once.log" "$real" --allow-root -c "$T/once.yaml" sync --once w >"$T/once.out" 2>&1
is "sync --once in cluster mode under valgrind: synced, exit 0, no memcheck error" \
    "$? $(grep -c 'workspace w: synced' "$T/once.out") $(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$T/valgrind-once.log" | tail -n 1)" "0 1 0"

kill -TERM "$R1_PID"
rc=0
wait "$R1_PID" || rc=$?
is "SIGTERM: the replica exits 0 with no memcheck error (99 would be one)" "$rc" 0
log=$(ls "$T"/valgrind-r*.log | head -n 1)
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
is "valgrind: ERROR SUMMARY 0 errors" "$errors" 0 || diag "$(grep -B2 -A30 'Invalid\|uninitialised\|definitely lost in' "$log" | head -n 80)"
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
is "valgrind: no definite leak" "${definite:-0}" 0 || diag "$(grep -A30 'definitely lost in' "$log" | head -n 60)"
done_testing
