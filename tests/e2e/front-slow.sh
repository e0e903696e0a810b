#!/bin/sh
# Slow and many clients cannot hold the daemon.  request_timeout bounds the
# whole time to receive a request (a byte every second does not keep a
# connection open); max_connections caps open connections, closing the
# ones over it at once and counting them; out of descriptors, the listener
# pauses instead of spinning, and libevent's own lines go through our log
# under the flood guard.
. "$top_srcdir/tests/e2e/lib.sh"
plan 11

git init -q --bare -b main "$T/remote.git"
# serve EXTRA [ULIMIT]: a daemon with one request thread and EXTRA config.
serve() {
    GPORT=$(free_port)
    cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
http_threads: 1
request_timeout: 3s
$1
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:1/api/v1", token: slow-token-1234}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: gsec-slow-4242}
    sync: {interval: 0}
YAML
    LOG=$T/g-$GPORT.log
    spawn "$LOG" sh -c "ulimit -n ${2:-1024} && exec \"\$0\" --allow-root -c \"\$1\" serve" "$GITSYNCD" "$T/g.yaml"
    GPID=$!
    wait_port "$GPORT" || bail "gitsyncd did not start: $(cat "$LOG")"
}
stop() { kill "$GPID"; wait "$GPID" 2>/dev/null; }
# clients MODE N SECONDS: N connections doing MODE for SECONDS; prints
# "open=<still open at the end> cpu=<daemon CPU seconds> healthz=<code>".
clients() {
    python3 - "$GPORT" "$GPID" "$1" "$2" "$3" <<'PY'
import os, socket, sys, time, http.client
port, pid, mode, n, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        continue
    if mode in ("drip", "half"):
        s.sendall(b"POST /hooks/w/git HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    socks.append(s)
c0, t0 = cpu(), time.time()
while time.time() - t0 < secs:
    time.sleep(1)
    if mode == "drip":
        for s in socks:
            try:
                s.sendall(b"a")
            except OSError:
                pass
used = cpu() - c0
def is_open(s):
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
still = sum(1 for s in socks if is_open(s))
for s in socks:
    s.close()
code = "none"
t1 = time.time()
while time.time() - t1 < 10:
    try:
        h = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        h.request("GET", "/healthz"); code = h.getresponse().status
        break
    except OSError:
        time.sleep(0.2)
print("open=%d cpu=%.2f healthz=%s" % (still, used, code))
PY
}

serve ""
out=$(clients drip 40 7)
like "40 clients sending a byte a second are all closed within request_timeout (3 s) + slack" "$out" '^open=0 '
like "... and the daemon answers /healthz" "$out" 'healthz=200$'
like "... counted in gitsyncd_requests_timed_out_total" "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep '^gitsyncd_requests_timed_out_total')" ' (4[0-9]|[5-9][0-9])$'
is "a request sent in time is still answered" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GPORT/healthz")" 200
stop

serve "max_connections: 30"
out=$(clients idle 60 1)
like "with max_connections 30, 60 idle connections: 30 are closed at once" "$out" '^open=30 '
like "... counted in gitsyncd_connections_refused_total" "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep '^gitsyncd_connections_refused_total')" ' 30$'
stop

serve "" 200
out=$(clients half 260 3)
cpu=$(printf '%s' "$out" | sed 's/.*cpu=\([0-9.]*\).*/\1/')
if awk -v c="$cpu" 'BEGIN { exit !(c < 0.4) }'; then
    pass "out of descriptors (ulimit -n 200, 260 half requests) the daemon does not spin ($cpu s of CPU in 3 s)"
else
    fail "out of descriptors the daemon spun: $cpu s of CPU in 3 s"
fi
like "... and answers /healthz once the slow ones are gone" "$out" 'healthz=200$'
size=$(wc -c < "$LOG")
if [ "$size" -lt 200000 ]; then pass "... and its log stays small ($size bytes)"; else fail "... its log grew to $size bytes"; fi
unlike "... with no raw libevent line in it" "$(cat "$LOG")" '^\[(warn|err)\]'
like "... but a line of ours about the accept errors" "$(cat "$LOG")" 'msg="cannot accept connections; pausing the listener" error="Too many open files"'
stop
done_testing
