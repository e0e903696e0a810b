#!/bin/sh
# Junk on the public webhook address.  Requests for workspaces that do not
# exist, with long random names, share one "unknown" label and grow no
# state.  Requests that fail authentication have a budget of their own per
# client, so a flood of them cannot get a signed webhook refused with 429;
# behind a trusted proxy the client is the one X-Forwarded-For or Forwarded
# names, and from anyone else those headers are ignored.  With
# hide_workspaces, an unknown workspace cannot be told from a known one.
. "$top_srcdir/tests/e2e/lib.sh"
plan 16

GSECRET=gsec-junk-5e7a11
GPORT=$(free_port)
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
rate_limit: 0
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:1/api/v1", token: junk-token-1234}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $GSECRET}
    sync: {interval: 0}
YAML
spawn "$T/gitsyncd.log" "$GITSYNCD" --allow-root -c "$T/g.yaml" serve
wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"

# junk METHOD N: N requests to /hooks/<4,000 random characters>/git over
# keep-alive connections; prints the status codes seen, counted.
junk() {
    python3 - "$GPORT" "$1" "$2" <<'PY'
import http.client, random, string, sys, collections
port, method, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
codes = collections.Counter()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for i in range(n):
    name = "".join(random.choice(string.ascii_letters) for _ in range(4000))
    c.request(method, "/hooks/%s/git" % name, body=b"{}" if method == "POST" else None)
    r = c.getresponse(); r.read(); codes[r.status] += 1
    if r.getheader("Connection", "").lower() == "close":
        c.close(); c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))
PY
}
m0=$(curl -s "http://127.0.0.1:$GPORT/metrics" | wc -c)
junk GET 1500 >/dev/null
junk POST 500 >/dev/null
m=$(curl -s "http://127.0.0.1:$GPORT/metrics")
labels=$(printf '%s\n' "$m" | grep '^gitsyncd_webhook_requests_total' | sed 's/.*workspace="\([^"]*\)".*/\1/' | sort -u | cut -c1-40 | head -n 3 | tr '\n' ' ')
is "2,000 requests for unknown names share the workspace label \"unknown\"" "$labels" "unknown "
is "... counted: 1,500 GETs as 405" "$(printf '%s\n' "$m" | grep '^gitsyncd_webhook_requests_total.*code="405"' | cut -c1-120 | head -n 2)" 'gitsyncd_webhook_requests_total{workspace="unknown",source="git",code="405"} 1500'
size=$(printf '%s' "$m" | wc -c)
if [ "$size" -lt $((m0 + 4096)) ]; then pass "/metrics did not grow with the names ($m0 -> $size bytes)"; else fail "/metrics grew from $m0 to $size bytes"; fi
like "... and the daemon still answers" "$(curl -s "http://127.0.0.1:$GPORT/healthz")" '"ok"'
kill $!; wait $! 2>/dev/null
while (exec 3<>"/dev/tcp/127.0.0.1/$GPORT") 2>/dev/null; do sleep 0.1; done

# serve EXTRA: a daemon with a small budget (20 at once, then one every 2 s).
serve() {
    GPORT=$(free_port)
    cat > "$T/r.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
rate_limit: 0.5
rate_burst: 20
$1
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:1/api/v1", token: junk-token-1234}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $GSECRET}
    sync: {interval: 0}
YAML
    spawn "$T/r-$GPORT.log" "$GITSYNCD" --allow-root -c "$T/r.yaml" serve
    RPID=$!
    wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/r-$GPORT.log")"
}
stop() { kill "$RPID"; wait "$RPID" 2>/dev/null; }
# signed [HEADER]: the code of a correctly signed GitHub ping (200).
signed() {
    sig=$(printf '{"zen":"hi"}' | openssl dgst -sha256 -hmac "$GSECRET" | sed 's/^.* //')
    curl -s -o /dev/null -w '%{http_code}' -H 'X-GitHub-Event: ping' \
        -H "X-Hub-Signature-256: sha256=$sig" ${1:+-H "$1"} -d '{"zen":"hi"}' \
        "http://127.0.0.1:$GPORT/hooks/w/git"
}
# flood N PATH [HEADER]: N unsigned POSTs; prints the codes counted.
flood() {
    python3 - "$GPORT" "$1" "$2" "${3:-}" <<'PY'
import http.client, sys, collections
port, n, path, hdr = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
h = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}
if hdr:
    k, v = hdr.split(": ", 1); h[k] = v
codes = collections.Counter()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for i in range(n):
    c.request("POST", path, body=b"{}", headers=h)
    r = c.getresponse(); r.read(); codes[r.status] += 1
print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))
PY
}

serve ""
like "300 unauthenticated POSTs to an unknown workspace: 404, then 429" "$(flood 300 /hooks/nosuch/git)" '^404:20 429:280$'
like "... and 300 with a bad signature to a real one: all 429 (one budget for failures)" "$(flood 300 /hooks/w/git)" '^429:300$'
is "a correctly signed webhook from the same address right after is answered 200" "$(signed)" 200
for i in $(seq 1 25); do signed >/dev/null; done
is "signed webhooks still have their own limit" "$(signed)" 429
is "without trusted_proxies, X-Forwarded-For is ignored (no fresh budget)" "$(signed 'X-Forwarded-For: 198.51.100.7')" 429
stop

serve "trusted_proxies: [127.0.0.1/32, '::1']"
for i in $(seq 1 25); do signed 'X-Forwarded-For: 198.51.100.1' >/dev/null; done
is "behind a trusted proxy, a client that used its budget gets 429" "$(signed 'X-Forwarded-For: 198.51.100.1')" 429
is "... and one prepending a made-up hop is still that client" "$(signed 'X-Forwarded-For: 192.0.2.55, 198.51.100.1')" 429
is "... while another client behind the same proxy gets 200 (X-Forwarded-For)" "$(signed 'X-Forwarded-For: 198.51.100.2')" 200
is "... and another one named by Forwarded gets 200 too" "$(signed 'Forwarded: for="198.51.100.3:4711";proto=https')" 200
stop

# answer WORKSPACE [EVENT-HEADER]: code and body of an unsigned POST.
answer() {
    curl -s -w ' %{http_code}' -X POST -H 'X-Hub-Signature-256: sha256=00' ${2:+-H "$2"} \
        -d '{}' "http://127.0.0.1:$GPORT/hooks/$1/git" | tr -d '\n'
}
serve ""
like "by default an unknown workspace is 404, a known one with a bad signature 401" \
    "$(answer nosuch 'X-GitHub-Event: push')|$(answer w 'X-GitHub-Event: push')" ' 404\|.* 401$'
stop
serve "hide_workspaces: true"
a=$(answer nosuch 'X-GitHub-Event: push'); b=$(answer w 'X-GitHub-Event: push')
c=$(answer w); d=$(answer nosuch)
is "hide_workspaces: unknown, bad signature and no event header are answered alike" "$a|$b|$c" "$d|$d|$d"
like "... with 401" "$d" ' 401$'
stop
done_testing
