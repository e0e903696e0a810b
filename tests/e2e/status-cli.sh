#!/bin/sh
# gitsyncd status: the running daemon's /status as a table, as JSON, for
# one workspace, from admin_listen or listen of the configuration; exit 1
# when a workspace is failing.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 21
sync_setup

# The daemon is not asked before its first sync reported.
wait_for 20 sh -c "curl -sS 'http://127.0.0.1:$GPORT/status' | grep -q '\"last_result\": \"ok\"'" ||
    bail "workspace w never synced: $(tail -n 20 "$T/gitsyncd.log")"

out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" 2>&1); rc=$?
is "status exits 0 when every workspace is in sync" "$rc" 0
is "a header line names the columns" "$(printf '%s\n' "$out" | head -n 1 | tr -s ' ')" \
    "WORKSPACE RESULT WHEN HEAD BASE QUEUE INVALID CONFLICTS REFUSED"
like "one line for w: ok, how long ago, idle, no invalid file, conflict or refused delete" \
    "$(printf '%s\n' "$out" | sed -n 2p)" '^w +ok +[0-9]+s ago +- +[0-9a-f]{7} +idle +0 +0 +0$'

# A commit on the branch: head and base show as short ids.
mkdir -p "$T/clone/models"
cat > "$T/clone/models/daily-users.yaml" <<'YAML'
slug: daily-users
name: Daily users
sourceId: 1
queryType: raw_sql
YAML
clone_push "add daily-users" || bail "push failed: $(cat "$T/push.err")"
# (gitsyncd may commit the platform's normal form on top: wait until the
# head it reports is the branch's, whatever that is by then, and it idles.)
settled() {
    h=$(git --git-dir="$T/remote.git" rev-parse main) &&
    curl -sS "http://127.0.0.1:$GPORT/status" >"$T/st.json" &&
    grep -q "\"head\": \"$h" "$T/st.json" && grep -q '"running": false' "$T/st.json" &&
    grep -q '"queued": false' "$T/st.json" &&
    [ "$(git --git-dir="$T/remote.git" rev-parse main)" = "$h" ]
}
wait_for 20 settled ||
    bail "the push was not applied: $(curl -sS "http://127.0.0.1:$GPORT/status"; git --git-dir="$T/remote.git" rev-parse main)"
head=$(git --git-dir="$T/remote.git" rev-parse --short=7 main)
base=$(python3 -c 'import sys,json; print(json.load(open(sys.argv[1]))["workspaces"]["w"]["base"][:7])' "$T/st.json")
out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" 2>&1); rc=$?
like "head and base are the reported commits, 7 characters" "$(printf '%s\n' "$out" | sed -n 2p)" \
    "^w +ok +[0-9]+s ago +$head +$base +idle +0 +0 +0\$"

# An invalid file is counted.
clone_pull
printf 'slug: broken\nname: [unclosed\n' > "$T/clone/models/broken.yaml"
clone_push "add a broken model" || bail "push failed: $(cat "$T/push.err")"
wait_for 20 sh -c "curl -sS 'http://127.0.0.1:$GPORT/status' | grep -q 'broken'" ||
    bail "the broken file was not reported: $(tail -n 20 "$T/gitsyncd.log")"
out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" w 2>&1); rc=$?
is "an invalid file alone does not fail the workspace" "$rc" 0
like "it is counted in INVALID" "$(printf '%s\n' "$out" | sed -n 2p)" '^w +ok +.* +idle +1 +0 +0$'

# --json: the daemon's answer, for one workspace.
out=$("$GITSYNCD" status --json -c "$T/gitsyncd.yaml" w); rc=$?
is "status --json exits 0" "$rc" 0
is "status --json prints the daemon's JSON for w" \
    "$(printf '%s' "$out" | python3 -c 'import sys,json; d=json.load(sys.stdin)["workspaces"]; print(list(d), d["w"]["last_result"], d["w"]["invalid_files"][0]["slug"], d["w"]["running"])')" \
    "['w'] ok broken False"
is "the whole answer is what /status says" \
    "$("$GITSYNCD" status --json -c "$T/gitsyncd.yaml" | python3 -c 'import sys,json; print(sorted(json.load(sys.stdin)["workspaces"]))')" \
    "$(curl -sS "http://127.0.0.1:$GPORT/status" | python3 -c 'import sys,json; print(sorted(json.load(sys.stdin)["workspaces"]))')"

# admin_listen wins over listen; --url needs no configuration.
sed "s/^listen: .*/listen: 127.0.0.1:1\nadmin_listen: 127.0.0.1:$GPORT/" "$T/gitsyncd.yaml" > "$T/admin.yaml"
out=$("$GITSYNCD" status -c "$T/admin.yaml" 2>&1); rc=$?
is "status asks admin_listen when the configuration has one" "$rc:$(printf '%s\n' "$out" | sed -n 2p | cut -c1)" "0:w"
out=$("$GITSYNCD" status --url "http://127.0.0.1:$GPORT/" -c /nonexistent 2>&1); rc=$?
is "--url needs no configuration file" "$rc:$(printf '%s\n' "$out" | sed -n 2p | cut -c1)" "0:w"

# A workspace whose platform is down: exit 1 and the error under the table.
cat >> "$T/gitsyncd.yaml" <<YAML
  - name: down
    platform: { profile: demo, url: "http://127.0.0.1:1/api/v1", token: $PTOKEN }
    git: { url: "file://$T/remote.git", branch: main, host: github }
YAML
kill -HUP "$GPID"
wait_for 20 sh -c "curl -sS 'http://127.0.0.1:$GPORT/status' | grep -q '\"last_result\": \"error\"'" ||
    bail "workspace down never failed: $(tail -n 20 "$T/gitsyncd.log")"
out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" 2>&1); rc=$?
is "status exits 1 when a workspace is failing" "$rc" 1
like "the failing workspace's line says error" "$(printf '%s\n' "$out" | grep '^down ')" '^down +error +[0-9]+s ago '
like "its error is printed under the table" "$out" '^down: failed [0-9]+s ago: .*Couldn.t connect.*127\.0\.0\.1:1'
unlike "no secret in the output" "$out" "$PTOKEN"
out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" w 2>&1); rc=$?
is "status WORKSPACE looks at that workspace only (w is fine: exit 0)" "$rc:$(printf '%s\n' "$out" | wc -l)" "0:2"

# Unhappy paths.
out=$("$GITSYNCD" status -c "$T/gitsyncd.yaml" nosuch 2>&1); rc=$?
is "an unknown workspace exits 1 and is named" "$rc:$out" \
    "1:gitsyncd status: the daemon reports no workspace \"nosuch\" (not configured, or its first sync has not started)"
port=$(free_port)
out=$("$GITSYNCD" status --url "http://127.0.0.1:$port" 2>&1); rc=$?
is "no daemon: exit 1" "$rc" 1
like "and the address is named" "$out" "^gitsyncd status: cannot reach the daemon at http://127.0.0.1:$port/status: .*is gitsyncd serve running"
out=$("$GITSYNCD" status --url "file:///etc/passwd" 2>&1); rc=$?
is "--url takes http and https only" "$rc" 2
out=$("$GITSYNCD" status -c "$T/nonexistent.yaml" 2>&1); rc=$?
is "a missing configuration file exits 2 and is named" "$rc:$out" \
    "2:gitsyncd: $T/nonexistent.yaml: No such file or directory"
done_testing
