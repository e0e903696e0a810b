#!/bin/sh
# Issue 14, item 3: two platform objects with one slug.  Which of them
# Git's file means cannot be told, so neither is synced, in either
# direction, until one is renamed or deleted; both are reported, and
# every other resource keeps syncing.  (Before: a Git edit went to one of
# them and the next sync committed the other's content over the edit.)
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/fakelib.sh"
plan 7

fake_write '
def m(i, slug, name): return {"id": i, "slug": slug, "name": name, "sourceId": 1, "queryType": "raw_sql"}
d["models"] = [m(1, "twin", "the first"), m(2, "other", "other")]
'
fake_setup
wait_syncs 1 || bail "no sync: $(tail -n 20 "$T/gitsyncd.log")"
git --git-dir="$T/remote.git" cat-file -e main:models/twin.yaml || bail "twin was not imported"

# A second object takes the same slug; meanwhile Git edits the file.
fake_write 'd["models"].append({"id": 3, "slug": "twin", "name": "the second", "sourceId": 2, "queryType": "raw_sql"})'
clone_pull
sed -i 's/^name: the first$/name: edited in git/' "$T/clone/models/twin.yaml"
sed -i 's/^name: other$/name: other edited in git/' "$T/clone/models/other.yaml"
clone_push "edit twin and other" || bail "push failed: $(cat "$T/push.err")"
applied() { fake_writes | grep -q '"slug": "other"'; }
if wait_for 30 applied; then pass "the other resource's Git edit reaches the platform"
else fail "the other resource's Git edit reaches the platform" "$(tail -n 20 "$T/gitsyncd.log")"; fi
n=$(syncs_done)
# One more sync (a push of an unrelated file), to see nothing comes back.
clone_pull
echo notes > "$T/clone/README.md"
clone_push "a README" || bail "push failed: $(cat "$T/push.err")"
wait_syncs $((n + 1)) || bail "no sync after the README: $(tail -n 20 "$T/gitsyncd.log")"

is "neither twin was written to on the platform" "$(fake_writes | grep -c '"slug": "twin"')" 0
is "the Git edit of twin stays on the branch" \
    "$(git --git-dir="$T/remote.git" show main:models/twin.yaml | grep '^name:')" "name: edited in git"
unlike "no commit brought either platform version over it" \
    "$(git --git-dir="$T/remote.git" log --format=%s main)" 'model twin: updated'
listed=$(gitsyncd_status | python3 -c '
import json, sys
w = json.load(sys.stdin)["workspaces"]["w"]
print(" ".join(sorted(i["kind"] + "/" + i["slug"] + "#" + i["id"] for i in w.get("invalid_resources", []))))')
is "/status reports both objects" "$listed" "model/twin#1 model/twin#3"

# Resolved on the platform (one deleted): twin syncs again.  Both sides
# changed it since the base, so the conflict policy (platform) decides;
# Git's edit stays in history.
fake_write 'd["models"] = [o for o in d["models"] if o["id"] != 1]'
clone_pull
echo more >> "$T/clone/README.md"
clone_push "another README" || bail "push failed: $(cat "$T/push.err")"
resolved() { git --git-dir="$T/remote.git" show main:models/twin.yaml | grep -q '^name: the second$'; }
if wait_for 30 resolved; then pass "once resolved, the resource syncs again"
else fail "once resolved, the resource syncs again" "$(tail -n 20 "$T/gitsyncd.log")"; fi
like "the Git edit is still in history" \
    "$(git --git-dir="$T/remote.git" log -p main -- models/twin.yaml)" "name: edited in git"
done_testing
