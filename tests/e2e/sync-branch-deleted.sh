#!/bin/sh
# The workspace branch deleted on the remote while a base exists: an error
# state (log, /status, metric) in which nothing is applied to the platform
# and nothing is committed, until `sync --once --restore-branch` pushes the
# base back as the branch, descending from the old head.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 14
sync_setup platform 10

for s in a b c; do
    plat_post models "{\"slug\":\"m-$s\",\"name\":\"M $s\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" >/dev/null
done
has_three() { [ "$(git --git-dir="$T/remote.git" ls-tree --name-only main models/ 2>/dev/null | wc -l)" -eq 3 ]; }
wait_for 20 has_three || bail "the platform's models never reached Git: $(tail -n 20 "$T/gitsyncd.log")"
sleep 1
old=$(git --git-dir="$T/remote.git" rev-parse main)
ncommits=$(remote_count)

# Delete the branch, then change something in the platform's UI.
git --git-dir="$T/remote.git" config receive.denyDeleteCurrent ignore
git -C "$T/clone" push -q origin :main 2>/dev/null || bail "cannot delete the branch"
plat_post models '{"slug":"m-d","name":"M d","sourceId":1,"queryType":"raw_sql"}' "Mallory <mallory@example.com>" >/dev/null
missing() { gitsyncd_status | grep -q '"state": "branch_missing"'; }
if wait_for 20 missing; then pass "/status says the branch is missing"; else fail "/status says the branch is missing" "$(gitsyncd_status)" "$(tail -n 20 "$T/gitsyncd.log")"; fi
sleep 1
plat_count() { plat "$PURL/api/v1/models?limit=100" | python3 -c 'import sys,json; print(len(json.load(sys.stdin)["data"]))'; }
is "nothing was deleted on the platform" "$(plat_count)" 4
is "no branch was recreated" "$(git --git-dir="$T/remote.git" rev-parse -q --verify main)" ""
like "the log says what happened and what to do" "$(cat "$T/gitsyncd.log")" 'branch main is missing on the remote.*restore-branch'
like "a metric shows it" "$(curl -sS "http://127.0.0.1:$GPORT/metrics")" 'gitsyncd_branch_missing\{workspace="w"\} 1'

# Recovery: stop the daemon, restore, start it again.
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once w 2>&1); rc=$?
is "without the flag, sync --once fails" "$rc" 1
like "and names the flag" "$out" 'restore-branch'
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once --restore-branch w 2>&1); rc=$?
is "sync --once --restore-branch succeeds" "$rc" 0
if git --git-dir="$T/remote.git" merge-base --is-ancestor "$old" main 2>/dev/null; then
    pass "the restored branch descends from the old head"
else
    fail "the restored branch descends from the old head" "$out"
fi
is "the old history is all there" "$(git --git-dir="$T/remote.git" rev-list --count "$old")" "$ncommits"
is "the branch holds all four models" "$(git --git-dir="$T/remote.git" ls-tree --name-only main models/ | tr '\n' ' ')" \
    "models/m-a.yaml models/m-b.yaml models/m-c.yaml models/m-d.yaml "
is "the platform still holds all four" "$(plat_count)" 4
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once --restore-branch w 2>&1); rc=$?
is "restoring a branch that exists is refused" "$rc" 1
like "saying why" "$out" 'branch main exists on file://.*nothing to restore'
done_testing
