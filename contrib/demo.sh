#!/bin/bash
# contrib/demo.sh BUILDDIR [--once] [--pull-request]: the live demo of
# `contrib/quickstart.sh demo`.
#
# Starts the demo platform (with example models and syncs), a local bare
# repository whose post-receive hook sends signed push webhooks, and
# gitsyncd syncing the two; then shows a change made on the platform
# arriving as a commit, and a pushed change arriving on the platform.
# It keeps running until Ctrl-C, for you to try more; --once runs the
# scenario and exits (0 when both directions worked).
#
# --pull-request (or DEMO_WRITE=pull_request): gitsyncd runs with
# git.write: pull_request against the test Git host (tests/e2e/forge-server.py,
# GitHub's REST API under /github, the repository over smart HTTP, needs
# python3).  The platform change then arrives as a commit on the branch
# gitsyncd/demo and an open pull request, not on main; the demo merges it
# the way the host's merge button does ($DIR/merge-request N: merge, mark
# it merged through the host's /_control/pull, push main, whose
# post-receive hook sends gitsyncd the push webhook), shows main with the
# commit and the platform unchanged, then pushes a change from Git.
# (main itself is not protected here: git.write alone sends gitsyncd's
# changes through requests.)
#
# Ports: DEMO_PLATFORM_PORT (8090), DEMO_GITSYNCD_PORT (8080) and, with
# --pull-request, DEMO_FORGE_PORT (8091).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd) || exit 1
once=false
pr=false
case ${DEMO_WRITE:-push} in
push) ;;
pull_request) pr=true ;;
*) echo "contrib/demo.sh: DEMO_WRITE is push or pull_request" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
for a in "$@"; do
    case $a in
    --once) once=true ;;
    --pull-request) pr=true ;;
    *) echo "usage: contrib/demo.sh BUILDDIR [--once] [--pull-request]" >&2; exit 2 ;;
    esac
done
pport=${DEMO_PLATFORM_PORT:-8090}
gport=${DEMO_GITSYNCD_PORT:-8080}
fport=${DEMO_FORGE_PORT:-8091}
dir=$build/demo
token=demo-token
psecret=whsec_ZGVtby13ZWJob29rLXNlY3JldC0xMjM0NTY=
gsecret=demo-github-secret
pids=""

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
stop() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap 'stop; exit 130' INT TERM
trap stop EXIT
waitfor() { # waitfor SECONDS CMD...
    n=$(( $1 * 10 )); shift
    while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rm -rf "$dir"
mkdir -p "$dir/state"
chmod 700 "$dir/state"
ports="$pport $gport" portvars="DEMO_PLATFORM_PORT / DEMO_GITSYNCD_PORT"
$pr && ports="$ports $fport" portvars="$portvars / DEMO_FORGE_PORT"
for p in $ports; do
    if port_open "$p"; then
        say "port $p is in use: set $portvars"
        exit 1
    fi
done

# The repository: a local bare one, or with --pull-request one the test Git
# host serves over smart HTTP as the GitHub repository demo/demo-remote.
remote=$dir/demo-remote.git
giturl=file://$remote
cloneurl=$remote
if $pr; then
    command -v python3 >/dev/null 2>&1 || { say "--pull-request needs python3 (contrib/quickstart.sh setup installs it)"; exit 1; }
    atoken=demo-git-api-token
    forge=http://127.0.0.1:$fport
    mkdir -p "$dir/git-host/demo"
    remote=$dir/git-host/demo/demo-remote.git
    giturl=$forge/demo/demo-remote.git
    cloneurl=$giturl
    python3 "$top/tests/e2e/forge-server.py" --port "$fport" --token "$atoken" \
        --git-root "$dir/git-host" > "$dir/git-host.log" 2>&1 &
    pids="$pids $!"
    waitfor 10 port_open "$fport" || { say "the test Git host did not start: $(cat "$dir/git-host.log")"; exit 1; }
fi

# The platform, with a few example models and syncs.
"$build/contrib/demo-platform/demo-platform" --listen "127.0.0.1:$pport" --token "$token" \
    --seed 6 --data "$dir/platform.json" --webhook-secret "$psecret" \
    --webhook-url "http://127.0.0.1:$gport/hooks/demo/platform" > "$dir/platform.log" 2>&1 &
pids="$pids $!"

# The Git side: a bare repository whose hook notifies gitsyncd.
git init -q --bare -b main "$remote"
cp "$top/contrib/git-hooks/post-receive" "$remote/hooks/post-receive"
chmod +x "$remote/hooks/post-receive"
git --git-dir="$remote" config gitsyncd.url "http://127.0.0.1:$gport/hooks/demo/git"
git --git-dir="$remote" config gitsyncd.secret "$gsecret"
if $pr; then
    # Pushes over HTTP run the same hook (git http-backend runs receive-pack).
    git --git-dir="$remote" config http.receivepack true
    git --git-dir="$remote" config gitsyncd.repositoryUrl "$giturl"
fi

cat > "$dir/gitsyncd.yaml" <<YAML
# Written by contrib/demo.sh; see etc/gitsyncd.yaml for every key.
listen: 127.0.0.1:$gport
workers: 2
state_dir: $dir/state
workspaces:
  - name: demo
    platform:
      profile: demo
      url: http://127.0.0.1:$pport/api/v1
      token: $token
      webhook_secret: $psecret
    git:
      url: $giturl
      branch: main
      host: github
      webhook_secret: $gsecret
      author: { name: gitsyncd, email: gitsyncd@example.com }
YAML
if $pr; then
    cat >> "$dir/gitsyncd.yaml" <<YAML
      # Changes made on the platform go to the branch gitsyncd/demo and a
      # pull request on the test Git host, not to main.
      write: pull_request
      api: { url: $forge/github, token: $atoken }
YAML
fi
cat >> "$dir/gitsyncd.yaml" <<YAML
    sync:
      interval: 1m
      conflict: platform
YAML
# gitsyncd refuses to run as root unless told: the quick start runs as root
# on a fresh machine, so the demo says so (a real install uses the unit's
# DynamicUser, see contrib/systemd/gitsyncd.service).
rootflag=
if [ "$(id -u)" -eq 0 ]; then
    rootflag=--allow-root
    say "running as root: the demo passes --allow-root to gitsyncd"
fi
GITSYNCD_PROFILE_PATH=${GITSYNCD_PROFILE_PATH:-$top/etc/profiles} \
    "$build/gitsyncd" $rootflag -c "$dir/gitsyncd.yaml" serve > "$dir/gitsyncd.log" 2>&1 &
pids="$pids $!"
waitfor 10 port_open "$pport" || { say "the demo platform did not start: $(cat "$dir/platform.log")"; exit 1; }
waitfor 10 port_open "$gport" || { say "gitsyncd did not start: $(cat "$dir/gitsyncd.log")"; exit 1; }

commits() { git --git-dir="$remote" rev-list --count main 2>/dev/null || echo 0; }
has_commits() { [ "$(commits)" -ge "$1" ]; }
api() { curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

if $pr; then
    # The host's merge button, for the demo and for you: merge the request's
    # branch into main, mark the request merged, push main (its post-receive
    # hook sends gitsyncd the push webhook, as the host would).
    cat > "$dir/merge-request" <<EOF2
#!/bin/sh
# $dir/merge-request N: merge pull request N on the demo's test Git host
# (written by contrib/demo.sh --pull-request).
set -eu
n=\${1:?usage: \$0 PULL-REQUEST-NUMBER}
c=$dir/merge-clone
[ -d "\$c" ] || git clone -q "$giturl" "\$c"
git -C "\$c" fetch -q --prune origin
git -C "\$c" checkout -q -B main origin/main
git -C "\$c" -c user.name="Grace Hopper" -c user.email=grace@example.com \\
    merge -q --no-ff -m "Merge pull request #\$n from demo/gitsyncd/demo" origin/gitsyncd/demo
curl -sSf -o /dev/null -X POST --data "{\\"host\\":\\"github\\",\\"number\\":\$n,\\"state\\":\\"merged\\"}" \\
    "$forge/_control/pull"
git -C "\$c" push -q origin main
EOF2
    chmod +x "$dir/merge-request"
fi
# pulls STATE: the pull requests in STATE, from the test Git host's GitHub API.
pulls() { curl -sS -H "Authorization: Bearer $atoken" "$forge/github/repos/demo/demo-remote/pulls?state=$1"; }
has_open_pull() { pulls open | grep -q '"number"'; }
audit_entries() {
    api "http://127.0.0.1:$pport/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'
}
no_request_branch() { ! git --git-dir="$remote" rev-parse -q --verify refs/heads/gitsyncd/demo >/dev/null; }

# show_pull_request MAIN-COMMITS: Ada's change arrives as a pull request.
show_pull_request() {
    if ! waitfor 20 has_open_pull; then
        say "no pull request was opened: see $dir/gitsyncd.log"; return 1
    fi
    if [ "$(commits)" != "$1" ] || git --git-dir="$remote" cat-file -e main:models/weekly-revenue.yaml 2>/dev/null; then
        say "main got the change directly: see $dir/gitsyncd.log"; return 1
    fi
    say "   git.write is pull_request: main is unchanged (still at $(git --git-dir="$remote" rev-parse --short main), no models/weekly-revenue.yaml);"
    say "   the commit is on the branch gitsyncd/demo:"
    git --git-dir="$remote" log --format='  commit %h by %an <%ae>%n  %s%n%n%b' main..gitsyncd/demo
    git --git-dir="$remote" show gitsyncd/demo:models/weekly-revenue.yaml | sed 's/^/    /'
    say "   and a pull request is open on the test Git host (GET /repos/demo/demo-remote/pulls):"
    pulls open | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print("  pull request #%d (%s): %s -> %s" % (p["number"], p["state"], p["head"]["ref"], p["base"]["ref"]))
    print("  title: " + p["title"])
    print("  description:")
    for line in (p["body"] or "").splitlines():
        print(("    " + line).rstrip())'
    prnum=$(pulls open | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["number"])')
}

# merge_pull_request: a reviewer merges it; gitsyncd gets the push.
merge_pull_request() {
    audit0=$(audit_entries)
    say "2. Grace reviews and merges pull request #$prnum (the host's merge button: $dir/merge-request $prnum)"
    if ! out=$("$dir/merge-request" "$prnum" 2>&1); then
        printf '%s\n' "$out" | sed 's/^/    /'
        say "the merge failed: see $dir/git-host.log"; return 1
    fi
    # The push to main reaches gitsyncd as a webhook; with nothing left to
    # carry, it deletes the request's branch.
    merge=$(git --git-dir="$remote" rev-parse main)
    if ! waitfor 20 grep -q "msg=\"push queued\" .* ref=refs/heads/main after=$merge" "$dir/gitsyncd.log"; then
        say "the push webhook of the merge did not reach gitsyncd: see $dir/gitsyncd.log"; return 1
    fi
    if ! waitfor 20 no_request_branch; then
        say "gitsyncd did not take the merge: see $dir/gitsyncd.log"; return 1
    fi
    git --git-dir="$remote" log --graph --format='%h %s (%an)' -3 main | sed 's/^/  /'
    if ! git --git-dir="$remote" cat-file -e main:models/weekly-revenue.yaml 2>/dev/null; then
        say "main does not have models/weekly-revenue.yaml after the merge"; return 1
    fi
    audit1=$(audit_entries)
    if [ "$audit1" != "$audit0" ]; then
        say "the merge changed the platform (audit log: $audit0 -> $audit1 entries): see $dir/gitsyncd.log"; return 1
    fi
    pulls closed | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print("  pull request #%d: %s" % (p["number"], "merged" if p.get("merged") else p["state"]))'
    say "   main now has Ada's commit; gitsyncd got the push webhook (after=$(git --git-dir="$remote" rev-parse --short main)),"
    say "   applied nothing to the platform"
    say "   (its audit log still has $audit1 entries) and deleted the branch gitsyncd/demo"
}

say "gitsyncd imports the platform's resources into $remote ..."
$pr && say "(git.write pull_request: the first import goes to main directly, a request needs a branch to target)"
waitfor 20 has_commits 1 || { say "no import commit: see $dir/gitsyncd.log"; exit 1; }
git --git-dir="$remote" log --stat --format='  %h %s (%an)' main | sed 's/^/  /'

say "1. a change on the platform: Ada creates the model weekly-revenue"
n=$(commits)
api -X POST -H 'X-Actor: Ada Lovelace <ada@example.com>' "http://127.0.0.1:$pport/api/v1/models" \
    -d '{"slug":"weekly-revenue","name":"Weekly revenue","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select week, sum(amount)\n  from orders\n group by 1\n"}}' > /dev/null
if $pr; then
    show_pull_request "$n" || exit 1
    merge_pull_request || exit 1
elif waitfor 20 has_commits $((n + 1)); then
    git --git-dir="$remote" log -1 --format='  commit %h by %an <%ae>%n  %s%n%n%b' main
    git --git-dir="$remote" show main:models/weekly-revenue.yaml | sed 's/^/    /'
else
    say "the commit did not arrive: see $dir/gitsyncd.log"; exit 1
fi

if $pr; then
    say "3. a change in Git: Grace renames users-1 and pushes"
else
    say "2. a change in Git: Grace renames users-1 and pushes"
fi
git clone -q "$cloneurl" "$dir/clone"
git -C "$dir/clone" config user.name "Grace Hopper"
git -C "$dir/clone" config user.email grace@example.com
sed -i 's/^name: .*/name: Active users (renamed in Git)/' "$dir/clone/models/users-1.yaml"
git -C "$dir/clone" commit -qam "Rename the users-1 model"
say "   before pushing, Grace asks what it would do (gitsyncd plan changes nothing):"
GITSYNCD_PROFILE_PATH=${GITSYNCD_PROFILE_PATH:-$top/etc/profiles} \
    "$build/gitsyncd" $rootflag -c "$dir/gitsyncd.yaml" plan demo --dir "$dir/clone" 2>>"$dir/gitsyncd.log" |
    sed 's/^/    /'
git -C "$dir/clone" push -q origin main
renamed() { api "http://127.0.0.1:$pport/api/v1/models?slug=users-1" | grep -q 'renamed in Git'; }
if waitfor 20 renamed; then
    api "http://127.0.0.1:$pport/api/v1/models?slug=users-1" | grep -E '"(slug|name)"' | sed 's/^ */    /'
else
    say "the platform did not get the change: see $dir/gitsyncd.log"; exit 1
fi

say "both directions work.  Where to look:"
if $pr; then
    cat <<EOF2
  git --git-dir=$remote log --graph --stat main  # merges, pushes
  git --git-dir=$remote log main..gitsyncd/demo  # an open request's commits
  curl -H 'Authorization: Bearer $atoken' '$forge/github/repos/demo/demo-remote/pulls?state=all'
  $dir/merge-request N  # merge request N: the host's merge button
  git clone $giturl /tmp/demo-clone  # edit, commit, push
  curl -H 'Authorization: Bearer $token' http://127.0.0.1:$pport/api/v1/models
  curl -X PATCH -H 'Authorization: Bearer $token' -H 'X-Actor: You <you@example.com>' \\
       -d '{"name":"Changed in the UI"}' http://127.0.0.1:$pport/api/v1/models/1
  curl http://127.0.0.1:$gport/status
  curl http://127.0.0.1:$gport/metrics
  logs: $dir/gitsyncd.log, $dir/platform.log and $dir/git-host.log
EOF2
else
    cat <<EOF2
  git --git-dir=$dir/demo-remote.git log --stat          # one commit per change
  git clone $dir/demo-remote.git /tmp/demo-clone          # edit, commit, push
  curl -H 'Authorization: Bearer $token' http://127.0.0.1:$pport/api/v1/models
  curl -X PATCH -H 'Authorization: Bearer $token' -H 'X-Actor: You <you@example.com>' \\
       -d '{"name":"Changed in the UI"}' http://127.0.0.1:$pport/api/v1/models/1
  curl http://127.0.0.1:$gport/status
  curl http://127.0.0.1:$gport/metrics
  logs: $dir/gitsyncd.log and $dir/platform.log
EOF2
fi
if $once; then
    say "done (--once)"
    exit 0
fi
say "running; Ctrl-C to stop"
wait
