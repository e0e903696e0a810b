# tests/e2e/clusterlib.sh: real parts for the cluster-mode tests (issue 18):
# a throwaway PostgreSQL 15 server, HAProxy in front of three gitsyncd
# replicas serving workspace "w", the demo platform and a bare remote whose
# webhooks go to HAProxy, and a working clone.  Source after lib.sh and
# synclib.sh.  Every process is the test's own, on 127.0.0.1 and ports from
# free_port, and is stopped at exit.
#
#   cluster_require               skip_all unless PostgreSQL, HAProxy and the
#                                 demo platform are there (before `plan`)
#   cluster_setup [interval] [replicas ("" for none; default 1 2 3)]
#                                 everything below, started
#   pg_setup / pg_stop [fast|immediate] / pg_start / pg_sql SQL [DB]
#   haproxy_start / haproxy_server_state rN -> UP, DOWN, ...
#   replica_spawn N / replica_start N (and wait until it listens) /
#   replica_kill N (kill -9) / replica_stop N (SIGTERM) / replica_wipe N
#   replica_url N / replica_ready N / replica_code N PATH / replicas_ready N...
#   platform_event URL ID BODY    a signed Standard Webhooks POST; prints the code
#   git_event URL ID BODY         a signed GitHub push POST; prints the code
#   clone_push_retry MESSAGE      commit and push, rebasing on gitsyncd's commits
#   cluster_compare               platform vs branch: "N models" when they agree
#   cluster_audit                 the platform's audit log, "action slug email"
#   cluster_logs                  every replica log, in start order
#   cluster_overlaps W            moments two replicas ran a job of workspace W
#                                 at once (empty: never), from their logs
#   cluster_takeover_delays W     after each kill -9 mid-job, how long until
#                                 another process started a job of W
#
# As root (CI) PostgreSQL runs as user postgres (initdb refuses root), on a
# directory under $T that user owns; as another user it runs as that user.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
PGDB=gitsyncd
PGUSER_=gitsyncd
PG_PASSWORD=${PG_PASSWORD:-}
REPLICAS="1 2 3"

cluster_require() {
    [ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
    for _b in initdb pg_ctl postgres; do
        [ -x "$PGBIN/$_b" ] || skip_all "PostgreSQL 15 server not installed: no $PGBIN/$_b (Debian postgresql)"
    done
    command -v psql >/dev/null 2>&1 || skip_all "psql not installed (Debian postgresql-client)"
    [ -x "$HAPROXY" ] || skip_all "HAProxy not installed: no $HAPROXY (Debian haproxy)"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 ||
            skip_all "running as root and there is no user postgres to run PostgreSQL as"
        # The server's files live under $T: postgres must be able to reach it.
        chmod o+x "$T"
        setpriv --reuid=postgres --regid=postgres --clear-groups -- test -x "$T" ||
            skip_all "user postgres cannot reach $T (is a parent of TMPDIR closed to it?)"
    fi
}

# _pg_as CMD...: CMD as the user that owns the server (postgres under root);
# setpriv execs CMD, so a spawned server's pid is the postmaster's.
PG_AS=
[ "$(id -u)" = 0 ] && PG_AS="setpriv --reuid=postgres --regid=postgres --clear-groups --"
_pg_as() { $PG_AS "$@"; }

# pg_sql SQL [DB]: run SQL as the superuser; prints unaligned tuples.
pg_sql() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres \
        -d "${2:-$PGDB}" -c "$1"
}

pg_ready() { psql -X -A -t -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c 'select 1' 2>/dev/null | grep -qx 1; }

# pg_setup: initdb, start, a role and a database for gitsyncd.  With
# PG_PASSWORD set the role has that password, the server asks for it
# (scram-sha-256) and the replicas read it from $T/pg-password.
pg_setup() {
    PGPORT=$(free_port)
    PGDIR=$T/pg
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then
        chmod o+x "$T"
        chown postgres:postgres "$PGDIR"
    fi
    (cd "$PGDIR" && _pg_as "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 \
        --locale=C --no-sync) >"$T/initdb.log" 2>&1 || bail "initdb failed: $(tail -n 5 "$T/initdb.log")"
    # A throwaway server: TCP on 127.0.0.1 only, no Unix socket, no fsync.
    cat >> "$PGDIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = ''
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 100
log_min_messages = warning
log_connections = off
CONF
    if [ -n "$PG_PASSWORD" ]; then _auth=scram-sha-256; else _auth=trust; fi
    cat > "$PGDIR/data/pg_hba.conf" <<HBA
host all postgres 127.0.0.1/32 trust
host all $PGUSER_ 127.0.0.1/32 $_auth
HBA
    pg_start
    pg_sql "create role $PGUSER_ login" postgres >/dev/null || bail "cannot create the role"
    if [ -n "$PG_PASSWORD" ]; then
        pg_sql "set password_encryption = 'scram-sha-256'; alter role $PGUSER_ password '$PG_PASSWORD'" postgres >/dev/null ||
            bail "cannot set the password"
        printf '%s\n' "$PG_PASSWORD" > "$T/pg-password"
        chmod 600 "$T/pg-password"
        SECRETS_SCAN="$SECRETS_SCAN $PG_PASSWORD"
    fi
    pg_sql "create database $PGDB owner $PGUSER_" postgres >/dev/null || bail "cannot create the database"
    PG_URL="postgres://$PGUSER_@127.0.0.1:$PGPORT/$PGDB"
}

# pg_start: start (or restart) the server on the same port and data.
pg_start() {
    _pgn=$(( ${_pgn:-0} + 1 ))
    spawn "$T/postgres-$_pgn.log" $PG_AS "$PGBIN/postgres" -D "$PGDIR/data"
    PG_PID=$!
    wait_for 60 pg_ready || bail "PostgreSQL did not start: $(tail -n 10 "$T/postgres-$_pgn.log")"
}

# pg_stop [fast|immediate]: stop the server (pg_ctl stop), keeping its data.
pg_stop() {
    [ -n "${PG_PID:-}" ] || return 0
    (cd "$PGDIR" && _pg_as "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m "${1:-fast}" -w -t 60) >>"$T/pg_ctl.log" 2>&1 ||
        kill -9 "$PG_PID" 2>/dev/null
    wait "$PG_PID" 2>/dev/null
    PG_PID=
}

# haproxy_start: HAProxy on HAPORT in front of the replicas' ports, with a
# CSV stats page on HASTATS.  A server is in rotation while its /readyz
# answers 200 (checked every 500 ms, one failure takes it out); a request
# whose server is gone is retried on another one.
haproxy_start() {
    HASTATS=$(free_port)
    {
        cat <<CFG
global
    maxconn 512
    log stderr format raw local0 info
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503
frontend gitsyncd
    bind 127.0.0.1:$HAPORT
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 1 rise 1
CFG
        for _n in $REPLICAS; do
            echo "    server r$_n 127.0.0.1:$(eval echo "\$R${_n}PORT") check"
        done
        cat <<CFG
listen stats
    bind 127.0.0.1:$HASTATS
    stats enable
    stats uri /stats
CFG
    } > "$T/haproxy.cfg"
    "$HAPROXY" -c -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 ||
        bail "haproxy rejects its configuration: $(cat "$T/haproxy-check.log")"
    spawn "$T/haproxy.log" "$HAPROXY" -f "$T/haproxy.cfg" -db
    HA_PID=$!
    wait_port "$HAPORT" 20 || bail "HAProxy did not start: $(tail -n 10 "$T/haproxy.log")"
}

# haproxy_server_state NAME: UP, DOWN, ... as HAProxy sees server NAME.
haproxy_server_state() {
    curl -s "http://127.0.0.1:$HASTATS/stats;csv" |
        awk -F, -v s="$1" '$1 == "replicas" && $2 == s { sub(/ .*/, "", $18); print $18 }'
}

# cluster_config N: the configuration of replica N (same workspace and
# secrets for all; its own listen port and state_dir).
cluster_config() {
    _port=$(eval echo "\$R${1}PORT")
    mkdir -p "$T/r$1-state"
    cat > "$T/r$1.yaml" <<YAML
listen: 127.0.0.1:$_port
workers: 2
state_dir: $T/r$1-state
log: { level: debug, format: logfmt }
cluster:
  database: "$PG_URL"
  replica: r$1
  sweep: 1s
  connect_timeout: 2s${PG_PASSWORD:+
  password_file: $T/pg-password}
workspaces:
  - name: w
    platform:
      profile: demo
      url: $PURL/api/v1
      token: $PTOKEN
      webhook_secret: $PSECRET
    git:
      url: file://$T/remote.git
      branch: main
      path: ""
      host: github
      webhook_secret: $GSECRET
      author: { name: gitsyncd, email: gitsyncd@example.com }
    sync:
      interval: $CLUSTER_INTERVAL
      conflict: platform
      max_deletes: 1000
YAML
}

replica_url() { echo "http://127.0.0.1:$(eval echo "\$R${1}PORT")"; }

# replica_code N PATH: the HTTP code of GET PATH on replica N.
replica_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(replica_url "$1")$2"; }
replica_ready() { [ "$(replica_code "$1" /readyz)" = 200 ]; }

# replica_spawn N: start replica N (a new log file each time: $T/rN-K.log
# for its K-th start).  replica_start N: the same, and wait until it listens.
replica_spawn() {
    _k=$(( $(eval echo "\${R${1}_STARTS:-0}") + 1 ))
    eval "R${1}_STARTS=$_k"
    spawn "$T/r$1-$_k.log" "$GITSYNCD" --allow-root -c "$T/r$1.yaml" --log-level debug serve
    eval "R${1}_PID=$!"
}
replica_start() {
    replica_spawn "$1"
    wait_for 60 _replica_listening_or_dead "$1"
    replica_alive "$1" && (exec 3<>"/dev/tcp/127.0.0.1/$(eval echo "\$R${1}PORT")") 2>/dev/null ||
        bail "replica r$1 did not start: $(tail -n 10 "$T/r$1-$(eval echo "\$R${1}_STARTS").log")"
}
# replica_alive N: replica N's process is running.
replica_alive() {
    _pid=$(eval echo "\${R${1}_PID:-}")
    [ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null
}
_replica_listening_or_dead() {
    ! replica_alive "$1" || (exec 3<>"/dev/tcp/127.0.0.1/$(eval echo "\$R${1}PORT")") 2>/dev/null
}
# replicas_ready N...: wait (up to 90 s) until each replica named answers
# /readyz 200; bail if one of them exits meanwhile.
replicas_ready() {
    wait_for 90 _replicas_ready_or_dead "$@"
    for _n in "$@"; do
        replica_alive "$_n" || bail "replica r$_n exited: $(tail -n 10 "$T/r$_n-$(eval echo "\$R${_n}_STARTS").log")"
    done
    for _n in "$@"; do replica_ready "$_n" || return 1; done
}
_replicas_ready_or_dead() {
    for _n in "$@"; do
        replica_alive "$_n" || return 0
        replica_ready "$_n" || return 1
    done
}

_ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# replica_kill N: kill -9 replica N; its death is recorded (time, replica,
# start number) for cluster_overlaps: a killed replica's job ends there.
replica_kill() {
    _pid=$(eval echo "\${R${1}_PID:-}")
    [ -n "$_pid" ] || return 0
    echo "$(_ts) r$1 $(eval echo "\$R${1}_STARTS")" >> "$T/deaths"
    kill -9 "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    eval "R${1}_PID="
}

# replica_stop N: SIGTERM, and wait for it to exit.
replica_stop() {
    _pid=$(eval echo "\${R${1}_PID:-}")
    [ -n "$_pid" ] || return 0
    kill -TERM "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    eval "R${1}_PID="
}

replica_wipe() { rm -rf "$T/r$1-state"; mkdir -p "$T/r$1-state"; }

# cluster_logs: every replica log, in start order.
cluster_logs() {
    for _n in $REPLICAS; do
        _k=1
        while [ -f "$T/r$_n-$_k.log" ]; do cat "$T/r$_n-$_k.log"; _k=$((_k + 1)); done
    done
}

# platform_event URL ID BODY: POST BODY signed with the platform's Standard
# Webhooks secret; prints the HTTP code (the body goes to $T/event.out).
platform_event() {
    _ts_=$(date +%s)
    _key=$(printf '%s' "${PSECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')
    _sig=$(printf '%s' "$2.$_ts_.$3" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$_key" -binary | base64)
    curl -s -o "$T/event.out" -D "$T/event.headers" -w '%{http_code}' --max-time 15 \
        -H 'Content-Type: application/json' -H "webhook-id: $2" -H "webhook-timestamp: $_ts_" \
        -H "webhook-signature: v1,$_sig" --data-binary "$3" "$1"
}

# git_event URL ID BODY: a GitHub push event signed with the Git secret.
git_event() {
    _sig=$(printf '%s' "$3" | openssl dgst -sha256 -hmac "$GSECRET" -r | cut -d' ' -f1)
    curl -s -o "$T/event.out" -D "$T/event.headers" -w '%{http_code}' --max-time 15 \
        -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $2" \
        -H "X-Hub-Signature-256: sha256=$_sig" --data-binary "$3" "$1"
}

# cluster_jobs W: "ts replica start|done" for workspace W from every log, and
# "ts replica death" from $T/deaths, merged and sorted by time.
cluster_jobs() {
    for _n in $REPLICAS; do
        _k=1
        while [ -f "$T/r$_n-$_k.log" ]; do
            awk -v w="$1" -v k="$_k" '
                /msg="cluster job (started|done)"/ {
                    ts = ""; ws = ""; r = ""
                    for (i = 1; i <= NF; i++) {
                        if ($i ~ /^ts=/) ts = substr($i, 4)
                        if ($i ~ /^workspace=/) { ws = substr($i, 11); gsub(/"/, "", ws) }
                        if ($i ~ /^replica=/) { r = substr($i, 9); gsub(/"/, "", r) }
                    }
                    if (ws == w) print ts, r, k, (/job started/ ? "start" : "done")
                }' "$T/r$_n-$_k.log"
            _k=$((_k + 1))
        done
    done
    [ -f "$T/deaths" ] && awk '{ print $1, $2, $3, "death" }' "$T/deaths"
}

# cluster_overlaps W: one line per moment two replicas ran a job of W at
# once (empty: never).  A job runs from its "started" line to its "done"
# line, or to the death of the replica's process (kill -9 loses "done").
# At one millisecond, ends sort before starts.
cluster_overlaps() {
    cluster_jobs "$1" | python3 -c '
import sys
order = {"done": 0, "death": 0, "start": 1}
ev = []
for line in sys.stdin:
    f = line.split()
    if len(f) == 4:
        ev.append((f[0], order[f[3]], f[1], f[2], f[3]))
ev.sort()
running = {}   # (replica, start number) -> ts of its open job
for ts, _, r, k, what in ev:
    if what == "start":
        for (r2, k2), t2 in running.items():
            if (r2, k2) != (r, k):
                print("%s: %s (start %s) started a job while %s (start %s) ran one since %s" % (ts, r, k, r2, k2, t2))
        running[(r, k)] = ts
    elif what == "done":
        running.pop((r, k), None)
    else:
        running.pop((r, k), None)
'
}

# cluster_takeover_delays W: for each replica killed in the middle of a job
# of W, the seconds until another process started a job of W ("never"
# when none did), one line each: how long the dead one's lock held W.
cluster_takeover_delays() {
    cluster_jobs "$1" | python3 -c '
import sys, datetime
def t(s): return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
order = {"done": 0, "death": 0, "start": 1}
ev = sorted((f[0], order[f[3]], f[1], f[2], f[3]) for f in (l.split() for l in sys.stdin) if len(f) == 4)
open_ = set()
for i, (ts, _, r, k, what) in enumerate(ev):
    if what == "start":
        open_.add((r, k))
    elif what == "done":
        open_.discard((r, k))
    elif (r, k) in open_:
        open_.discard((r, k))
        nxt = [e for e in ev[i + 1:] if e[4] == "start" and (e[2], e[3]) != (r, k)]
        print("%s %s" % (r, "%.1f" % (t(nxt[0][0]) - t(ts)) if nxt else "never"))
'
}

# cluster_job_count W: how many jobs of W were started, all replicas.
cluster_job_count() { cluster_jobs "$1" | grep -c ' start$'; }
# cluster_job_replicas W: how many replicas ran a job of W.
cluster_job_replicas() { cluster_jobs "$1" | awk '$4 == "start" { print $2 }' | sort -u | wc -l; }

# cluster_setup [interval] [replicas ("" for none)]: PostgreSQL, HAProxy, the demo
# platform (its webhooks to HAProxy), a bare remote (its post-receive hook
# to HAProxy), the replicas (default all three) and a clone.  GPORT is
# HAProxy's port, so synclib's helpers go through it.
cluster_setup() {
    CLUSTER_INTERVAL=${1:-0}
    PPORT=$(free_port); HAPORT=$(free_port)
    R1PORT=$(free_port); R2PORT=$(free_port); R3PORT=$(free_port)
    GPORT=$HAPORT
    PURL=http://127.0.0.1:$PPORT
    PEVENTS=1
    pg_setup
    git init -q --bare -b main "$T/remote.git"
    cp "$top_srcdir/contrib/git-hooks/post-receive" "$T/remote.git/hooks/post-receive"
    chmod +x "$T/remote.git/hooks/post-receive"
    git --git-dir="$T/remote.git" config gitsyncd.url "http://127.0.0.1:$HAPORT/hooks/w/git"
    git --git-dir="$T/remote.git" config gitsyncd.secret "$GSECRET"
    for _n in $REPLICAS; do cluster_config "$_n"; done
    haproxy_start
    for _n in ${2-$REPLICAS}; do replica_start "$_n"; done
    start_platform
    git clone -q "$T/remote.git" "$T/clone" 2>/dev/null
    git -C "$T/clone" config user.name "Grace Hopper"
    git -C "$T/clone" config user.email grace@example.com
}

# At exit, before lib.sh's clean-up: the replicas get SIGTERM (their
# sessions end), then PostgreSQL stops fast; then the replica logs are
# searched for the secrets (lib.sh looks at gitsyncd.log only).
_cluster_leak=""
_cluster_cleanup() {
    for _n in $REPLICAS; do
        _pid=$(eval echo "\${R${_n}_PID:-}")
        [ -n "$_pid" ] && kill -TERM "$_pid" 2>/dev/null
    done
    for _n in $REPLICAS; do
        _pid=$(eval echo "\${R${_n}_PID:-}")
        [ -n "$_pid" ] || continue
        _i=0
        while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
        kill -9 "$_pid" 2>/dev/null
    done
    [ -n "${PGDIR:-}" ] && [ -n "${PG_PID:-}" ] && pg_stop fast
    for _s in ${SECRETS_SCAN:-}; do
        for _f in "$T"/r[0-9]-*.log; do
            [ -f "$_f" ] && grep -qF -- "$_s" "$_f" && _cluster_leak="$_cluster_leak $_s($(basename "$_f"))"
        done
    done
}
trap '_cluster_cleanup; _cleanup; [ -z "$_cluster_leak" ] || { echo "Bail out! a secret is in a replica log:$_cluster_leak"; exit 1; }' EXIT

# cluster_compare: how the platform's models and the branch's models/*.yaml
# differ (slugs, and name, sourceId and queryType of each): empty when they
# agree.  Prints "N models" last when they do, for the count.
cluster_compare() {
    plat "$PURL/api/v1/models?limit=1000" > "$T/cmp-plat.json" || { echo "platform unreachable"; return; }
    git --git-dir="$T/remote.git" archive main -- models > "$T/cmp.tar" 2>/dev/null || : > "$T/cmp.tar"
    python3 - "$T/cmp-plat.json" "$T/cmp.tar" <<'PY'
import json, sys, tarfile, yaml
try:
    page = json.load(open(sys.argv[1]))
    plat = {m["slug"]: m for m in page["data"]}
except (ValueError, KeyError, TypeError):
    print("the platform's listing is not readable: " + open(sys.argv[1]).read()[:200])
    sys.exit(0)
if page.get("hasMore"):
    print("more than 1000 models on the platform")
    sys.exit(0)
git = {}
try:
    with tarfile.open(sys.argv[2]) as t:
        for m in t.getmembers():
            if m.isfile() and m.name.startswith("models/") and m.name.endswith(".yaml"):
                git[m.name[7:-5]] = yaml.safe_load(t.extractfile(m).read())
except tarfile.ReadError:
    pass
out = []
for s in sorted(set(plat) - set(git)):
    out.append("only on the platform: " + s)
for s in sorted(set(git) - set(plat)):
    out.append("only in git: " + s)
for s in sorted(set(plat) & set(git)):
    for f in ("name", "sourceId", "queryType"):
        g = git[s].get(f) if isinstance(git[s], dict) else None
        if plat[s].get(f) != g:
            out.append("%s: %s is %r on the platform, %r in git" % (s, f, plat[s].get(f), g))
print("\n".join(out[:20]) if out else "%d models" % len(plat))
PY
}

# cluster_audit: the platform's audit log as lines "action slug actor-email".
cluster_audit() {
    plat "$PURL/api/v1/audit" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["data"]:
    print(e["action"], e["slug"], (e.get("actor") or {}).get("email", ""))'
}

# clone_push_retry MESSAGE: commit the clone's changes and push them,
# rebasing on what gitsyncd committed meanwhile (up to 20 tries).
clone_push_retry() {
    git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "$1" || return 1
    _i=0
    until git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err"; do
        _i=$((_i + 1)); [ $_i -ge 20 ] && return 1
        git -C "$T/clone" pull -q --rebase origin main 2>/dev/null || return 1
    done
}
