#!/bin/sh
# One redaction for every output, before any escaping.  A platform that
# echoes the request's token in its error body ("invalid credentials:
# Bearer <token>"), with a token holding a quote and a backslash, and a
# platform.url with user:password@ that cannot be reached: neither the
# token nor the password shows in the log (logfmt and json), /status,
# `sync --once` or check-config, and URLs are printed without userinfo.
. "$top_srcdir/tests/e2e/lib.sh"
plan 14

TOKEN='tok"S3CRET\bs-4e1f90'
UPASS=upw-S3CRET-urlpass-8c2d
PPORT=$(free_port); GPORT=$(free_port); DEAD=$(free_port)
export E2E_TOKEN=$TOKEN
cat > "$T/echo.py" <<'PY'
# A platform that refuses every request, echoing its Authorization header.
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"error": "invalid credentials: %s" % self.headers.get("Authorization", "")}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
git init -q --bare -b main "$T/remote.git"
# config FORMAT: a daemon configuration logging in FORMAT.
config() {
    cat > "$T/g-$1.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state-$1
log: { level: debug, format: $1 }
workspaces:
  - name: echo
    platform: {profile: generic-rest, url: "http://127.0.0.1:$PPORT", token: "\${E2E_TOKEN}", timeout: 3s, max_retries: 0}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: gsec-outputs-1234}
    sync: {interval: 0}
  - name: userinfo
    platform: {profile: generic-rest, url: "http://apiuser:$UPASS@127.0.0.1:$DEAD", token: plain-token-5678, timeout: 3s, max_retries: 0}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: gsec-outputs-1234}
    sync: {interval: 0}
YAML
}
# clean NAME TEXT: neither secret (nor the token's escaped forms) in TEXT.
clean() {
    leaked=""
    for s in "$TOKEN" 'tok\"S3CRET' 'S3CRET\\bs' "bs-4e1f90" "$UPASS"; do
        printf '%s' "$2" | grep -qF -- "$s" && leaked="$leaked [$s]"
    done
    if [ -z "$leaked" ]; then pass "$1"; else fail "$1" "leaked:$leaked" "$(printf '%s' "$2" | grep -F S3CRET | head -n 3)"; fi
}

spawn "$T/echo.log" python3 "$T/echo.py" "$PPORT"
wait_port "$PPORT" || bail "the echoing platform did not start"

for fmt in logfmt json; do
    config $fmt
    spawn "$T/gitsyncd-$fmt.log" "$GITSYNCD" --allow-root -c "$T/g-$fmt.yaml" serve
    GPID=$!
    wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/gitsyncd-$fmt.log")"
    failed() { [ "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep -c '^gitsyncd_jobs_total{workspace="\(echo\|userinfo\)",result="error"}')" -eq 2 ]; }
    wait_for 30 failed || diag "the workspaces did not fail yet: $(tail -n 5 "$T/gitsyncd-$fmt.log")"
    st=$(curl -s "http://127.0.0.1:$GPORT/status")
    kill "$GPID"; wait "$GPID" 2>/dev/null
    while (exec 3<>"/dev/tcp/127.0.0.1/$GPORT") 2>/dev/null; do sleep 0.1; done
    log=$(cat "$T/gitsyncd-$fmt.log")
    like "$fmt: the log reports the echoed refusal" "$log" 'invalid credentials: Bearer <redacted>'
    clean "$fmt: no log line holds the token (with \" and \\) or the URL password" "$log"
    like "$fmt: /status reports the refusal" "$st" 'invalid credentials: Bearer <redacted>'
    clean "$fmt: /status holds neither secret" "$st"
done
like "the unreachable URL is named without userinfo" "$log" "http://127.0.0.1:$DEAD"

out=$("$GITSYNCD" --allow-root -c "$T/g-logfmt.yaml" sync --once echo 2>&1)
like "sync --once reports the refusal" "$out" 'error: .*invalid credentials: Bearer <redacted>'
clean "... and prints no secret" "$out"
out=$("$GITSYNCD" --allow-root -c "$T/g-logfmt.yaml" sync --once userinfo 2>&1)
clean "sync --once of the unreachable URL prints no password" "$out"
out=$("$GITSYNCD" check-config "$T/g-logfmt.yaml" 2>&1)
clean "check-config prints no secret" "$out"
like "... and the URL without userinfo" "$out" "profile generic-rest, http://127.0.0.1:$DEAD\$"
done_testing
