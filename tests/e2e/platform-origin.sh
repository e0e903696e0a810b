#!/bin/sh
# The platform token goes only to the scheme, host and port of
# platform.url.  A platform answer (here a fake generic-rest server) whose
# Link rel="next" points at another port, another host or another scheme
# is refused with an error naming that URL; nothing is sent there, least
# of all the token.  A next link on the same origin is still followed.
. "$top_srcdir/tests/e2e/lib.sh"
plan 9

TOKEN=tok-origin-S3CRET-77a1
PPORT=$(free_port); STEAL=$(free_port)
cat > "$T/fake.py" <<'PY'
# A generic-rest platform whose listing pages point wherever NEXT says.
import http.server, json, sys, threading
port, steal, log, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write("%d %s auth=%s\n" % (self.server.server_port, self.path,
                                         self.headers.get("Authorization", "")))
        if self.path.startswith("/dashboards") and "_page=2" not in self.path:
            items = [{"id": 1, "slug": "one", "title": "One"}]
            nxt = {"port": "http://127.0.0.1:%d/steal?_page=2" % steal,
                   "host": "http://localhost:%d/dashboards?_page=2" % port,
                   "scheme": "https://127.0.0.1:%d/dashboards?_page=2" % port,
                   "same": "http://127.0.0.1:%d/dashboards?_page=2&_limit=100" % port}[mode]
            body = json.dumps(items).encode()
            self.send_response(200)
            self.send_header("Link", '<%s>; rel="next"' % nxt)
        else:
            body = json.dumps([{"id": 2, "slug": "two", "title": "Two"}]
                              if "_page=2" in self.path and self.path.startswith("/dashboards") else []).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), H) for p in (port, steal)]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$(free_port)
state_dir: $T/state
workspaces:
  - name: w
    platform: {profile: generic-rest, url: "http://127.0.0.1:$PPORT", token: $TOKEN, timeout: 5s}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: gsec-origin-1234}
    sync: {interval: 0}
YAML

# run MODE: sync --once against a platform whose next link is of MODE.
run() {
    : > "$T/req.log"
    spawn "$T/fake-$1.log" python3 "$T/fake.py" "$PPORT" "$STEAL" "$T/req.log" "$1"
    FPID=$!
    wait_port "$PPORT" && wait_port "$STEAL" || bail "the fake platform did not start: $(cat "$T/fake-$1.log")"
    out=$("$GITSYNCD" --allow-root -c "$T/g.yaml" sync --once w 2>&1); rc=$?
    kill "$FPID"; wait "$FPID" 2>/dev/null
    while (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null; do sleep 0.1; done
}

run port
is "a next link to another port fails the sync" "$rc" 1
like "... naming the refused URL" "$out" "refused to send the token to http://127.0.0.1:$STEAL/steal"
unlike "... and the other port got no request at all" "$(cat "$T/req.log")" "^$STEAL "
unlike "... and the token is nowhere in the output" "$out" "$TOKEN"

run host
unlike "a next link to another host name (localhost) gets no request" "$(cat "$T/req.log")" "_page=2"
like "... and is refused by name" "$out" "refused to send the token to http://localhost:$PPORT/"

run scheme
unlike "a next link to https on the same host and port gets no request" "$(cat "$T/req.log")" "_page=2"

run same
like "a next link on the same origin is followed, with the token" "$(cat "$T/req.log")" "_page=2.* auth=Bearer $TOKEN"
is "... and that sync succeeds with both pages" "$rc:$(git --git-dir="$T/remote.git" ls-tree -r --name-only main 2>/dev/null | tr '\n' ' ')" "0:dashboards/one.yaml dashboards/two.yaml "
done_testing
