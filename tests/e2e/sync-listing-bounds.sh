#!/bin/sh
# A platform whose listing never ends (the same full page with hasMore:
# true forever, or new items forever, or pages slow enough to run long)
# is stopped by the listing's bounds: a repeated page, list_max_items,
# list_timeout.  The sync fails, names the bound, commits nothing.
. "$top_srcdir/tests/e2e/lib.sh"
plan 10
PTOKEN=e2e-endless-token-81c
export GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles

# fake MODE [ARGS]: start the fake platform; its port is in $FPORT.
fake() {
    FPORT=$(free_port)
    spawn "$T/fake-$1.log" python3 "$top_srcdir/tests/e2e/fake-endless.py" "$FPORT" "$PTOKEN" "$@"
    wait_port "$FPORT" 10 || bail "the fake platform did not start: $(cat "$T/fake-$1.log")"
}

# run NAME [PLATFORM-KEYS]: sync --once against the fake platform, at most
# 60 s (a listing that never ends is killed there and fails the test).
run() {
    git init -q --bare -b main "$T/$1.git"
    cat > "$T/$1.yaml" <<YAML
state_dir: $T/state-$1
log: { level: info }
workspaces:
  - name: w
    platform: { profile: demo, url: "http://127.0.0.1:$FPORT/api/v1", token: $PTOKEN ${2:-} }
    git: { url: "file://$T/$1.git" }
YAML
    /usr/bin/time -f %e -o "$T/$1.time" timeout -s KILL 60 "$GITSYNCD" --allow-root -c "$T/$1.yaml" sync --once w > "$T/$1.log" 2>&1
    echo $? > "$T/$1.rc"
}

fake repeat
run repeat
ok "the same page forever: the sync fails (and ends)" [ "$(cat "$T/repeat.rc")" = 1 ]
like "the error says the page repeats" "$(cat "$T/repeat.log")" 'repeats the page before it'
is "nothing was committed" "$(git --git-dir="$T/repeat.git" rev-parse -q --verify refs/heads/main)" ""

fake grow
run grow ", list_max_items: 1000"
ok "new items forever: the sync fails (and ends)" [ "$(cat "$T/grow.rc")" = 1 ]
like "the error names list_max_items" "$(cat "$T/grow.log")" 'more than 1000 items \(list_max_items\)'
is "nothing was committed" "$(git --git-dir="$T/grow.git" rev-parse -q --verify refs/heads/main)" ""

fake grow --latency-ms 200
run slow ", list_timeout: 2s"
ok "a listing running long: the sync fails (and ends)" [ "$(cat "$T/slow.rc")" = 1 ]
like "the error names list_timeout" "$(cat "$T/slow.log")" 'still listing after 2000 ms \(list_timeout\)'

"$GITSYNCD" --allow-root -c "$T/slow.yaml" check-config > "$T/check.out" 2>&1
like "check-config shows the bounds" "$(cat "$T/check.out")" 'at most 1000000 items and 2000ms per kind'
printf 'workspaces:\n  - name: w\n    platform: { profile: demo, url: "http://x/", token: t, list_max_items: 0 }\n    git: { url: "file:///x" }\n' > "$T/bad.yaml"
"$GITSYNCD" --allow-root -c "$T/bad.yaml" check-config > "$T/bad.out" 2>&1
like "list_max_items: 0 is refused, naming the key" "$(cat "$T/bad.out")" 'list_max_items'
done_testing
