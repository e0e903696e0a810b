#!/bin/sh
# One process per state_dir: a second `serve` refuses to start and names the
# holder; `sync --once` exits 1 naming it, or waits for it with --wait.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
command -v flock >/dev/null 2>&1 || skip_all "flock(1) not installed"
plan 10
sync_setup platform 10

# A second daemon on another port, same state_dir.
P2=$(free_port)
sed "s/^listen: .*/listen: 127.0.0.1:$P2/" "$T/gitsyncd.yaml" > "$T/second.yaml"
start=$(date +%s)
out=$(timeout 20 "$GITSYNCD" --allow-root -c "$T/second.yaml" serve 2>&1); rc=$?
is "a second serve on the same state_dir exits 1" "$rc" 1
like "naming the holder" "$out" "refusing to start: state_dir $T/state is in use by pid $GPID \(gitsyncd serve, since "
kill -0 "$GPID" 2>/dev/null && pass "the first one still runs" || fail "the first one still runs"

out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once w 2>&1); rc=$?
is "sync --once while serve runs exits 1" "$rc" 1
like "naming the holder" "$out" "state_dir $T/state is in use by pid $GPID \(gitsyncd serve"
start=$(date +%s)
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once --wait 2s w 2>&1); rc=$?
took=$(( $(date +%s) - start ))
like "--wait gives up after its time, saying so" "$rc $took $out" "^1 [23] .*in use by pid $GPID.*gave up waiting"

kill -TERM "$GPID"; wait "$GPID" 2>/dev/null
# Someone holds the lock for 2 s: sync --once --wait 20s waits, then runs.
flock "$T/state/gitsyncd.lock" sleep 2 &
HOLDER=$!
sleep 0.3
start=$(date +%s)
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once --wait 20s w 2>&1); rc=$?
took=$(( $(date +%s) - start ))
wait "$HOLDER"
is "sync --once --wait runs once the holder is gone" "$rc" 0
if [ "$took" -ge 1 ]; then pass "after waiting for it"; else fail "after waiting for it" "took $took s" "$out"; fi
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once --wait soon w 2>&1); rc=$?
is "a --wait that is not a duration is a usage error" "$rc" 2
# The lock goes with the holder, even under kill -9.
start_gitsyncd
kill -9 "$GPID"; wait "$GPID" 2>/dev/null
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once w 2>&1); rc=$?
is "after the holder was killed (-9), sync --once runs" "$rc" 0
done_testing
