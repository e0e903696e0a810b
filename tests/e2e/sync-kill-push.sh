#!/bin/sh
# kill -9 at one exact moment of a push: after the remote took the pushed
# commit, before the mirror recorded it.  The next start finishes the work:
# later changes still reach Git, nothing is committed twice.  And a mirror
# whose refs name objects it lacks (with a stale lock file) is repaired at
# start-up.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 9
GITSYNCD_TEST_STOP=push-landed
export GITSYNCD_TEST_STOP
sync_setup platform 10
unset GITSYNCD_TEST_STOP

plat_post models '{"slug":"first","name":"First","sourceId":1,"queryType":"raw_sql"}' >/dev/null
stopped() { grep -q '^State:[[:space:]]*T' "/proc/$GPID/status"; }
wait_for 20 stopped || bail "gitsyncd never reached the push: $(tail -n 20 "$T/gitsyncd.log")"
has() { git --git-dir="$T/remote.git" cat-file -e "main:models/$1.yaml" 2>/dev/null; }
has first && pass "the remote took the pushed commit" || fail "the remote took the pushed commit"
kill -9 "$GPID"; wait "$GPID" 2>/dev/null
diag "killed gitsyncd (kill -9) between the push and the mirror's write"

start_gitsyncd
plat_post models '{"slug":"second","name":"Second","sourceId":1,"queryType":"raw_sql"}' >/dev/null
if wait_for 20 has second; then pass "a later platform change reaches Git"; else fail "a later platform change reaches Git" "$(grep -E 'level=(error|warn)' "$T/gitsyncd.log" | tail -n 5)"; fi
is "the first change is one commit" "$(git --git-dir="$T/remote.git" log --format=%H main -- models/first.yaml | wc -l)" 1
unlike "no sync failed after the restart" "$(cat "$T/gitsyncd.log")" 'sync failed'

# A mirror left with refs that name objects it does not have, and a lock
# file of a ref update that never finished.
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null
M=$T/state/w.git
echo 0123456789abcdef0123456789abcdef01234567 > "$M/refs/gitsyncd/push"
git --git-dir="$M" update-ref -d refs/remotes/origin/main
mkdir -p "$M/refs/remotes/origin"
echo 89abcdef0123456789abcdef0123456789abcdef > "$M/refs/remotes/origin/main"
touch -d '-1 minute' "$M/refs/remotes/origin/main.lock" 2>/dev/null || : > "$M/refs/remotes/origin/main.lock"
start_gitsyncd
plat_post models '{"slug":"third","name":"Third","sourceId":1,"queryType":"raw_sql"}' >/dev/null
if wait_for 20 has third; then pass "a mirror with refs to missing objects is repaired"; else fail "a mirror with refs to missing objects is repaired" "$(grep -E 'level=(error|warn)' "$T/gitsyncd.log" | tail -n 5)"; fi
like "the repair is logged" "$(cat "$T/gitsyncd.log")" 'names an object the mirror lacks.*refs/remotes/origin/main'
[ ! -e "$M/refs/remotes/origin/main.lock" ] && pass "the stale lock file is gone" || fail "the stale lock file is gone"
# The same met by a running daemon, whose mirror is open already: the
# ref names the commit the remote holds next, which the mirror lacks (as
# after the kill above), so the fetch leaves it out and fails.
clone_pull
echo "# notes" > "$T/clone/NOTES.md"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm notes
git -C "$T/clone" rev-parse HEAD > "$M/refs/gitsyncd/push"
git -C "$T/clone" push -q origin HEAD:main 2>/dev/null
plat_post models '{"slug":"fourth","name":"Fourth","sourceId":1,"queryType":"raw_sql"}' >/dev/null
if wait_for 20 has fourth; then pass "a sync that meets such a ref repairs the mirror and goes on"; else fail "a sync that meets such a ref repairs the mirror and goes on" "$(grep -E 'level=(error|warn)' "$T/gitsyncd.log" | tail -n 5)"; fi
is "four models and a note, five commits" "$(git --git-dir="$T/remote.git" rev-list --count main)" 5
done_testing
