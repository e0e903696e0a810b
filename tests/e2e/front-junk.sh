#!/bin/sh
# Junk on the public webhook address.  Requests for workspaces that do not
# exist, with long random names, share one "unknown" label and grow no
# state.
. "$top_srcdir/tests/e2e/lib.sh"
plan 4

GSECRET=gsec-junk-5e7a11
GPORT=$(free_port)
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
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
done_testing
