#!/bin/sh
# Protected branches on each of the five Git hosts (DESIGN §11): per host a
# demo platform and a repository whose main refuses direct pushes (a
# pre-receive hook), served over smart HTTP by the test Git host
# (forge-server.py) next to that host's pull request API.  2 UI changes by
# 2 actors -> one request from gitsyncd/<workspace> with 2 commits by them;
# a 3rd -> the same request, 3 commits, its description updated; closed
# without merging with git.rejected revert -> the branch's version is back
# on the platform and no request is opened again; main never moved.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
HOSTS="github gitlab gitea bitbucket bitbucket-server"
plan 40

ATOKEN=e2e-git-api-token-5c19
SPORT=$(free_port); GPORT=$(free_port)
S=http://127.0.0.1:$SPORT
SECRETS_SCAN="$PTOKEN $GSECRET $ATOKEN"
mkdir -p "$T/state" "$T/git/scm/PRJ"
spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SPORT" --token "$ATOKEN" --git-root "$T/git"
wait_port "$SPORT" 30 || bail "the test Git host did not start: $(cat "$T/server.log")"

srv() { [ "$1" = bitbucket-server ] && echo bbs || echo "$1"; }
repo() { if [ "$1" = bitbucket-server ]; then echo "$T/git/scm/PRJ/cfg.git"; else echo "$T/git/$1/cfg.git"; fi; }
api_url() {
    case $1 in
    github) echo "$S/github" ;;
    gitlab) echo "$S/gitlab/api/v4" ;;
    gitea) echo "$S/gitea/api/v1" ;;
    bitbucket) echo "$S/bitbucket/2.0" ;;
    bitbucket-server) echo "$S/bbs/rest/api/latest" ;;
    esac
}
git_url() { if [ "$1" = bitbucket-server ]; then echo "$S/scm/PRJ/cfg.git"; else echo "$S/$1/cfg.git"; fi; }
cat > "$T/pre-receive" <<'HOOK'
#!/bin/sh
while read old new ref; do
    [ "$ref" = refs/heads/main ] && { echo "main is protected" >&2; exit 1; }
done
exit 0
HOOK
chmod +x "$T/pre-receive"

printf 'listen: 127.0.0.1:%s\nworkers: 2\nstate_dir: %s\nlog: { level: debug, format: logfmt }\nworkspaces:\n' "$GPORT" "$T/state" > "$T/gitsyncd.yaml"
for h in $HOSTS; do
    port=$(free_port); eval "PPORT_$(srv "$h")=$port"
    mkdir -p "$(dirname "$(repo "$h")")"
    git init -q --bare -b main "$(repo "$h")"
    git --git-dir="$(repo "$h")" config http.receivepack true
    spawn "$T/platform-$h.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$port" \
        --token "$PTOKEN" --webhook-secret "$PSECRET" --data "$T/platform-$h.json"
    wait_port "$port" 10 || bail "the demo platform did not start: $(cat "$T/platform-$h.log")"
    cat >> "$T/gitsyncd.yaml" <<YAML
  - name: $h
    platform: { profile: demo, url: http://127.0.0.1:$port/api/v1, token: $PTOKEN, webhook_secret: $PSECRET }
    git:
      url: $(git_url "$h")
      branch: main
      path: ""
      host: $h
      webhook_secret: $GSECRET
      author: { name: gitsyncd, email: gitsyncd@example.com }
      write: pull_request
      rejected: revert
      api: { url: $(api_url "$h"), token: $ATOKEN }
    sync: { interval: 0, max_deletes: 10 }
YAML
done
use() { eval "PURL=http://127.0.0.1:\$PPORT_$(srv "$1")"; }
sync_once() {
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once "$1" >>"$T/gitsyncd.log" 2>&1
}
patch_model() { # SLUG NAME ACTOR
    id=$(plat_id models "$1")
    plat -X PATCH -H "X-Actor: $3" --data "{\"name\":\"$2\"}" "$PURL/api/v1/models/$id" >/dev/null
}
pulls() { curl -sS "$S/_control/state" | python3 -c 'import json,sys; p=json.load(sys.stdin)["pulls"][sys.argv[2]]; print(eval(sys.argv[1]))' "$1" "$(srv "$H")"; }
branch_log() { git --git-dir="$(repo "$H")" log --reverse --format='%an|%s' "main..gitsyncd/$H" 2>&1 | tr '\n' ,; }

for H in $HOSTS; do
    use "$H"
    R=$(repo "$H")
    for m in m0 m1; do
        plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
    done
    sync_once "$H"
    out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" doctor "$H" 2>>"$T/doctor.err"); rc=$?
    like "$H: doctor, unprotected: all well, pull_request fits" "$rc $(printf '%s' "$out" | tr '\n' '~')" \
        "^0 ok +platform +demo reachable, token accepted.*~ok +remote +reachable, credentials accepted~ok +branch +main exists.*~ok +protection main takes direct pushes: git.write pull_request fits.*~ok +events .*~ok +webhooks .*$"
    curl -sS -X POST --data "{\"host\":\"$(srv "$H")\",\"branch\":\"main\"}" "$S/_control/protect" >/dev/null
    cp "$T/pre-receive" "$R/hooks/pre-receive"
    out=$("$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" doctor "$H" 2>>"$T/doctor.err"); rc=$?
    like "$H: doctor, protected: the host says so, pull_request fits" "$rc $(printf '%s' "$out" | grep protection)" \
        "^0 ok +protection main refuses direct pushes \(.*\): git.write pull_request fits$"
    MAIN0=$(git --git-dir="$R" rev-parse main 2>&1)
    patch_model m1 "UI one" "Ada Lovelace <ada@example.com>"
    plat_post models '{"slug":"m2","name":"UI two","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 2"}}' "Bob Barker <bob@example.com>" >/dev/null
    sync_once "$H"; rc=$?
    is "$H: one open request from gitsyncd/$H into main" \
        "$rc $(pulls '[(x["number"], x["state"], x["head"], x["base"]) for x in p]')" "0 [(1, 'open', 'gitsyncd/$H', 'main')]"
    is "$H: gitsyncd/$H holds 2 commits on main, by their actors" "$(branch_log)" \
        "Ada Lovelace|model m1: updated in demo,Bob Barker|model m2: created in demo,"
    patch_model m0 "UI zero" "Carol Shaw <carol@example.com>"
    sync_once "$H"; rc=$?
    is "$H: a 3rd change updates the same request" \
        "$rc $(pulls '[(x["number"], x["state"]) for x in p]') $(branch_log | tr -cd , | wc -c)" "0 [(1, 'open')] 3"
    like "$H: its description lists the 3rd" "$(pulls 'p[0]["body"]')" "models/m0.yaml. updated by Carol Shaw"
    curl -sS -X POST --data "{\"host\":\"$(srv "$H")\",\"number\":1,\"state\":\"closed\"}" "$S/_control/pull" >/dev/null
    sync_once "$H"; rc=$?
    is "$H: closed unmerged, git.rejected revert: the branch's values are back, no new request" \
        "$rc $(plat_field models m1 name) $(plat_field models m0 name) $(plat_field models m2 name) $(pulls 'len(p)')" \
        '0 "Model m1" "Model m0" ABSENT 1'
    is "$H: main never moved" "$(git --git-dir="$R" rev-parse main)" "$MAIN0"
done
done_testing
