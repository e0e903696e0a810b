#!/bin/sh
# The per-client rate limit: past rate_burst requests at once, 429 with
# Retry-After and a JSON error; the bucket refills at rate_limit per second.
# And the log's flood guard: a flood of refused requests writes at most
# ~50 lines a second (after a burst of 200), then one line with the count.
. "$top_srcdir/tests/e2e/lib.sh"
plan 7
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

# 1,000 forged requests as fast as curl sends them (one connection), from a
# second daemon without a rate limit.
G2=$(free_port)
sed -e "s/^listen: .*/listen: 127.0.0.1:$G2/" -e "s/^rate_limit: .*/rate_limit: 1000000/" \
    -e "s/^rate_burst: .*/rate_burst: 1000000/" -e "s#^state_dir: .*#state_dir: $T/state2#" "$T/g.yaml" > "$T/g2.yaml"
spawn "$T/g2.log" "$GITSYNCD" --allow-root -c "$T/g2.yaml" serve
wait_port "$G2" || bail "the second gitsyncd did not start: $(cat "$T/g2.log")"
url=http://127.0.0.1:$G2/hooks/w/git
set --
i=0; while [ $i -lt 1000 ]; do set -- "$@" -o /dev/null "$url"; i=$((i + 1)); done
start=$(date +%s.%N)
codes=$(curl -s -w '%{http_code}\n' -X POST -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: sha256=00' -d '{}' "$@" | sort | uniq -c | awk '{print $2 "x" $1}')
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
is "all 1,000 forged requests are answered 401" "$codes" "401x1000"
lines=$(grep -c 'msg="request refused"' "$T/g2.log")
max=$(awk -v t="$took" 'BEGIN { printf "%d", 200 + 50 * (t + 1) }')
if [ "$lines" -le "$max" ] && [ "$lines" -ge 200 ]; then
    pass "the flood wrote $lines refusal lines in $took s, not 1,000 (at most $max)"
else
    fail "the flood wrote $lines refusal lines in $took s, not 1,000 (at most $max)"
fi
sleep 0.2
curl -s -o /dev/null -X POST -d '{}' "$url"
like "once lines flow again, the count of suppressed lines is logged" "$(cat "$T/g2.log")" \
    'msg="webhook log lines suppressed \(too many refused or ignored requests\)" count=[1-9][0-9]*'
done_testing
