#!/bin/sh
# Issue 14, item 6: a change applied from Git is credited (X-Actor) to the
# author of the last commit that changed that file, not to the author of
# the branch head: Mallory's pushed edit must not be recorded as Grace's.
# A merged branch credits the commit that made the change, not the merge.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 6
sync_setup platform 10 0 on
for m in alpha beta; do
    plat_post models "{\"slug\":\"$m\",\"name\":\"$m\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" >/dev/null
done
imported() { git --git-dir="$T/remote.git" cat-file -e main:models/alpha.yaml &&
             git --git-dir="$T/remote.git" cat-file -e main:models/beta.yaml; }
wait_for 30 imported || bail "not imported: $(tail -n 20 "$T/gitsyncd.log")"
clone_pull

# actor_of SLUG NAME: the actor of the last "updated" audit entry of SLUG.
actor_of() {
    plat "$PURL/api/v1/audit" | python3 -c '
import json, sys
e = [a for a in json.load(sys.stdin)["data"] if a["slug"] == sys.argv[1] and a["action"] == "updated"]
print("%s <%s>" % (e[-1]["actor"]["name"], e[-1]["actor"]["email"]) if e else "none")' "$1"
}

# Two commits in one push: Mallory's edit of alpha, then Grace's of beta.
sed -i 's/^name: alpha$/name: alpha by mallory/' "$T/clone/models/alpha.yaml"
git -C "$T/clone" -c user.name=Mallory -c user.email=mallory@example.com \
    commit -qam "mallory edits alpha"
sed -i 's/^name: beta$/name: beta by grace/' "$T/clone/models/beta.yaml"
clone_push "grace edits beta" || bail "push failed: $(cat "$T/push.err")"
both() { [ "$(actor_of alpha)" != none ] && [ "$(actor_of beta)" != none ]; }
wait_for 30 both || bail "not applied: $(tail -n 20 "$T/gitsyncd.log")"
is "alpha's change is credited to Mallory, who made it" "$(actor_of alpha)" "Mallory <mallory@example.com>"
is "beta's change to Grace" "$(actor_of beta)" "Grace Hopper <grace@example.com>"

# A branch of Mallory's merged by Grace (a merge commit at the head).
clone_pull
git -C "$T/clone" checkout -qb feature
sed -i 's/^name: alpha by mallory$/name: alpha on a branch/' "$T/clone/models/alpha.yaml"
git -C "$T/clone" -c user.name=Mallory -c user.email=mallory@example.com \
    commit -qam "mallory edits alpha on a branch"
git -C "$T/clone" checkout -q main
echo notes > "$T/clone/README.md"
git -C "$T/clone" add README.md && git -C "$T/clone" commit -qm "grace adds a README"
git -C "$T/clone" merge -q --no-ff -m "grace merges feature" feature
git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err" || bail "push failed: $(cat "$T/push.err")"
is "the merge commit's author is Grace" \
    "$(git --git-dir="$T/remote.git" log -1 --format='%an' main)" "Grace Hopper"
merged() { [ "$(plat_field models alpha name)" = '"alpha on a branch"' ]; }
wait_for 30 merged || bail "the merge was not applied: $(tail -n 20 "$T/gitsyncd.log")"
is "the merged change is credited to Mallory" "$(actor_of alpha)" "Mallory <mallory@example.com>"

# The issue's case: while gitsyncd is down, Mallory pushes an edit of alpha
# and Ada changes beta in the UI.  At start-up gitsyncd commits Ada's
# change on top of Mallory's commit (the head is now gitsyncd's, authored
# by Ada), then applies Mallory's edit: credited to Mallory, not Ada.
kill "$GPID"; wait "$GPID" 2>/dev/null
clone_pull
sed -i 's/^name: alpha on a branch$/name: alpha while down/' "$T/clone/models/alpha.yaml"
git -C "$T/clone" -c user.name=Mallory -c user.email=mallory@example.com \
    commit -qam "mallory edits alpha while gitsyncd is down"
git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err" || bail "push failed: $(cat "$T/push.err")"
plat -X PATCH -H 'X-Actor: Ada Lovelace <ada@example.com>' --data '{"name":"beta by ada"}' \
    "$PURL/api/v1/models/$(plat_id models beta)" >/dev/null
start_gitsyncd
down() { [ "$(plat_field models alpha name)" = '"alpha while down"' ]; }
wait_for 30 down || bail "the edit was not applied: $(tail -n 20 "$T/gitsyncd.log")"
is "the head is gitsyncd's commit of Ada's change" \
    "$(git --git-dir="$T/remote.git" log -1 --format='%an|%s' main)" "Ada Lovelace|model beta: updated in demo"
is "Mallory's edit is still credited to Mallory" "$(actor_of alpha)" "Mallory <mallory@example.com>"
done_testing
