#!/bin/sh
# A resource changed on both sides while gitsyncd was down: each conflict
# policy resolves it as DESIGN §4 says, and both versions stay in history.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 12
BASE=$T

name_is() { [ "$(plat_field models m name)" = "$1" ]; }
file_name() { git --git-dir="$T/remote.git" show "${1:-main}:models/m.yaml" 2>/dev/null | sed -n 's/^name: //p'; }

# conflict POLICY: set up, make both sides change m, restart gitsyncd.
conflict() {
    T=$BASE/$1
    mkdir -p "$T"
    sync_setup "$1"
    plat_post models '{"slug":"m","name":"Original","sourceId":1,"queryType":"raw_sql"}' >/dev/null
    wait_commits 1 || bail "$1: no first commit: $(tail -n 20 "$T/gitsyncd.log")"
    clone_pull
    kill -TERM "$GPID"; wait "$GPID" 2>/dev/null
    plat -X PATCH -H 'X-Actor: Pat Platform <pat@example.com>' --data '{"name":"Platform name"}' \
        "$PURL/api/v1/models/$(plat_id models m)" >/dev/null
    sed -i 's/^name: .*/name: Git name/' "$T/clone/models/m.yaml"
    clone_push "rename in git" 2>/dev/null
    start_gitsyncd
}

conflict platform
wait_for 20 sh -c "git --git-dir='$T/remote.git' log -1 --format=%s main | grep -q 'updated in demo'"
is "platform policy: the platform's version lands on top" "$(file_name)" "Platform name"
is "Git's version stays in history" "$(git --git-dir="$T/remote.git" log --format=%s main | head -n 2 | tr '\n' '|')" \
    "model m: updated in demo|rename in git|"
is "the platform keeps its version" "$(plat_field models m name)" '"Platform name"'
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null; kill "$PPID_" 2>/dev/null

conflict git
wait_for 20 name_is '"Git name"'
is "git policy: the platform takes Git's version" "$(plat_field models m name)" '"Git name"'
is "the branch ends with Git's version" "$(file_name)" "Git name"
is "the platform's version was committed first, then Git's restored" \
    "$(git --git-dir="$T/remote.git" log --format=%s main | head -n 3 | tr '\n' '|')" \
    "model m: restored from Git (conflict policy git)|model m: updated in demo|rename in git|"
like "so the platform's version is in history" "$(git --git-dir="$T/remote.git" log -p main | grep -c 'name: Platform name')" '^[1-9]'
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null; kill "$PPID_" 2>/dev/null

conflict branch
wait_for 20 sh -c "git --git-dir='$T/remote.git' rev-parse -q --verify refs/heads/gitsyncd/conflict/model/m >/dev/null"
is "branch policy: the platform's version is on a conflict branch" "$(file_name gitsyncd/conflict/model/m)" "Platform name"
is "main keeps Git's version" "$(file_name)" "Git name"
is "the platform is left alone" "$(plat_field models m name)" '"Platform name"'
like "/status reports the unresolved conflict" "$(gitsyncd_status | tr -d '\n')" '"unresolved_conflicts": \[ *\{.*gitsyncd/conflict/model/m'
n=$(git --git-dir="$T/remote.git" rev-list --count refs/heads/gitsyncd/conflict/model/m)
curl -s -X POST "http://127.0.0.1:$GPORT/hooks/w/platform" >/dev/null
kill -HUP "$GPID"; sleep 2
is "the conflict branch is not pushed again while it is open" \
    "$(git --git-dir="$T/remote.git" rev-list --count refs/heads/gitsyncd/conflict/model/m)" "$n"
done_testing
