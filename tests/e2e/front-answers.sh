#!/bin/sh
# Every answer is JSON, counted and logged, also those libevent gives by
# itself before any route is known (a body over max_body, Content-Length
# with Transfer-Encoding, 70 KB of headers (400), Content-Length: -1, a method
# it does not implement); two different Content-Length headers get 400
# and the connection is closed, so nothing after them is read as a request.
. "$top_srcdir/tests/e2e/lib.sh"
plan 12

GPORT=$(free_port)
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
max_body: 1KiB
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:1/api/v1", token: answers-token-1234}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: gsec-answers-9876}
    sync: {interval: 0}
YAML
spawn "$T/gitsyncd.log" "$GITSYNCD" --allow-root -c "$T/g.yaml" serve
wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"

# raw NAME: send the request called NAME as bytes; print "CODE CONTENT-TYPE
# BODY" of the first answer, then "answers=N" (answers on the connection).
raw() {
    python3 - "$GPORT" "$1" <<'PY'
import socket, sys
port, name = int(sys.argv[1]), sys.argv[2]
big = "X-Big: " + "a" * 70000 + "\r\n"
reqs = {
 "toolarge": "POST /hooks/w/git HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + "{" * 2000,
 "cl-te": "POST /hooks/w/git HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
 "bigheader": "GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + "\r\n",
 "negative": "POST /hooks/w/git HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
 "method": "TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
 "twolengths": "POST /hooks/w/git HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
               "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
}
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(reqs[name].encode())
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
text = data.decode("latin-1")
head, _, rest = text.partition("\r\n\r\n")
lines = head.split("\r\n")
code = lines[0].split(" ")[1] if lines and " " in lines[0] else "none"
ctype = next((l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("content-type:")), "none")
clen = next((int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:")), 0)
print(code, ctype, rest[:clen].strip())
print("answers=%d" % text.count("HTTP/1.1 "))
PY
}
for r in toolarge:413 cl-te:400 bigheader:400 negative:400 method:501; do
    out=$(raw "${r%%:*}")
    like "${r%%:*}: answered ${r#*:} with a JSON error" "$(printf '%s' "$out" | head -n 1)" "^${r#*:} application/json \\{\"error\": ?\"[^\"]+\"\\}\$"
done
out=$(raw twolengths)
like "two different Content-Length headers: 400, JSON" "$(printf '%s' "$out" | head -n 1)" '^400 application/json \{"error": ?"Content-Length'
is "... and the connection closed: the bytes after it were not answered" "$(printf '%s' "$out" | tail -n 1)" "answers=1"
m=$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep '^gitsyncd_http_errors_total')
like "413 answers are counted" "$m" 'gitsyncd_http_errors_total\{code="413"\} 1'
like "400 answers are counted" "$m" 'gitsyncd_http_errors_total\{code="400"\} 4'
like "501 answers are counted" "$m" 'gitsyncd_http_errors_total\{code="501"\} 1'
log=$(cat "$T/gitsyncd.log")
is "each refusal was logged" "$(printf '%s\n' "$log" | grep -c 'msg="request refused"')" 6
like "... with its code" "$log" 'msg="request refused" code=413'
done_testing
