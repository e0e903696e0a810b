#!/bin/sh
# `gitsyncd plan`: what merging a pull request would do to the demo
# platform: 2 updates, 1 create, 1 delete, 1 invalid file, a reference to
# nothing, a resource changed on the platform since the request's base,
# the max_deletes guard; --dir gives the same plan; nothing changes.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 27

PPORT=$(free_port); GPORT=$(free_port)
PURL=http://127.0.0.1:$PPORT
git init -q --bare -b main "$T/remote.git"
mkdir -p "$T/state"
ws() { # ws NAME MAX_DELETES
    cat <<YAML
  - name: $1
    platform: { profile: demo, url: $PURL/api/v1, token: $PTOKEN }
    git:
      url: file://$T/remote.git
      branch: main
      path: ""
      author: { name: gitsyncd, email: gitsyncd@example.com }
    sync: { interval: 0, max_deletes: $2 }
YAML
}
{ printf 'listen: 127.0.0.1:%s\nstate_dir: %s\nlog: { level: info, format: logfmt }\nworkspaces:\n' "$GPORT" "$T/state"
  ws w 10; ws strict 0; } > "$T/gitsyncd.yaml"
start_platform
for m in m1 m2 m3 m4; do
    plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
done
plat_post syncs '{"slug":"s1","modelId":1,"destinationId":7,"configuration":{"object":"Account"}}' >/dev/null
"$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once w >"$T/sync.out" 2>&1 || bail "the import failed: $(cat "$T/sync.out")"
git clone -q "$T/remote.git" "$T/clone" 2>/dev/null
git -C "$T/clone" config user.name "Grace Hopper"
git -C "$T/clone" config user.email grace@example.com

# The request: 2 models changed, 1 added, 1 deleted, 1 invalid file, 1 bad reference.
git -C "$T/clone" checkout -q -b feature
sed -i 's/^name: Model m1$/name: First model/' "$T/clone/models/m1.yaml"
sed -i 's/select 1/select 2/' "$T/clone/models/m2.yaml"
printf 'slug: m5\nname: Model five\nsourceId: 1\nqueryType: raw_sql\nraw:\n  sql: select 5\n' > "$T/clone/models/m5.yaml"
git -C "$T/clone" rm -q models/m4.yaml
printf 'slug: bad\nname: Bad\nsourceId: not-a-number\nqueryType: raw_sql\n' > "$T/clone/models/bad.yaml"
printf 'model: nowhere\ndestinationId: 7\nconfiguration:\n  object: Lead\n' > "$T/clone/syncs/s2.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "the request"
git -C "$T/clone" push -q origin feature HEAD:refs/pull/7/head 2>/dev/null || bail "push failed"
# Meanwhile someone edits m2 on the platform, and main moves on.
plat -X PATCH --data '{"name":"Renamed in the UI"}' "$PURL/api/v1/models/$(plat_id models m2)" >/dev/null
git -C "$T/clone" checkout -q main
printf 'slug: m6\nname: Model six\nsourceId: 1\nqueryType: raw_sql\n' > "$T/clone/models/m6.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "main moves" && git -C "$T/clone" push -q origin main

audit0=$(plat "$PURL/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
gplan() { "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" plan "$@" >"$T/plan.out" 2>"$T/plan.err"; }
gplan w --ref refs/pull/7/head; rc=$?
out=$(cat "$T/plan.out")
is "an invalid file fails the plan: exit 1" "$rc" 1
like "m1: an update of name" "$out" '  update +model/m1 \(models/m1.yaml\): name$'
like "m2: an update of name (changed in the UI) and raw" "$out" '  update +model/m2 \(models/m2.yaml\): name, raw$'
like "m5: a create" "$out" '  create +model/m5 \(models/m5.yaml\)$'
like "m4: a delete" "$out" '  delete +model/m4 \(models/m4.yaml\)$'
like "the invalid file, as path:line:col" "$out" '^models/bad.yaml:3:1: error: sourceId: expected integer, got string$'
like "the reference to nothing, at its value" "$out" '^syncs/s2.yaml:1:8: error: model: no model "nowhere" in the merged tree$'
like "m2 is flagged: changed on the platform since the request's base" "$out" 'warning: model/m2 changed on the platform since'
unlike "m6 (only on main) is not part of the request" "$out" 'm6'
like "the summary" "$out" '^FAILED: 1 to create, 2 to update, 1 to delete; 2 invalid files; 1 changed on the platform since the base$'
audit1=$(plat "$PURL/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
is "nothing changed on the platform" "$audit1" "$audit0"
is "the mirror keeps no ref of the request after the plan" "$(git --git-dir="$T/state/w.git" for-each-ref refs/gitsyncd/review)" ""
is "nothing changed on the remote branch" "$(git --git-dir="$T/remote.git" log --format=%s -1 main)" "main moves"

gplan w --ref refs/pull/7/head --format json
is "JSON: the same plan" "$(python3 -c '
import json,sys; p = json.load(open(sys.argv[1]))
print(p["ok"], [(c["action"], c["slug"], c["fields"], c["platform_changed"]) for c in p["changes"]], [(e["path"], e["line"], e["col"]) for e in p["errors"]])' "$T/plan.out")" \
    "False [('update', 'm1', ['name'], False), ('update', 'm2', ['name', 'raw'], True), ('delete', 'm4', [], False), ('create', 'm5', [], False)] [('models/bad.yaml', 3, 1), ('syncs/s2.yaml', 1, 8)]"

# --dir: a CI checkout of the request gives the same plan (against main's tip).
git -C "$T/clone" worktree add -q --detach "$T/checkout" feature 2>/dev/null
gplan w --dir "$T/checkout" --format json; rc=$?
is "--dir: the same changes; m6 (on main, not in the checkout, not on the platform) needs nothing" "$rc $(python3 -c '
import json,sys; p = json.load(open(sys.argv[1]))
print(sorted((c["action"], c["slug"]) for c in p["changes"]), len(p["errors"]))' "$T/plan.out")" \
    "1 [('create', 'm5'), ('delete', 'm4'), ('unchanged', 'm6'), ('update', 'm1'), ('update', 'm2')] 2"
like "--dir: paths name the checkout" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"][0]["path"])' "$T/plan.out")" "^$T/checkout/models/bad.yaml$"

# Fix the files and push: the plan passes.
git -C "$T/clone" checkout -q feature
sed -i 's/^sourceId: not-a-number$/sourceId: 4/' "$T/clone/models/bad.yaml"
sed -i 's/^model: nowhere$/model: m5/' "$T/clone/syncs/s2.yaml"
git -C "$T/clone" commit -qam "fix" && git -C "$T/clone" push -q origin HEAD:refs/pull/7/head HEAD:feature 2>/dev/null
gplan w --ref refs/pull/7/head; rc=$?
is "fixed: exit 0" "$rc" 0
like "fixed: two more creates (bad, s2), no errors" "$(cat "$T/plan.out")" '^ok: 3 to create, 2 to update, 1 to delete; 1 changed on the platform since the base$'
gplan strict --ref refs/pull/7/head; rc=$?
is "max_deletes 0: the delete trips the guard, exit 1" "$rc" 1
like "... and says so" "$(cat "$T/plan.out")" 'guard: 1 deletions exceed max_deletes 0'
gplan w --ref feature; rc=$?
is "a branch name works as --ref" "$rc $(tail -n 1 "$T/plan.out")" "0 ok: 3 to create, 2 to update, 1 to delete; 1 changed on the platform since the base"

# Errors and usage.
gplan w --ref refs/pull/99/head; rc=$?
like "a ref the remote lacks: exit 1, named" "$rc $(cat "$T/plan.err")" '^1 gitsyncd: plan of workspace w: fetch refs/pull/99/head from file://.*: the remote has no such ref'
gplan w --ref 'refs/pull/../x'; rc=$?
like "a ref name with .. is refused" "$rc $(cat "$T/plan.err")" 'is not a valid ref name'
gplan w --ref x --dir "$T/checkout"; is "--ref and --dir together: usage, exit 2" $? 2
gplan w --format yaml; is "an unknown format: exit 2" $? 2
gplan nope; is "an unknown workspace: exit 2" $? 2
is "the platform still has what it had" "$(plat "$PURL/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')" "$audit0"
done_testing
