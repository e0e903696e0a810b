#!/bin/sh
# The daemon's HTTP front over real HTTP: status codes, JSON errors,
# duplicates, metrics that promtool accepts, SIGHUP and SIGTERM.
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=$top_builddir/contrib/demo-platform/demo-platform
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 29

PPORT=$(free_port); GPORT=$(free_port)
SECRET=front-test-secret-91ab
PSECRET=whsec_$(printf 'front-platform-secret-5566' | base64)
git init -q --bare -b main "$T/remote.git"
write_config() {
    cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
max_body: 64KiB
rate_limit: 0
http_threads: 3
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:$PPORT/api/v1", token: tok, webhook_secret: "$PSECRET"}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $SECRET}
    sync: {interval: 0}
$1
YAML
}
write_config ""
spawn "$T/platform.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token tok --latency-ms 1500
wait_port "$PPORT" || bail "no platform"
spawn "$T/gitsyncd.log" "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" serve
GPID=$!
wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"
U=http://127.0.0.1:$GPORT

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1; }
push_body='{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"full_name":"remote"},"commits":[{"added":["models/a.yaml"]}]}'
gh() { # gh DELIVERY BODY [SIG]
    code -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $1" -H 'Content-Type: application/json' \
        -H "X-Hub-Signature-256: sha256=${3:-$(sign "$2")}" --data-binary "$2" "$U/hooks/w/git"
}

is "a signed push is accepted" "$(gh d-1 "$push_body")" 202
is "the same delivery again is a duplicate" "$(gh d-1 "$push_body")" 200
like "and says so" "$(cat "$T/body")" '"status":"duplicate"'
# Three request threads, each with its own socket: new connections land on
# any of them, and they share one memory of deliveries.
codes=$(for i in $(seq 20); do gh d-many "$push_body"; echo; done | sort | uniq -c | awk '{printf "%s*%s ", $1, $2}')
is "one delivery over 20 connections (3 request threads): queued once" "$codes" "19*200 1*202 "
# A second daemon on the same address is refused, though the first one's
# sockets let others of the same user share the port (SO_REUSEPORT).
# (A state_dir of its own: the first one's is locked, DESIGN §4.1.)
sed "s|^state_dir: .*|state_dir: $T/state-second|" "$T/gitsyncd.yaml" > "$T/second.yaml"
timeout 10 "$GITSYNCD" --allow-root -c "$T/second.yaml" serve > "$T/second.log" 2>&1; rc=$?
like "a second gitsyncd on the same listen address fails" "$rc:$(cat "$T/second.log")" "^[1-9][0-9]*:.*cannot listen on 127.0.0.1:$GPORT: Address already in use"
is "a wrong signature is 401" "$(gh d-2 "$push_body" 0000)" 401
like "the error is JSON naming the header" "$(cat "$T/body")" '^\{"error":"X-Hub-Signature-256 does not match the body"\}'
is "malformed JSON with a valid signature is 400" "$(gh d-3 '{"ref": ' )" 400
like "the error says where" "$(cat "$T/body")" '"error":"malformed JSON at line 1, column 9: parse error: premature EOF"'
gh d-3b '{"ref":"refs/heads/main",
"ref":"refs/heads/other"}' >/dev/null
like "a key twice in a signed body is refused, by name and line" "$(cat "$T/body")" '"error":"malformed JSON at line 2, column 6: duplicate object key \\"ref\\""'
# A header that is not UTF-8 is echoed with '?' (it used to crash the
# daemon: jansson refuses to encode it).
is "a push event header that is not UTF-8 is answered" "$(code -H "$(printf 'X-GitHub-Event: p\377sh')" -H "X-Hub-Signature-256: sha256=$(sign '{}')" -d '{}' "$U/hooks/w/git")" 200
like "naming the event with '?' for the byte" "$(cat "$T/body")" '"reason":"github event \\"p\?sh\\" ignored"'
is "GET on a hook is 405" "$(code "$U/hooks/w/git")" 405
is "an unknown workspace is 404" "$(code -X POST -d '{}' "$U/hooks/nope/git")" 404
head -c 70000 /dev/zero | tr '\0' 'x' > "$T/big"
is "a body over max_body is 413" "$(code -H 'X-GitHub-Event: push' --data-binary @"$T/big" "$U/hooks/w/git")" 413
is "an unknown route is 404" "$(code "$U/nothing")" 404
ts=$(date +%s)
pbody='{"type":"model.updated","data":{"seq":1,"kind":"model","id":1,"slug":"m","action":"updated","actor":{"name":"A","email":"a@x"}}}'
key=$(printf '%s' "${PSECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
psig=$(printf '%s' "msg_1.$ts.$pbody" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64)
is "a signed platform event is accepted" "$(code -H "webhook-id: msg_1" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$psig" --data-binary "$pbody" "$U/hooks/w/platform")" 202
old=$((ts - 400))
is "an expired webhook-timestamp is 401" "$(code -H "webhook-id: msg_2" -H "webhook-timestamp: $old" -H "webhook-signature: v1,$psig" --data-binary "$pbody" "$U/hooks/w/platform")" 401

is "/healthz is 200" "$(code "$U/healthz")" 200
is "/readyz is 200" "$(code "$U/readyz")" 200
curl -s "$U/metrics" > "$T/metrics"
if command -v promtool >/dev/null 2>&1; then
    out=$(promtool check metrics < "$T/metrics" 2>&1); rc=$?
    is "promtool check metrics accepts /metrics" "$rc:$out" "0:"
else
    skip "promtool check metrics accepts /metrics" "promtool not installed"
fi
like "the two 202s were counted" "$(cat "$T/metrics")" 'gitsyncd_webhook_requests_total\{workspace="w",source="git",code="202"\} 2'
gh d-4 "$push_body" >/dev/null
like "and the counter moves with the next webhook" "$(curl -s "$U/metrics")" 'gitsyncd_webhook_requests_total\{workspace="w",source="git",code="202"\} 3'
unlike "no secret in /metrics or /status" "$(cat "$T/metrics"; curl -s "$U/status")" "$SECRET|tok\"|front-platform"

# SIGHUP picks up a new workspace; a broken file keeps the old configuration.
write_config "  - name: w2
    platform: {profile: demo, url: \"http://127.0.0.1:$PPORT/api/v1\", token: tok, insecure_no_signature: true}
    git: {url: \"file://$T/remote.git\", host: github, webhook_secret: $SECRET}"
kill -HUP "$GPID"
wait_for 5 grep -q 'configuration reloaded' "$T/gitsyncd.log"
is "after SIGHUP the new workspace answers" "$(code -X POST -H 'X-GitHub-Event: ping' -H "X-Hub-Signature-256: sha256=$(sign '{}')" -d '{}' "$U/hooks/w2/git")" 200
echo "workers: [" >> "$T/gitsyncd.yaml"
kill -HUP "$GPID"
wait_for 5 grep -q 'reload failed' "$T/gitsyncd.log"
is "a broken reload keeps the old configuration" "$(code -X POST -H 'X-GitHub-Event: ping' -H "X-Hub-Signature-256: sha256=$(sign '{}')" -d '{}' "$U/hooks/w2/git")" 200

# SIGTERM while a job runs (the platform answers in 1.5 s): it finishes first.
gh d-5 "$(echo "$push_body" | sed 's/1111/2222/')" >/dev/null
wait_for 5 grep -q 'push queued.*d-5' "$T/gitsyncd.log"
sleep 0.3
like "while it runs, /metrics counts it as running" "$(curl -s "$U/metrics")" 'gitsyncd_jobs_running [1-9]'
kill -TERM "$GPID"
wait "$GPID"; rc=$?
is "SIGTERM exits 0" "$rc" 0
last=$(grep -E 'sync (done|failed)|gitsyncd stopped' "$T/gitsyncd.log" | tail -n 2 | sed 's/.*msg="\([^"]*\)".*/\1/' | tr '\n' '|')
is "the running job finished before the exit" "$last" "sync done|gitsyncd stopped|"
done_testing
