#!/bin/sh
# Many files in one push: invalid files are logged when they appear or
# change, not again at every full reconcile (a push of 20,000 of them used
# to flood the log), with one summary line per sync; and the post-receive
# hook's lists reach gitsyncd whole, or are left out when git quotes a path.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 9
N=300

sync_setup platform 10 1s
plat_post models '{"slug":"base-model","name":"Base","sourceId":1,"queryType":"raw_sql"}' >/dev/null
wait_commits 1 || bail "the first platform change never arrived: $(tail -n 20 "$T/gitsyncd.log")"
clone_pull

mkdir -p "$T/clone/models"
i=0
while [ $i -lt $N ]; do
    printf 'slug: [broken\n' > "$T/clone/models/bad-$i.yaml"
    i=$((i + 1))
done
printf 'slug: good\nname: Good\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/good.yaml"
clone_push "$N invalid files and a good one" || bail "push failed: $(cat "$T/push.err")"

summaries() { grep -c 'msg="invalid files skipped in this sync' "$T/gitsyncd.log"; }
logged() { grep -c 'msg="invalid file skipped" ' "$T/gitsyncd.log"; }
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
if wait_for 30 has_id models good; then pass "the valid file beside $N invalid ones is applied"; else fail "the valid file beside $N invalid ones is applied" "$(tail -n 20 "$T/gitsyncd.log")"; fi
s0=$(summaries)
# Three more full reconciles (interval 1s) of the same files.
wait_for 30 sh -c "[ \$(grep -c 'msg=\"invalid files skipped in this sync' '$T/gitsyncd.log') -ge $((s0 + 3)) ]"
ok "every sync logs a summary line" [ "$(summaries)" -ge $((s0 + 3)) ]
like "the summary counts the invalid files" "$(grep 'msg="invalid files skipped in this sync' "$T/gitsyncd.log" | tail -n 1)" "count=$N( |\$)"
is "each invalid file is logged once over several full reconciles" "$(logged)" "$N"
gitsyncd_status > "$T/status.json"
is "/status still lists every invalid file" \
    "$(python3 -c 'import json,sys; w=json.load(open(sys.argv[1]))["workspaces"]["w"]; print(len(w["invalid_files"]))' "$T/status.json" 2>&1)" "$N"

# One invalid file changes (still invalid): logged once more, only it.
clone_pull
printf 'slug: [still broken\n' > "$T/clone/models/bad-7.yaml"
clone_push "bad-7 changed" || bail "push failed: $(cat "$T/push.err")"
s1=$(summaries)
wait_for 30 sh -c "[ \$(grep -c 'msg=\"invalid files skipped in this sync' '$T/gitsyncd.log') -ge $((s1 + 2)) ]"
is "a changed invalid file is logged again, once" "$(logged)" "$((N + 1))"
is "the new line names it" "$(grep 'msg="invalid file skipped" ' "$T/gitsyncd.log" | tail -n 1 | grep -o 'path=[^ ]*')" "path=models/bad-7.yaml"

# The hook: a push of many files notifies with every path; a path git must
# quote drops the lists (gitsyncd compares the whole branch), and is synced.
git --git-dir="$T/remote.git" config gitsyncd.maxPaths 100000
clone_pull
i=0
while [ $i -lt $N ]; do rm "$T/clone/models/bad-$i.yaml"; i=$((i + 1)); done
printf 'slug: quoted\nname: Q\nsourceId: 3\nqueryType: raw_sql\n' > "$T/clone/models/quoted.yaml"
printf 'x' > "$T/clone/models/a \"q\".txt"
clone_push "remove the invalid files" || bail "push failed: $(cat "$T/push.err")"
if wait_for 30 has_id models quoted; then pass "a push with a quoted path is still notified and applied"; else fail "a push with a quoted path is still notified and applied" "$(tail -n 20 "$T/gitsyncd.log")"; fi
is "the hook reported no error to the pusher" "$(cat "$T/push.err")" ""
done_testing
