# tests/e2e/synclib.sh: a whole gitsyncd set-up for the sync tests: the demo
# platform, a bare repository with the post-receive hook, gitsyncd serving
# one workspace "w", and a working clone.  Source after lib.sh.
#
#   sync_setup [conflict-policy] [max-deletes] [interval] [events on|off]
#   plat_post KIND JSON [ACTOR]   -> prints the created object
#   remote_log                    -> one line per commit: subject|author|path
#   clone_push MESSAGE            -> commit and push the clone's changes

PTOKEN=e2e-platform-token-5f3a91
PSECRET=whsec_$(printf 'e2e-platform-webhook-secret-77' | base64)
GSECRET=e2e-git-webhook-secret-4c2d
DEMO_PLATFORM=${DEMO_PLATFORM:-$top_builddir/contrib/demo-platform/demo-platform}
# lib.sh checks gitsyncd's log for these at exit.
SECRETS_SCAN="$PTOKEN ${PSECRET#whsec_} $GSECRET"

# The number of commits on the remote branch.
remote_count() {
    git --git-dir="$T/remote.git" rev-list --count main 2>/dev/null || echo 0
}

remote_log() {
    git --git-dir="$T/remote.git" log --reverse --format='%s|%an <%ae>' \
        --name-only main 2>/dev/null | awk 'NF { if (/\|/) s=$0; else print s "|" $0 }'
}

# plat CURL-ARGS...: a request to the demo platform's API.
plat() {
    curl -sS -H "Authorization: Bearer $PTOKEN" -H 'Content-Type: application/json' "$@"
}

plat_post() {
    plat -X POST -H "X-Actor: ${3:-Ada Lovelace <ada@example.com>}" \
        --data "$2" "$PURL/api/v1/$1"
}

# plat_id KIND SLUG: the platform id of a resource, or nothing.
plat_id() {
    plat "$PURL/api/v1/$1?slug=$2" | python3 -c 'import sys,json; d=json.load(sys.stdin)["data"]; print(d[0]["id"] if d else "")'
}

# plat_field KIND SLUG FIELD: one top-level field of a resource, as JSON.
plat_field() {
    plat "$PURL/api/v1/$1?slug=$2" | python3 -c 'import sys,json; d=json.load(sys.stdin)["data"]; print(json.dumps(d[0].get(sys.argv[1])) if d else "ABSENT")' "$3"
}

start_platform() {
    spawn "$T/platform.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" \
        --token "$PTOKEN" --webhook-secret "$PSECRET" --data "$T/platform.json" \
        ${PEVENTS:+--webhook-url "http://127.0.0.1:$GPORT/hooks/w/platform"}
    PPID_=$!
    wait_port "$PPORT" 10 || bail "the demo platform did not start: $(cat "$T/platform.log")"
}

start_gitsyncd() {
    spawn "$T/gitsyncd.log" "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" --log-level debug serve
    GPID=$!
    wait_port "$GPORT" 10 || bail "gitsyncd did not start: $(cat "$T/gitsyncd.log")"
}

sync_setup() {
    policy=${1:-platform} maxdel=${2:-10} interval=${3:-0} events=${4:-on}
    PPORT=$(free_port); GPORT=$(free_port)
    PURL=http://127.0.0.1:$PPORT
    PEVENTS=; [ "$events" = on ] && PEVENTS=1
    git init -q --bare -b main "$T/remote.git"
    cp "$top_srcdir/contrib/git-hooks/post-receive" "$T/remote.git/hooks/post-receive"
    chmod +x "$T/remote.git/hooks/post-receive"
    git --git-dir="$T/remote.git" config gitsyncd.url "http://127.0.0.1:$GPORT/hooks/w/git"
    git --git-dir="$T/remote.git" config gitsyncd.secret "$GSECRET"
    mkdir -p "$T/state"
    cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
workers: 2
state_dir: $T/state
log: { level: debug, format: logfmt }
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
      interval: $interval
      conflict: $policy
      max_deletes: $maxdel
YAML
    start_platform
    start_gitsyncd
    git clone -q "$T/remote.git" "$T/clone" 2>/dev/null
    git -C "$T/clone" config user.name "Grace Hopper"
    git -C "$T/clone" config user.email grace@example.com
}

# clone_push MESSAGE: commit everything in the clone and push it.
clone_push() {
    git -C "$T/clone" add -A &&
    git -C "$T/clone" commit -qm "$1" &&
    git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err"
}

# clone_pull: bring the clone up to date with the remote.
clone_pull() {
    git -C "$T/clone" pull -q --rebase origin main 2>/dev/null ||
        git -C "$T/clone" fetch -q origin main && git -C "$T/clone" reset -q --hard origin/main
}

# wait_commits N: wait until the remote branch has N commits.
wait_commits() {
    wait_for "${2:-20}" sh -c "[ \"\$(git --git-dir='$T/remote.git' rev-list --count main 2>/dev/null || echo 0)\" -ge $1 ]"
}

# gitsyncd_status: GET /status.
gitsyncd_status() {
    curl -sS "http://127.0.0.1:$GPORT/status"
}
