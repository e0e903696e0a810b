#!/bin/sh
# The per-client rate limit: past rate_burst requests at once, 429 with
# Retry-After and a JSON error; the bucket refills at rate_limit per second.
. "$top_srcdir/tests/e2e/lib.sh"
plan 4
GPORT=$(free_port)
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
rate_limit: 2
rate_burst: 3
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:1/api/v1", token: tok, insecure_no_signature: true}
    git: {url: "file://$T/remote.git", webhook_secret: rl-secret}
    sync: {interval: 0}
YAML
spawn "$T/g.log" "$GITSYNCD" --allow-root -c "$T/g.yaml" serve
wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/g.log")"
post() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X POST -H 'X-GitHub-Event: ping' -d '{}' "http://127.0.0.1:$GPORT/hooks/w/git"; }
codes=$(for i in 1 2 3 4 5; do post; echo; done | tr '\n' ' ')
is "three requests pass (401: unsigned), then 429" "$codes" "401 401 401 429 429 "
like "the 429 says to retry later" "$(cat "$T/headers")" 'Retry-After: 1'
like "with a JSON error" "$(cat "$T/body")" '^\{"error":"too many requests from this address"\}'
sleep 1.2
is "the bucket refills at rate_limit per second" "$(post)" 401
done_testing
