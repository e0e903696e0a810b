#!/bin/sh
# max_deletes from the platform to Git: when the platform's listing
# suddenly lacks more resources than max_deletes (here: the token now
# points at an empty account), none is deleted from Git, and it is reported.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 7
sync_setup platform 3 2s

i=1
while [ $i -le 12 ]; do
    plat_post models "{\"slug\":\"m-$i\",\"name\":\"M $i\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" >/dev/null
    i=$((i + 1))
done
git_files() { git --git-dir="$T/remote.git" ls-tree --name-only main models/ 2>/dev/null | wc -l; }
has12() { [ "$(git_files)" -eq 12 ]; }
wait_for 30 has12 || bail "the 12 models never reached Git: $(tail -n 20 "$T/gitsyncd.log")"
sleep 1
n=$(remote_count)

# The same URL and token now answer for an empty account.
kill "$PPID_"; wait "$PPID_" 2>/dev/null
mv "$T/platform.json" "$T/platform-full.json"
start_platform
# (its event ids start again at 1, so they look like redeliveries: the
# periodic full reconcile finds the change)
plat_post models '{"slug":"fresh","name":"Fresh","sourceId":1,"queryType":"raw_sql"}' >/dev/null
status_has() { gitsyncd_status | grep -q "$1"; }
if wait_for 20 status_has 'more than max_deletes'; then pass "/status reports the refused deletions"; else fail "/status reports the refused deletions" "$(gitsyncd_status)" "$(tail -n 20 "$T/gitsyncd.log")"; fi
has_fresh() { git --git-dir="$T/remote.git" cat-file -e main:models/fresh.yaml 2>/dev/null; }
wait_for 10 has_fresh
is "no model was deleted from Git" "$(git --git-dir="$T/remote.git" ls-tree --name-only main models/ | grep -c 'm-')" 12
is "the new model was committed all the same" "$(git --git-dir="$T/remote.git" ls-tree --name-only main models/fresh.yaml)" "models/fresh.yaml"
is "one commit more, no deletion commit" "$(remote_count)" "$((n + 1))"
like "the log says why" "$(cat "$T/gitsyncd.log")" 'refusing to delete from Git.*deletes=12 max_deletes=3'
like "the refused_deletes gauge counts them" "$(curl -sS "http://127.0.0.1:$GPORT/metrics")" 'gitsyncd_refused_deletes\{workspace="w"\} 12'
# And the platform was not sent Git's copies either.
is "nothing was recreated on the platform" "$(plat "$PURL/api/v1/models?limit=100" | python3 -c 'import sys,json; print(len(json.load(sys.stdin)["data"]))')" 1
done_testing
