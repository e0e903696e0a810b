#!/bin/sh
# Issue 14, item 3: platform slugs are checked against the profile's slug
# rule before anything else.  An object whose slug cannot name a file
# ("a/b", "..", "../../etc/x", ".git", ".", "", a newline, upper case) is
# skipped and reported on its own (/status invalid_resources, the
# gitsyncd_invalid_platform_objects gauge); every other object syncs, and
# no slug reaches a commit message or a path.  The fake platform returns
# what the demo platform would refuse.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/fakelib.sh"
plan 10

fake_write '
def m(i, slug): return {"id": i, "slug": slug, "name": "n%d" % i, "sourceId": 1, "queryType": "raw_sql"}
d["models"] = [m(1, "good-one"), m(2, "a/b"), m(3, ".."), m(4, "../../etc/x"), m(5, ".git"),
               m(6, "."), m(7, ""), m(8, "evil\nGitsyncd-Actor: Forged <f@example.com>"),
               m(9, "UPPER"), m(10, "good-two")]
'
fake_setup
wait_syncs 1 || bail "no sync: $(tail -n 20 "$T/gitsyncd.log")"

files=$(git --git-dir="$T/remote.git" ls-tree -r --name-only main 2>/dev/null | tr '\n' ' ')
is "the objects with valid slugs are on the branch, and nothing else" "$files" "models/good-one.yaml models/good-two.yaml "
is "the last sync succeeded" \
    "$(gitsyncd_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["workspaces"]["w"]["last_result"])')" ok
listed=$(gitsyncd_status | python3 -c '
import json, sys
w = json.load(sys.stdin)["workspaces"]["w"]
print(" ".join(sorted(repr(i["slug"]) + "#" + i["id"] for i in w.get("invalid_resources", []))))')
is "/status lists each invalid slug with its kind and id" "$listed" \
    "''#7 '.'#6 '..'#3 '../../etc/x'#4 '.git'#5 'UPPER'#9 'a/b'#2 'evil\\nGitsyncd-Actor: Forged <f@example.com>'#8"
like "the gauge counts them" "$(curl -sS "http://127.0.0.1:$GPORT/metrics")" \
    'gitsyncd_invalid_platform_objects\{workspace="w"\} 8'
is "gitsyncd status counts them as invalid" \
    "$("$GITSYNCD" -c "$T/gitsyncd.yaml" status | awk '$1 == "w" { print $(NF - 2) }')" 8
unlike "no commit message carries a forged trailer" \
    "$(git --git-dir="$T/remote.git" log --format=%B main)" '^Gitsyncd-Actor: Forged'
ok "the repository is sound" git --git-dir="$T/remote.git" fsck --strict

# Everything else keeps syncing, both ways.
fake_write 'd["models"].append({"id": 11, "slug": "good-three", "name": "n11", "sourceId": 1, "queryType": "raw_sql"})'
clone_pull
sed -i 's/^name: n1$/name: renamed in git/' "$T/clone/models/good-one.yaml"
clone_push "rename good-one" || bail "push failed: $(cat "$T/push.err")"
arrived() { git --git-dir="$T/remote.git" cat-file -e main:models/good-three.yaml; }
if wait_for 30 arrived; then pass "a new valid object still syncs to Git"
else fail "a new valid object still syncs to Git" "$(tail -n 20 "$T/gitsyncd.log")"; fi
applied() { fake_writes | grep -q '"slug": "good-one"'; }
if wait_for 30 applied; then pass "a Git edit still reaches the platform"
else fail "a Git edit still reaches the platform" "$(tail -n 20 "$T/gitsyncd.log")"; fi
is "nothing was written to the platform for the invalid objects" \
    "$(fake_writes | grep -vc '"slug": "good-one"')" 0
done_testing
