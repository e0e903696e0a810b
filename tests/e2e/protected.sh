#!/bin/sh
# Protected branches (DESIGN §11): the workspace branch refuses direct
# pushes (a pre-receive hook, as a protected branch looks to git), served
# over smart HTTP by the test Git host (forge-server.py) next to GitHub's
# pull request API.  git.write pull_request: 3 UI changes by 3 actors ->
# one request from gitsyncd/<workspace> with 3 commits by them; a 4th ->
# the same request, 4 commits, description updated; a push to the branch
# meanwhile applies but does not revert a carried resource; merge -> the
# platform is unchanged and the base advances.  git.write auto: the push
# is refused, a new request is opened, and the reason logged once.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/hostslib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 34

ATOKEN=e2e-git-api-token-17aa
SPORT=$(free_port); PPORT=$(free_port); GPORT=$(free_port)
PURL=http://127.0.0.1:$PPORT
S=http://127.0.0.1:$SPORT
SECRETS_SCAN="$PTOKEN $GSECRET $ATOKEN"

mkdir -p "$T/git/acme" "$T/state"
REMOTE=$T/git/acme/cfg.git
git init -q --bare -b main "$REMOTE"
git --git-dir="$REMOTE" config http.receivepack true
# GitHub's API calls go through Stoplight Prism with GitHub's own OpenAPI
# description (as in review.sh) when it is installed.
prism_find
forge_start
prism_start

# write_config MODE [INTERVAL] [REJECTED]: the configuration, git.write MODE.
write_config() {
    cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
workers: 2
state_dir: $T/state
log: { level: debug, format: logfmt }
workspaces:
  - name: gh
    platform: { profile: demo, url: $PURL/api/v1, token: $PTOKEN }
    git:
      url: $S/acme/cfg.git
      branch: main
      path: ""
      host: github
      webhook_secret: $GSECRET
      author: { name: gitsyncd, email: gitsyncd@example.com }
      write: $1
      rejected: ${3:-keep}
      api: { url: $GHAPI, token: $ATOKEN }
    sync: { interval: ${2:-0}, max_deletes: 10 }
YAML
}
write_config pull_request
cc=$("$GITSYNCD" check-config "$T/gitsyncd.yaml" 2>&1)
like "check-config shows git.write and the branch gitsyncd owns" "$cc" "git write +pull_request, branch gitsyncd/gh"
sed '/api: {/d' "$T/gitsyncd.yaml" > "$T/noapi.yaml"
cc=$("$GITSYNCD" check-config "$T/noapi.yaml" 2>&1); rc=$?
like "pull_request without git.api.token is refused, naming the line" "$rc $cc" "^2 .*noapi.yaml:[0-9]+.*git.write: pull_request needs git.api.token"

sync_once() {
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once gh >>"$T/gitsyncd.log" 2>&1
}
start_platform
for m in m0 m1 m2; do
    plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
done
sync_once || bail "the first sync failed: $(tail -5 "$T/gitsyncd.log")"
is "a first import is pushed to the branch (a request needs a branch to target)" \
    "$(git --git-dir="$REMOTE" ls-tree --name-only main models/ | tr '\n' ' ')" "models/m0.yaml models/m1.yaml models/m2.yaml "

# Protect main: only the "merge button" (a flag file) may move it.
cat > "$T/pre-receive" <<'HOOK'
#!/bin/sh
while read old new ref; do
    if [ "$ref" = refs/heads/main ] && [ ! -f "$GIT_DIR/merge-button" ]; then
        echo "error: GH006: Protected branch update failed for refs/heads/main." >&2
        exit 1
    fi
done
HOOK
chmod +x "$T/pre-receive"
cp "$T/pre-receive" "$REMOTE/hooks/pre-receive"
MAIN0=$(git --git-dir="$REMOTE" rev-parse main)

# gitsyncd doctor: a ruleset protects main, git.write push would fail.
curl -sS -X POST --data '{"host":"github","branch":"main","how":"ruleset"}' "$S/_control/protect" >/dev/null
write_config push
out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" doctor gh 2>"$T/doctor.err"); rc=$?
is "doctor: exit 1, one line per check, saying what to fix" "$rc
$(printf '%s\n' "$out" | sed 's/ ([0-9a-f]*)$//')" "1
ok   platform   demo reachable, token accepted (kind model: 3 listed)
ok   remote     reachable, credentials accepted
ok   branch     main exists
FAIL protection main refuses direct pushes (a GitHub ruleset (pull_request or update rule)), but git.write is push: set git.write pull_request or auto
FAIL events     no platform.webhook_secret: platform events are refused (set it, or rely on sync.interval)
ok   webhooks   git.webhook_secret set"
sed "s/token: $PTOKEN/token: wrong-token/" "$T/gitsyncd.yaml" > "$T/badtoken.yaml"
out=$("$GITSYNCD" --allow-root -c "$T/badtoken.yaml" doctor gh 2>>"$T/doctor.err"); rc=$?
like "doctor: a refused platform token is named" "$rc $(printf '%s' "$out" | head -n 1)" "^1 FAIL platform +the token is refused: check platform.token"
write_config pull_request

patch_model() { # SLUG NAME ACTOR
    id=$(plat_id models "$1")
    plat -X PATCH -H "X-Actor: $3" --data "{\"name\":\"$2\"}" "$PURL/api/v1/models/$id" >/dev/null
}
patch_model m1 "UI one" "Ada Lovelace <ada@example.com>"
patch_model m2 "UI two" "Bob Barker <bob@example.com>"
plat_post models '{"slug":"m3","name":"UI three","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 3"}}' "Carol Shaw <carol@example.com>" >/dev/null
sync_once; rc=$?
pulls() { curl -sS "$S/_control/state" | python3 -c 'import json,sys; p=json.load(sys.stdin)["pulls"]["github"]; print(eval(sys.argv[1]))' "$1"; }
branch_log() { git --git-dir="$REMOTE" log --reverse --format='%an <%ae>|%s' main..gitsyncd/gh 2>&1; }
is "the sync succeeds and the protected main is untouched" "$rc $(git --git-dir="$REMOTE" rev-parse main)" "0 $MAIN0"
is "one open request from gitsyncd/gh into main" \
    "$(pulls '[(x["number"], x["state"], x["head"], x["base"]) for x in p]')" "[(1, 'open', 'gitsyncd/gh', 'main')]"
is "gitsyncd/gh: 3 commits on main, one per resource, by its actor" "$(branch_log)" \
"Ada Lovelace <ada@example.com>|model m1: updated in demo
Bob Barker <bob@example.com>|model m2: updated in demo
Carol Shaw <carol@example.com>|model m3: created in demo"
is "the description lists the resources and actors" "$(pulls 'p[0]["body"]' | grep '^- ')" \
"- \`models/m1.yaml\` updated by Ada Lovelace
- \`models/m2.yaml\` updated by Bob Barker
- \`models/m3.yaml\` created by Carol Shaw"

patch_model m0 "UI zero" "Dan Dare <dan@example.com>"
sync_once; rc=$?
is "a 4th change: the same request, no second one" "$rc $(pulls '[(x["number"], x["state"]) for x in p]')" "0 [(1, 'open')]"
is "gitsyncd/gh now has 4 commits" "$(branch_log | cut -d'|' -f1 | sort | tr '\n' ',')" \
    "Ada Lovelace <ada@example.com>,Bob Barker <bob@example.com>,Carol Shaw <carol@example.com>,Dan Dare <dan@example.com>,"
like "its description now lists m0 too" "$(pulls 'p[0]["body"]')" "models/m0.yaml. updated by Dan Dare"

# A reviewed push to main while the request is open: it applies, but the
# resources the request carries keep the platform's values.
touch "$REMOTE/merge-button"
git clone -q "$REMOTE" "$T/clone" 2>/dev/null
git -C "$T/clone" config user.name "Grace Hopper"; git -C "$T/clone" config user.email grace@example.com
printf 'slug: m4\nname: From Git\nsourceId: 1\nqueryType: raw_sql\nraw:\n  sql: select 4\n' > "$T/clone/models/m4.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "add m4" && git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err"
rm "$REMOTE/merge-button"
sync_once; rc=$?
is "the push applies: m4 is on the platform" "$rc $(plat_field models m4 name)" '0 "From Git"'
is "carried resources are not reverted by it" \
    "$(plat_field models m1 name) $(plat_field models m2 name) $(plat_field models m3 name) $(plat_field models m0 name)" \
    '"UI one" "UI two" "UI three" "UI zero"'
# (the platform normalised m4: its form is a 5th commit, by m4's author)
is "gitsyncd/gh is rebuilt on the new main: the 4 and m4's normalised form" \
    "$(git --git-dir="$REMOTE" merge-base main gitsyncd/gh) $(branch_log | cut -d'|' -f1 | sort | tr '\n' ',')" \
    "$(git --git-dir="$REMOTE" rev-parse main) Ada Lovelace <ada@example.com>,Bob Barker <bob@example.com>,Carol Shaw <carol@example.com>,Dan Dare <dan@example.com>,Grace Hopper <grace@example.com>,"

# The merge button.
audit() { plat "$PURL/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'; }
audit0=$(audit)
touch "$REMOTE/merge-button"
git -C "$T/clone" fetch -q origin && git -C "$T/clone" merge -q --no-ff -m "Merge pull request #1" origin/gitsyncd/gh &&
    git -C "$T/clone" push -q origin HEAD:main 2>>"$T/push.err"
rm "$REMOTE/merge-button"
curl -sS -X POST --data '{"host":"github","number":1,"state":"merged"}' "$S/_control/pull" >/dev/null
MERGED=$(git --git-dir="$REMOTE" rev-parse main)
sync_once; rc=$?
is "merged: nothing is re-applied to the platform" "$rc $(audit)" "0 $audit0"
MIRROR=$(dirname "$(find "$T/state" -name packed-refs -o -name HEAD | grep -v logs | head -n 1)")
is "merged: the base advances to the merged values" \
    "$(git --git-dir="$MIRROR" show refs/gitsyncd/base:models/m1.yaml 2>&1 | grep '^name:')" "name: UI one"
is "merged: no request is opened again" "$(pulls 'len(p)') $(git --git-dir="$REMOTE" rev-parse main)" "1 $MERGED"
is "merged: the branch gitsyncd/gh is deleted" \
    "$(git --git-dir="$REMOTE" for-each-ref --format='%(refname)' refs/heads/) $(grep -c 'nothing left for a pull request to carry: its branch deleted' "$T/gitsyncd.log")" \
    "refs/heads/main 1"

# git.write auto: the push is refused as protected: a new request, logged once why.
# (served, a sync every second: "once" is per process)
write_config auto 1s
patch_model m1 "UI again" "Ada Lovelace <ada@example.com>"
start_gitsyncd
wait_for 20 sh -c "curl -sS $S/_control/state | grep -q '\"number\": 2'"
is "auto: the refused push falls back to a new request" \
    "$(pulls '[(x["number"], x["state"]) for x in p]') $(git --git-dir="$REMOTE" rev-parse main)" \
    "[(1, 'merged'), (2, 'open')] $MERGED"
is "auto: gitsyncd/gh carries that one change" "$(branch_log)" "Ada Lovelace <ada@example.com>|model m1: updated in demo"
patch_model m3 "UI again 3" "Carol Shaw <carol@example.com>"
wait_for 20 sh -c "curl -sS $S/_control/state | grep -q 'models/m3.yaml. updated by Carol'"
sleep 2
is "auto: later refused syncs update the same request" "$(pulls '[(x["number"], x["state"]) for x in p]')" "[(1, 'merged'), (2, 'open')]"
is "auto: the log says why, once" \
    "$(grep -F 'the push was refused (a protected branch?): git.write auto uses a pull request' "$T/gitsyncd.log" | grep -c 'pre-receive hook declined')" 1
kill "$GPID"; wait "$GPID" 2>/dev/null
write_config auto
rm "$REMOTE/hooks/pre-receive"
patch_model m2 "UI direct" "Bob Barker <bob@example.com>"
sync_once; rc=$?
is "auto, unprotected: the carried and the new change pushed to main directly" \
    "$rc $(git --git-dir="$REMOTE" log --format='%an|%s' "$MERGED..main" | sort | tr '\n' ,)" \
    "0 Ada Lovelace|model m1: updated in demo,Bob Barker|model m2: updated in demo,Carol Shaw|model m3: updated in demo,"

# Closed without merging.  git.rejected keep: the platform keeps its value,
# the next sync opens a new request.
cp "$T/pre-receive" "$REMOTE/hooks/pre-receive"
# (request 2's changes reached main directly: gitsyncd leaves it open, a
# reviewer closes it)
curl -sS -X POST --data '{"host":"github","number":2,"state":"closed"}' "$S/_control/pull" >/dev/null
write_config pull_request
patch_model m1 "Rejected one" "Ada Lovelace <ada@example.com>"
sync_once
MAIN1=$(git --git-dir="$REMOTE" rev-parse main)
curl -sS -X POST --data '{"host":"github","number":3,"state":"closed"}' "$S/_control/pull" >/dev/null
sync_once; rc=$?
is "rejected keep: a new request, the platform keeps its value" \
    "$rc $(pulls '[(x["number"], x["state"]) for x in p][2:]') $(plat_field models m1 name)" \
    "0 [(3, 'closed'), (4, 'open')] \"Rejected one\""
# git.rejected revert: the branch's version goes back to the platform.
write_config pull_request 0 revert
curl -sS -X POST --data '{"host":"github","number":4,"state":"closed"}' "$S/_control/pull" >/dev/null
sync_once; rc=$?
is "rejected revert: the platform gets the branch's value, no new request" \
    "$rc $(plat_field models m1 name) $(pulls 'len(p)')" \
    "0 \"$(git --git-dir="$REMOTE" show main:models/m1.yaml | sed -n 's/^name: //p')\" 4"
patch_model m2 "After the rejection" "Bob Barker <bob@example.com>"
sync_once; rc=$?
is "rejected revert: a later change goes to a new request, alone" \
    "$rc $(pulls '[(x["number"], x["state"]) for x in p][4:]') $(branch_log)" \
    "0 [(5, 'open')] Bob Barker <bob@example.com>|model m2: updated in demo"
is "main never moved without review" "$(git --git-dir="$REMOTE" rev-parse main)" "$MAIN1"

# Crash safety: kill -9 while the host has made the request but not yet
# answered, then while it has updated it; a restart finds it: one request,
# no duplicate commits.
write_config pull_request
curl -sS -X POST --data '{"host":"github","number":5,"state":"closed"}' "$S/_control/pull" >/dev/null
curl -sS -X POST --data '{"method":"POST","path":"/pulls$","seconds":25}' "$S/_control/hold" >/dev/null
"$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once gh >>"$T/gitsyncd.log" 2>&1 &
SPID=$!
wait_for 20 sh -c "[ \"\$(curl -sS $S/_control/state | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"pulls\"][\"github\"]))')\" = 6 ]"
kill -9 "$SPID"; wait "$SPID" 2>/dev/null
sync_once; rc=$?
is "killed while opening: after a restart, one open request" \
    "$rc $(pulls '[(x["number"], x["state"]) for x in p][4:]')" "0 [(5, 'closed'), (6, 'open')]"
is "killed while opening: the branch holds the change once" "$(branch_log)" "Bob Barker <bob@example.com>|model m2: updated in demo"
is "killed while opening: the killed run never saw the answer, the restart found the request" \
    "$(grep -c 'msg="pull request opened" .*request=6 ' "$T/gitsyncd.log") $(grep -c 'msg="pull request updated" .*request=6 ' "$T/gitsyncd.log")" "0 1"
curl -sS -X POST --data '{"method":"PATCH","path":"/pulls/6$","seconds":25}' "$S/_control/hold" >/dev/null
patch_model m3 "Before the crash" "Carol Shaw <carol@example.com>"
"$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once gh >>"$T/gitsyncd.log" 2>&1 &
SPID=$!
wait_for 20 sh -c "curl -sS $S/_control/state | grep -q 'models/m3.yaml. updated by Carol'"
kill -9 "$SPID"; wait "$SPID" 2>/dev/null
sync_once; rc=$?
is "killed while updating: after a restart, still the one request, both commits once" \
    "$rc $(pulls '[(x["number"], x["state"]) for x in p][5:]') $(branch_log | tr '\n' ,)" \
    "0 [(6, 'open')] Bob Barker <bob@example.com>|model m2: updated in demo,Carol Shaw <carol@example.com>|model m3: updated in demo,"
# A resource changed both in the open request and on the branch follows
# sync.conflict (platform, the default): the platform keeps its value and
# the rebuilt request still carries it.
touch "$REMOTE/merge-button"
git -C "$T/clone" fetch -q origin && git -C "$T/clone" reset -q --hard origin/main
sed -i 's/^name: .*/name: Git three/' "$T/clone/models/m3.yaml"
git -C "$T/clone" commit -qam "m3 from Git" && git -C "$T/clone" push -q origin HEAD:main 2>>"$T/push.err"
rm "$REMOTE/merge-button"
sync_once; rc=$?
is "changed in both: the platform keeps its value (conflict policy platform), the request carries it" \
    "$rc $(plat_field models m3 name) $(git --git-dir="$REMOTE" show gitsyncd/gh:models/m3.yaml | grep '^name:') $(git --git-dir="$REMOTE" merge-base main gitsyncd/gh | cut -c1-12)" \
    "0 \"Before the crash\" name: Before the crash $(git --git-dir="$REMOTE" rev-parse main | cut -c1-12)"
prism_verdict
done_testing
