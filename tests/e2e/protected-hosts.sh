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
. "$top_srcdir/tests/e2e/hostslib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 40

ATOKEN=e2e-git-api-token-5c19
hosts_init
forge_start
hosts_setup revert
branch_log() { git --git-dir="$(repo "$H")" log --reverse --format='%an|%s' "main..gitsyncd/$H" 2>&1 | tr '\n' ,; }

for H in $HOSTS; do
    host_begin "$H"
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
