#!/bin/sh
# A platform that hangs (accepts, never answers; platform.timeout 300s):
# SIGTERM still stops gitsyncd within seconds, cancelling the request.
. "$top_srcdir/tests/e2e/lib.sh"
plan 4
PTOKEN=e2e-hang-token-3d9
export GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles
FPORT=$(free_port); GPORT=$(free_port)
spawn "$T/fake.log" python3 "$top_srcdir/tests/e2e/fake-endless.py" "$FPORT" "$PTOKEN" hang --count "$T/requests"
wait_port "$FPORT" 10 || bail "the fake platform did not start: $(cat "$T/fake.log")"
git init -q --bare -b main "$T/remote.git"
cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
workers: 2
state_dir: $T/state
log: { level: info }
workspaces:
  - name: w
    platform: { profile: demo, url: "http://127.0.0.1:$FPORT/api/v1", token: $PTOKEN, timeout: 300s }
    git: { url: "file://$T/remote.git" }
    sync: { interval: 0 }
YAML
"$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" serve > "$T/gitsyncd.log" 2>&1 &
GPID=$!
_spawned="$_spawned $GPID"
wait_port "$GPORT" 10 || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"
# The start-up reconcile is now waiting for the platform's answer.
wait_for 20 test -s "$T/requests" || bail "gitsyncd never asked the platform: $(cat "$T/gitsyncd.log")"
sleep 1
kill -TERM "$GPID"
gone() { ! kill -0 "$GPID" 2>/dev/null; }
if wait_for 10 gone; then pass "SIGTERM stops gitsyncd within 10 s while a platform request hangs"
else fail "SIGTERM stops gitsyncd within 10 s while a platform request hangs" "$(tail -n 5 "$T/gitsyncd.log")"; kill -9 "$GPID"; fi
wait "$GPID"; rc=$?
is "it exits 0" "$rc" 0
like "the log says a hung request is cancelled" "$(cat "$T/gitsyncd.log")" "a platform request is cancelled 5 s after"
like "the sync that was cut short says why" "$(cat "$T/gitsyncd.log")" 'sync failed.*cancelled: gitsyncd is stopping'
done_testing
