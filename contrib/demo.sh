#!/bin/bash
# contrib/demo.sh BUILDDIR [--once]: the live demo of `contrib/quickstart.sh demo`.
#
# Starts the demo platform (with example models and syncs), a local bare
# repository whose post-receive hook sends signed push webhooks, and
# gitsyncd syncing the two; then shows a change made on the platform
# arriving as a commit, and a pushed change arriving on the platform.
# It keeps running until Ctrl-C, for you to try more; --once runs the
# scenario and exits (0 when both directions worked).
#
# Ports: DEMO_PLATFORM_PORT (8090) and DEMO_GITSYNCD_PORT (8080).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd) || exit 1
once=false
[ "${2:-}" = "--once" ] && once=true
pport=${DEMO_PLATFORM_PORT:-8090}
gport=${DEMO_GITSYNCD_PORT:-8080}
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
for p in "$pport" "$gport"; do
    if port_open "$p"; then
        say "port $p is in use: set DEMO_PLATFORM_PORT / DEMO_GITSYNCD_PORT"
        exit 1
    fi
done

# The platform, with a few example models and syncs.
"$build/contrib/demo-platform/demo-platform" --listen "127.0.0.1:$pport" --token "$token" \
    --seed 6 --data "$dir/platform.json" --webhook-secret "$psecret" \
    --webhook-url "http://127.0.0.1:$gport/hooks/demo/platform" > "$dir/platform.log" 2>&1 &
pids="$pids $!"

# The Git side: a bare repository whose hook notifies gitsyncd.
git init -q --bare -b main "$dir/demo-remote.git"
cp "$top/contrib/git-hooks/post-receive" "$dir/demo-remote.git/hooks/post-receive"
chmod +x "$dir/demo-remote.git/hooks/post-receive"
git --git-dir="$dir/demo-remote.git" config gitsyncd.url "http://127.0.0.1:$gport/hooks/demo/git"
git --git-dir="$dir/demo-remote.git" config gitsyncd.secret "$gsecret"

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
      url: file://$dir/demo-remote.git
      branch: main
      host: github
      webhook_secret: $gsecret
      author: { name: gitsyncd, email: gitsyncd@example.com }
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

commits() { git --git-dir="$dir/demo-remote.git" rev-list --count main 2>/dev/null || echo 0; }
has_commits() { [ "$(commits)" -ge "$1" ]; }
api() { curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

say "gitsyncd imports the platform's resources into $dir/demo-remote.git ..."
waitfor 20 has_commits 1 || { say "no import commit: see $dir/gitsyncd.log"; exit 1; }
git --git-dir="$dir/demo-remote.git" log --stat --format='  %h %s (%an)' main | sed 's/^/  /'

say "1. a change on the platform: Ada creates the model weekly-revenue"
n=$(commits)
api -X POST -H 'X-Actor: Ada Lovelace <ada@example.com>' "http://127.0.0.1:$pport/api/v1/models" \
    -d '{"slug":"weekly-revenue","name":"Weekly revenue","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select week, sum(amount)\n  from orders\n group by 1\n"}}' > /dev/null
if waitfor 20 has_commits $((n + 1)); then
    git --git-dir="$dir/demo-remote.git" log -1 --format='  commit %h by %an <%ae>%n  %s%n%n%b' main
    git --git-dir="$dir/demo-remote.git" show main:models/weekly-revenue.yaml | sed 's/^/    /'
else
    say "the commit did not arrive: see $dir/gitsyncd.log"; exit 1
fi

say "2. a change in Git: Grace renames users-1 and pushes"
git clone -q "$dir/demo-remote.git" "$dir/clone"
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
if $once; then
    say "done (--once)"
    exit 0
fi
say "running; Ctrl-C to stop"
wait
