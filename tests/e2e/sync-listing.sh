#!/bin/sh
# A platform listing that misses a resource (offset paging racing a
# deletion: bench/soak.sh found it) must not turn into a "deleted" commit:
# gitsyncd asks for the resource itself before deciding it is gone.  A
# real deletion still is one.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 5
sync_setup platform 10 0 on
for m in kept hidden gone; do
    plat_post models "{\"slug\":\"$m\",\"name\":\"$m\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" >/dev/null
done
wait_commits 3 || bail "no commits: $(tail -n 20 "$T/gitsyncd.log")"

# The same platform (same data file), now leaving "hidden" out of listings.
kill "$PPID_"; wait "$PPID_" 2>/dev/null
spawn "$T/platform2.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token "$PTOKEN" \
    --webhook-secret "$PSECRET" --data "$T/platform.json" --skip-in-lists hidden \
    --webhook-url "http://127.0.0.1:$GPORT/hooks/w/platform"
PPID_=$!
wait_port "$PPORT" || bail "the platform did not restart"
is "the listing really leaves it out" \
    "$(plat "$PURL/api/v1/models?limit=100" | grep -c '"slug": "hidden"')" 0

# Any job lists the platform: a push of an unrelated file makes one.
clone_pull
echo "notes" > "$T/clone/README.md"
clone_push "a README"
seen() { grep -q 'listing missed a resource.*slug=hidden' "$T/gitsyncd.log"; }
if wait_for 20 seen; then pass "gitsyncd notices the listing missed it and logs so"
else fail "gitsyncd notices the listing missed it and logs so" "$(tail -n 20 "$T/gitsyncd.log")"; fi
sleep 1
unlike "no commit deletes the resource the listing missed" "$(remote_log)" 'model hidden: deleted'
git --git-dir="$T/remote.git" cat-file -e main:models/hidden.yaml 2>/dev/null
is "its file is still on the branch" "$?" 0

# A real deletion is still committed.
plat -X DELETE -H 'X-Actor: Ada Lovelace <ada@example.com>' "$PURL/api/v1/models/$(plat_id models gone)" >/dev/null
deleted() { remote_log | grep -q 'model gone: deleted in demo|Ada Lovelace'; }
if wait_for 20 deleted; then pass "a real deletion is one commit, by whoever deleted it"
else fail "a real deletion is one commit, by whoever deleted it" "$(remote_log | tail -n 3)"; fi
done_testing
