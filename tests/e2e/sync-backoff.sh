#!/bin/sh
# A workspace whose platform hangs backs off (capped exponential, logged,
# in /status) instead of taking a worker again at each event or interval;
# another workspace keeps syncing on the one worker.
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=${DEMO_PLATFORM:-$top_builddir/contrib/demo-platform/demo-platform}
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 6
PTOKEN=e2e-backoff-token-6a1
PSECRET=whsec_$(printf 'e2e-backoff-webhook-secret' | base64)
export GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles
FPORT=$(free_port); DPORT=$(free_port); GPORT=$(free_port)
spawn "$T/fake.log" python3 "$top_srcdir/tests/e2e/fake-endless.py" "$FPORT" "$PTOKEN" hang --count "$T/requests"
spawn "$T/demo.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$DPORT" --token "$PTOKEN" \
    --webhook-secret "$PSECRET" --webhook-url "http://127.0.0.1:$GPORT/hooks/good/platform"
wait_port "$FPORT" 10 || bail "the fake platform did not start: $(cat "$T/fake.log")"
wait_port "$DPORT" 10 || bail "the demo platform did not start: $(cat "$T/demo.log")"
git init -q --bare -b main "$T/hung.git"
git init -q --bare -b main "$T/good.git"
cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
workers: 1
state_dir: $T/state
log: { level: info }
workspaces:
  - name: hung
    platform: { profile: demo, url: "http://127.0.0.1:$FPORT/api/v1", token: $PTOKEN, timeout: 1s, max_retries: 0 }
    git: { url: "file://$T/hung.git" }
    sync: { interval: 1s }
  - name: good
    platform: { profile: demo, url: "http://127.0.0.1:$DPORT/api/v1", token: $PTOKEN, webhook_secret: "$PSECRET" }
    git: { url: "file://$T/good.git" }
    sync: { interval: 0 }
YAML
spawn "$T/gitsyncd.log" "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" serve
wait_port "$GPORT" 10 || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"
wait_for 20 test -s "$T/requests" || bail "gitsyncd never asked the hung platform: $(cat "$T/gitsyncd.log")"
start=$(wc -l < "$T/requests")
sleep 14
asked=$(( $(wc -l < "$T/requests") - start ))
# Without a backoff the 1 s interval and the 1 s timeout ask about 14
# times; with 1, 2, 4, 8 s waits it is 4 or 5.
ok "the hung platform is asked at most 6 times in 14 s (asked $asked)" [ "$asked" -le 6 ]
like "the backoff is logged" "$(cat "$T/gitsyncd.log")" 'its next job waits \(backoff\).*workspace=hung.*consecutive_failures=[2-9]'
status=$(curl -sS "http://127.0.0.1:$GPORT/status")
is "/status shows the failures and the wait" \
    "$(printf '%s' "$status" | python3 -c 'import json,sys; w=json.load(sys.stdin)["workspaces"]["hung"]; print(w["consecutive_failures"] >= 2, w["backoff_seconds"] >= 2)')" "True True"

# The other workspace syncs on the single worker meanwhile.
curl -sS -H "Authorization: Bearer $PTOKEN" -H 'Content-Type: application/json' \
    -X POST --data '{"slug":"meanwhile","name":"M","sourceId":1,"queryType":"raw_sql"}' \
    "http://127.0.0.1:$DPORT/api/v1/models" > /dev/null
committed() { git --git-dir="$T/good.git" ls-tree -r --name-only main 2>/dev/null | grep -q models/meanwhile.yaml; }
if wait_for 15 committed; then pass "another workspace syncs while the hung one backs off"
else fail "another workspace syncs while the hung one backs off" "$(tail -n 20 "$T/gitsyncd.log")"; fi
status=$(curl -sS "http://127.0.0.1:$GPORT/status")
is "the other workspace shows no failure" \
    "$(printf '%s' "$status" | python3 -c 'import json,sys; w=json.load(sys.stdin)["workspaces"]["good"]; print(w["last_result"], w.get("consecutive_failures", 0))')" "ok 0"
like "the hung workspace's error names the platform timeout" \
    "$(printf '%s' "$status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workspaces"]["hung"]["last_error"])')" 'reading the platform failed'
done_testing
