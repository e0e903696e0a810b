#!/bin/sh
# The daemon under valgrind memcheck, end to end: import, platform changes
# to commits, a push applied to the platform, a refused webhook, /metrics,
# /status, a SIGHUP reload and a SIGTERM.  Zero memcheck errors and no
# definite leaks.  Needs a build without sanitizers (valgrind and ASan do
# not mix): contrib/quickstart.sh test runs it in build-valgrind.
. "$top_srcdir/tests/e2e/lib.sh"
command -v valgrind >/dev/null 2>&1 || skip_all "valgrind not installed"
if grep -q '__asan_init' "$GITSYNCD" 2>/dev/null; then
    skip_all "$GITSYNCD is built with sanitizers; valgrind needs a plain build"
fi
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 10
real=$GITSYNCD
# (memcheck_wrapper: JSON regions off; the ASan run covers them.)
memcheck_wrapper "$T/vg-gitsyncd" "$T/valgrind.log" "$real"
GITSYNCD=$T/vg-gitsyncd
sync_setup platform 10 0 on
synced() { curl -s "http://127.0.0.1:$GPORT/metrics" | grep -q '^gitsyncd_last_sync_timestamp_seconds{workspace="w"}'; }
wait_for 90 synced || bail "no first sync under valgrind: $(tail -n 20 "$T/gitsyncd.log")"

plat_post models '{"slug":"vg-one","name":"One","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 1"},"primaryKey":"id","tags":{}}' >/dev/null
plat_post models '{"slug":"vg-two","name":"Two","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 2"},"primaryKey":"id","tags":{}}' >/dev/null
if wait_commits 2 90; then pass "platform changes become commits under valgrind"
else fail "platform changes become commits under valgrind" "$(tail -n 20 "$T/gitsyncd.log")"; fi

clone_pull
sed -i 's/^name: One$/name: One renamed/' "$T/clone/models/vg-one.yaml"
clone_push "Rename vg-one"
renamed() { [ "$(plat_field models vg-one name)" = '"One renamed"' ]; }
if wait_for 90 renamed; then pass "a push is applied to the platform under valgrind"
else fail "a push is applied to the platform under valgrind" "$(tail -n 20 "$T/gitsyncd.log")"; fi

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
    -H 'X-Hub-Signature-256: sha256=00' -d '{"ref":"refs/heads/main"}' "http://127.0.0.1:$GPORT/hooks/w/git")
is "a forged webhook is refused" "$code" 401
like "/metrics answers" "$(curl -s "http://127.0.0.1:$GPORT/metrics")" 'gitsyncd_webhook_requests_total.*code="401"'
like "/status answers" "$(gitsyncd_status)" '"w"'
# gitsyncd plan (its own process) under memcheck too: an edit in the clone.
sed -i 's/^name: .*/name: Two planned/' "$T/clone/models/vg-two.yaml"
GITSYNCD_JSON_REGIONS=0 valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30 \
    --suppressions="$top_srcdir/tests/valgrind.supp" --log-file="$T/valgrind-plan.log" \
    "$real" --allow-root -c "$T/gitsyncd.yaml" plan w --dir "$T/clone" >"$T/plan.out" 2>&1
is "gitsyncd plan under valgrind: the update, exit 0, no memcheck error" \
    "$? $(grep -cE 'update +model/vg-two.*: name' "$T/plan.out") $(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$T/valgrind-plan.log" | tail -n 1)" "0 1 0"
kill -HUP "$GPID"
sleep 2
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GPORT/healthz")
is "after SIGHUP the daemon still answers" "$code" 200

kill -TERM "$GPID"
rc=0
wait "$GPID" || rc=$?
is "SIGTERM: exit 0 with no memcheck error (99 would be one)" "$rc" 0
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$T/valgrind.log" | tail -n 1)
is "valgrind: ERROR SUMMARY 0 errors" "$errors" 0 || diag "$(grep -B2 -A30 'Invalid\|uninitialised\|definitely lost in' "$T/valgrind.log" | head -n 80)"
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$T/valgrind.log" | tail -n 1)
is "valgrind: no definite leak" "${definite:-0}" 0 || diag "$(grep -A30 'definitely lost in' "$T/valgrind.log" | head -n 60)"
done_testing
