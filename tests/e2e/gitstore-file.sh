#!/bin/sh
# gitstore against real git over file://: commits, authors, trailers,
# import, deletions, a rejecting hook, a racing push, a force-push, an
# empty and an unreachable remote.  The git CLI checks what was written.
. "$top_srcdir/tests/e2e/lib.sh"
TOOL=$top_builddir/tests/gitstore-tool
plan 40
git init -q --bare -b main "$T/remote.git"
export GS_STATE="$T/state" GS_URL="file://$T/remote.git"
export GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=other@example.com GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=other@example.com
rlog() { git --git-dir="$T/remote.git" log --format="$1" main; }

is "an empty remote fetches as no branch" "$("$TOOL" fetch 2>/dev/null)" "none"

out=$("$TOOL" import 3 2>/dev/null); rc=$?
is "an import into the empty remote is pushed" "$rc" 0
is "the import is one commit with three files" \
    "$(git --git-dir="$T/remote.git" show --format= --name-only main | tr '\n' ' ')" \
    "models/r0.yaml models/r1.yaml models/r2.yaml "

"$TOOL" commit-push 3 >/dev/null 2>&1
GS_TAG=again "$TOOL" commit-push 3 >/dev/null 2>&1
is "three changes become three commits (twice)" "$(rlog %s | wc -l)" 7
is "each commit has its own author" "$(rlog '%an <%ae>' | head -n 3 | tr '\n' ',')" \
    "Author 2 <author2@example.com>,Author 1 <author1@example.com>,Author 0 <author0@example.com>,"
is "the committer is the configured identity" "$(rlog '%cn <%ce>' | sort -u)" "gitsyncd <gitsyncd@example.com>"
is "the message carries the trailers" \
    "$(git --git-dir="$T/remote.git" log -1 --format='%(trailers:key=Gitsyncd-Event,valueonly)%(trailers:key=Gitsyncd-Actor,valueonly)' main | tr -d '\n')" \
    "evt-2Author 2 <author2@example.com>"
files=$(for c in $(rlog %H | head -n 3); do git --git-dir="$T/remote.git" show --format= --name-only "$c" | wc -l; done | tr '\n' ' ')
is "each commit touches exactly one file" "$files" "1 1 1 "

"$TOOL" delete-push r1 >/dev/null 2>&1
is "a deletion is a commit that removes the file" \
    "$(git --git-dir="$T/remote.git" show --format= --name-status main)" "D	models/r1.yaml"
is "the tree lists what is left" "$("$TOOL" tree 2>/dev/null | tr '\n' ' ')" "models/r0 models/r2 "

# A README and a nested folder are not resources.
git clone -q "$T/remote.git" "$T/clone"
echo "# hello" > "$T/clone/models/README.md"
mkdir -p "$T/clone/models/sub" && echo "x: 1" > "$T/clone/models/sub/x.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "docs" && git -C "$T/clone" push -q origin main
is "non-resource files are ignored" "$("$TOOL" tree 2>/dev/null | tr '\n' ' ')" "models/r0 models/r2 "

# (libgit2's file:// transport writes the repository itself and runs no
# hooks: a refusing pre-receive hook is tested over smart HTTP.)

# Another clone pushes between our fetch and our push: non-fast-forward.
GS_TAG=race "$TOOL" commit-push 2 "$T/go" > "$T/race.out" 2>/dev/null &
racer=$!
sleep 0.5
git -C "$T/clone" pull -q --rebase origin main
echo "slug: human" > "$T/clone/models/human.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "human change" && git -C "$T/clone" push -q origin main
touch "$T/go"
wait $racer; rc=$?
is "a push after the remote moved is non-fast-forward" "$rc" 10
GS_TAG=race "$TOOL" commit-push 2 >/dev/null 2>&1; rc=$?
is "rebuilt on the new head, the push succeeds" "$rc" 0
like "both histories are intact" "$(rlog %s | head -n 3 | tr '\n' '|')" "model r1: updated in test\|model r0: updated in test\|human change"
# New objects are built in memory and written to the mirror once pushed
# (or refused): nothing a ref of the mirror names may be missing.
is "the mirror holds every object its refs name, after a push and a refused one (fsck)" \
    "$(git --git-dir="$T/state/w.git" fsck --no-dangling 2>&1 | grep -v '^notice')" ""
is "no ref of the mirror outlives the push that named an unwritten commit" \
    "$(git --git-dir="$T/state/w.git" for-each-ref --format='%(refname)' refs/gitsyncd/)" ""

# A force-pushed remote: the old head is no longer an ancestor.
git -C "$T/clone" reset -q --hard "$(git -C "$T/clone" rev-list --max-parents=0 HEAD)" && git -C "$T/clone" push -q -f origin main
is "after a force-push the tree is read from the new head" "$("$TOOL" tree 2>/dev/null | tr '\n' ' ')" "models/r0 models/r1 models/r2 "

# A lock left by a push that was killed (kill -9) does not block forever:
# a fresh one is a retryable non-fast-forward, a stale one is removed.
touch "$T/remote.git/refs/heads/main.lock"
GS_TAG=locked "$TOOL" commit-push 1 >/dev/null 2>&1; rc=$?
is "a fresh ref lock in the remote is a non-fast-forward (retry later)" "$rc" 10
touch -d '1 minute ago' "$T/remote.git/refs/heads/main.lock"
GS_TAG=stale "$TOOL" commit-push 1 >/dev/null 2>"$T/stale.err"; rc=$?
is "a stale ref lock is removed and the push succeeds" "$rc:$(test -e "$T/remote.git/refs/heads/main.lock" && echo left)" "0:"
like "with a warning naming the lock file" "$(cat "$T/stale.err")" 'removed a stale lock.*main.lock'

# A push to a local remote stages its objects under a ref of its own; a
# push killed before removing it leaves it behind.  The next push removes
# those of processes that are gone and keeps those of live ones.
sh -c 'exit 0' & dead=$!; wait $dead
head=$(git --git-dir="$T/remote.git" rev-parse main)
git --git-dir="$T/remote.git" update-ref "refs/gitsyncd/incoming/$dead-0x1" "$head"
git --git-dir="$T/remote.git" update-ref "refs/gitsyncd/incoming/$$-0x2" "$head"
GS_TAG=sweep "$TOOL" commit-push 1 >/dev/null 2>"$T/sweep.err"; rc=$?
is "a staging ref of a dead push is removed, a live process's kept" \
    "$rc:$(git --git-dir="$T/remote.git" for-each-ref --format='%(refname)' refs/gitsyncd/ | tr '\n' ' ')" \
    "0:refs/gitsyncd/incoming/$$-0x2 "
like "with a warning naming the ref" "$(cat "$T/sweep.err")" "removed a staging ref.*incoming/$dead-0x1"
git --git-dir="$T/remote.git" update-ref -d "refs/gitsyncd/incoming/$$-0x2"

# Maintenance: libgit2 never packs (each network fetch adds a pack to the
# mirror, each commit loose objects); past 16 packs or about 4,096 loose
# objects, gitstore_maintain repacks everything reachable into one pack.
rm -f "$T/remote.git/refs/heads/main.lock"
"$TOOL" fetch >/dev/null 2>&1
M=$T/state/w.git
packs() { ls "$M/objects/pack/"*.pack 2>/dev/null | wc -l; }
loose() { find "$M/objects" -path "$M/objects/pack" -prune -o -path "$M/objects/info" -prune -o -type f -print | wc -l; }
objset() { git --git-dir="$M" rev-list --objects --all | sort | md5sum; }
for i in $(seq 20); do
    echo "scratch $i" | git --git-dir="$M" hash-object -w --stdin |
        git --git-dir="$M" pack-objects -q "$M/objects/pack/pack" >/dev/null
done
before=$(packs); set0=$(objset)
out=$("$TOOL" maintain 2>&1); rc=$?
is "past 16 packs ($before), maintain repacks them (at most 2 left), with a log line" \
    "$rc:$([ "$(packs)" -le 2 ] && echo few):$(printf '%s' "$out" | grep -c 'repacked the mirror')" "0:few:1"
is "every object reachable from every ref is still there (fsck, same set)" \
    "$(git --git-dir="$M" fsck --no-dangling 2>&1 | grep -v '^notice'; objset)" "$set0"
# A large import reaches the mirror as one pack, not thousands of loose
# files (each a file creation: the 100,000-resource import spent most of
# its time on them).
packs0=$(packs); loose0=$(loose)
GS_TAG=big "$TOOL" import 5000 >/dev/null 2>&1
is "an import of 5,000 adds one pack and no loose object" "$(( $(packs) - packs0 )):$(( $(loose) - loose0 ))" "1:0"
is "... and the mirror is sound (fsck)" "$(git --git-dir="$M" fsck --no-dangling 2>&1 | grep -v '^notice')" ""
git --git-dir="$M" repack -a -d -q
mkdir "$T/blobs0"
for i in $(seq 5000); do echo "loose $i" > "$T/blobs0/$i"; done
(cd "$T/blobs0" && ls | git --git-dir="$M" hash-object -w --stdin-paths >/dev/null)
before=$(loose)
out=$("$TOOL" maintain 2>&1); rc=$?
is "past ~4,096 loose objects ($before), maintain packs them too" "$rc:$(packs):$(loose)" "0:1:0"
out=$("$TOOL" maintain 2>&1)
is "a lean mirror is left alone" "$(printf '%s' "$out" | grep -c 'repacked')" 0
# Geometric: a few small packs next to a large one are packed by
# themselves; the large pack stays as it is.
bigpack=$(ls -S "$M/objects/pack/"*.pack | head -n 1)
for i in $(seq 17); do
    echo "later $i" | git --git-dir="$M" hash-object -w --stdin |
        git --git-dir="$M" pack-objects -q "$M/objects/pack/pack" >/dev/null
done
set0=$(objset)
out=$("$TOOL" maintain 2>&1)
is "small packs beside a large one: only they are repacked, the large one stays" \
    "$(printf '%s' "$out" | grep -c 'how="new objects only"'):$(packs):$(test -f "$bigpack" && echo kept)" "1:2:kept"
is "... and nothing reachable is lost" "$(git --git-dir="$M" fsck --no-dangling 2>&1 | grep -v '^notice'; objset)" "$set0"
GS_TAG=after-repack "$TOOL" commit-push 1 >/dev/null 2>&1; rc=$?
is "commits and pushes go on after the repack" "$rc:$(rlog %s | head -n 1)" "0:model r0: updated in test"
# Many loose objects beside a much larger pack are packed by themselves
# too: counted as objects, not as bytes (a loose tree is stored whole, so
# its bytes would always make it look larger than the pack).
GS_TAG=bigger "$TOOL" import 12000 >/dev/null 2>&1
git --git-dir="$M" repack -a -d -q
bigpack=$(ls -S "$M/objects/pack/"*.pack | head -n 1)
mkdir "$T/blobs"
for i in $(seq 6000); do echo "loose blob $i" > "$T/blobs/$i"; done
(cd "$T/blobs" && ls | git --git-dir="$M" hash-object -w --stdin-paths >/dev/null)
before=$(loose); set0=$(objset)
out=$("$TOOL" maintain 2>&1)
is "$before loose objects beside a pack of more than twice as many: only they are packed" \
    "$(printf '%s' "$out" | grep -c 'how="new objects only"'):$(packs):$(loose):$(test -f "$bigpack" && echo kept)" "1:2:0:kept"
is "... and nothing reachable is lost" "$(git --git-dir="$M" fsck --no-dangling 2>&1 | grep -v '^notice'; objset)" "$set0"
# Under a sub-path: the folder's tree sits two levels down; deleting the
# last file of a folder removes the folder (git keeps no empty tree).
git init -q --bare -b main "$T/sub.git"
git clone -q "$T/sub.git" "$T/subclone" 2>/dev/null
mkdir -p "$T/subclone/cfg" && echo "keep" > "$T/subclone/cfg/README.md" && echo "top" > "$T/subclone/README.md"
git -C "$T/subclone" add -A && git -C "$T/subclone" commit -qm "layout" && git -C "$T/subclone" push -q origin main
export GS_PATH=cfg/ GS_STATE="$T/substate" GS_URL="file://$T/sub.git"
GS_TAG=sub "$TOOL" commit-push 2 >/dev/null 2>&1
is "under a sub-path, each change is one commit on the file in sub-path/folder" \
    "$(git --git-dir="$T/sub.git" log --format= --name-only main | grep . | tr '\n' ' ')" "cfg/models/r1.yaml cfg/models/r0.yaml README.md cfg/README.md "
"$TOOL" delete-push r0 >/dev/null 2>&1
"$TOOL" delete-push r1 >/dev/null 2>&1
is "deleting a folder's last file removes the folder, and nothing else" \
    "$(git --git-dir="$T/sub.git" ls-tree -r --name-only main | tr '\n' ' '):$(git --git-dir="$T/sub.git" log --format=%s main | wc -l)" \
    "README.md cfg/README.md :5"
is "both repositories are whole (fsck)" \
    "$(git --git-dir="$T/sub.git" fsck --no-dangling 2>&1 | grep -v '^notice'; git --git-dir="$T/substate/w.git" fsck --no-dangling 2>&1 | grep -v '^notice')" ""
export GS_PATH= GS_STATE="$T/state" GS_URL="file://$T/remote.git"

# A kill -9 while the mirror's push ref was being written leaves its lock
# file: the next push must not fail on it.
n=$(rlog %s | wc -l)
touch "$T/state/w.git/refs/gitsyncd/push.lock"
GS_TAG=afterlock "$TOOL" commit-push 1 >"$T/lock.out" 2>&1; rc=$?
is "a push after a killed one's lock file goes through, saying so" \
    "$rc $(( $(rlog %s | wc -l) - n )) $(grep -c 'removed the lock file of a push that was killed' "$T/lock.out")" "0 1 1"

# Several gitsyncd processes (a cluster's replicas) pushing to one local
# remote, each to its own branch: each push stages its objects under a ref
# of its own there, which the others' listings may name and then miss.
# Thousands of other refs there make each listing long enough to meet it.
git init -q --bare -b main "$T/shared.git"
(export GS_BRANCH=seed GS_STATE="$T/seed" GS_URL="file://$T/shared.git"; "$TOOL" import 1 >/dev/null 2>&1)
seed=$(git --git-dir="$T/shared.git" rev-parse seed)
{ echo '# pack-refs with: peeled fully-peeled sorted'
  i=1; while [ $i -le 3000 ]; do echo "$seed refs/heads/other-$i"; i=$((i + 1)); done | sort -k2
  echo "$seed refs/heads/seed"; } > "$T/shared.git/packed-refs"
rm -f "$T/shared.git/refs/heads/seed"
for n in 1 2 3 4 5 6; do
    (export GS_BRANCH=b$n GS_STATE="$T/race$n" GS_URL="file://$T/shared.git" GS_TAG=race$n
     "$TOOL" import 1 && for r in 1 2 3 4 5; do GS_TAG=race$n-$r "$TOOL" commit-push 4 || exit 1; done
    ) > "$T/race$n.out" 2>&1 &
    eval "race$n=\$!"
done
bad=
for n in 1 2 3 4 5 6; do
    eval "wait \$race$n" || bad="$bad b$n: $(tail -n 2 "$T/race$n.out" | tr '\n' ' ')"
done
is "six processes pushing to one local remote at once: every push goes through" "$bad" ""
counts=$(for n in 1 2 3 4 5 6; do git --git-dir="$T/shared.git" rev-list --count b$n 2>/dev/null; done | sort -u | tr '\n' ' ')
is "each branch holds its import and its 20 commits, once" "$counts" "21 "

out=$(GS_URL="file://$T/nowhere.git" "$TOOL" fetch 2>/dev/null); rc=$?
like "an unreachable remote is a network error naming the URL" "$rc: $out" "^13: network: fetch from file://$T/nowhere.git"
done_testing
