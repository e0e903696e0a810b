#!/bin/sh
# Git -> platform: a push (through the post-receive hook's signed webhook)
# is applied resource by resource; a revert rolls the platform back;
# invalid files and mass deletions are reported, never applied.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 15
sync_setup platform 2

plat_post models '{"slug":"base-model","name":"Base","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select 1"}}' >/dev/null
wait_commits 1 || bail "the first platform change never arrived: $(tail -n 20 "$T/gitsyncd.log")"
clone_pull

mkdir -p "$T/clone/models" "$T/clone/syncs"
printf 'slug: revenue\nname: Revenue\nsourceId: 2\nqueryType: raw_sql\nraw:\n  sql: |\n    select sum(amount)\n      from orders\n' > "$T/clone/models/revenue.yaml"
printf 'model: revenue\ndestinationId: 7\nconfiguration:\n  object: Account\n' > "$T/clone/syncs/revenue-to-crm.yaml"
echo "# Models live here" > "$T/clone/models/README.md"
clone_push "add revenue and its sync" || bail "push failed: $(cat "$T/push.err")"
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
field_is() { [ "$(plat_field "$1" "$2" "$3")" = "$4" ]; }
status_has() { gitsyncd_status | grep -q "$1"; }
if wait_for 20 has_id syncs revenue-to-crm; then
    pass "a pushed model and sync are created on the platform"
else
    fail "a pushed model and sync are created on the platform" "$(tail -n 30 "$T/gitsyncd.log")"
fi
is "the sync's model reference became the model's id" "$(plat_field syncs revenue-to-crm modelId)" "$(plat_id models revenue)"
is "the SQL arrived intact" "$(plat_field models revenue raw)" '{"sql": "select sum(amount)\n  from orders\n"}'
like "the platform saw the pusher as the actor" "$(plat "$PURL/api/v1/audit" | tr -d ' \n')" '"slug":"revenue","action":"created","actor":\{"name":"GraceHopper"'
is "the README is not a resource" "$(plat "$PURL/api/v1/models?slug=README" | tr -d ' \n')" '{"data":[],"hasMore":false}'

# The platform fills in defaults: gitsyncd commits its form once, then rests.
sleep 1
n=$(remote_count)
sleep 1
is "a normalising platform converges (no commit loop)" "$(remote_count)" "$n"

clone_pull
sed -i 's/^name: Revenue$/name: Net revenue/' "$T/clone/models/revenue.yaml"
clone_push "rename revenue"
wait_for 20 field_is models revenue name '"Net revenue"'
is "a modified file updates the platform" "$(plat_field models revenue name)" '"Net revenue"'

# git revert of that commit rolls the platform back.
git -C "$T/clone" revert --no-edit HEAD >/dev/null && git -C "$T/clone" push -q origin HEAD:main
wait_for 20 field_is models revenue name '"Revenue"'
is "git revert rolls the platform back" "$(plat_field models revenue name)" '"Revenue"'

# One invalid file and one valid: the valid one applies, the invalid one is reported.
clone_pull
printf 'slug: broken\nname: Broken\nsourceId: not-a-number\nqueryType: raw_sql\n' > "$T/clone/models/broken.yaml"
printf 'slug: fine\nname: Fine\nsourceId: 3\nqueryType: raw_sql\n' > "$T/clone/models/fine.yaml"
clone_push "one good, one bad"
wait_for 20 has_id models fine
is "the valid file is applied" "$(plat_field models fine name)" '"Fine"'
is "the invalid file is not" "$(plat_id models broken)" ""
wait_for 10 status_has broken
like "/status names the invalid file and why" "$(gitsyncd_status | tr -d '\n')" '"message": "sourceId: expected integer, got string", *"path": "models/broken.yaml"'

# Deleting more than max_deletes (2) is refused as a whole.
clone_pull
git -C "$T/clone" rm -q models/broken.yaml
git -C "$T/clone" rm -q models/fine.yaml models/base-model.yaml syncs/revenue-to-crm.yaml
ids_before="$(plat_id models fine):$(plat_id models base-model):$(plat_id syncs revenue-to-crm)"
clone_push "delete four"
wait_for 10 status_has 'exceeds max_deletes'
is "nothing was deleted" "$(plat_id models fine):$(plat_id models base-model):$(plat_id syncs revenue-to-crm)" "$ids_before"
like "the ids were there to begin with" "$ids_before" '^[0-9]+:[0-9]+:[0-9]+$'
like "/status reports the refused deletes" "$(gitsyncd_status | tr -d '\n')" 'refused_deletes": \[.*exceeds max_deletes 2'

# The same push webhook delivered twice is applied once.
body='{"ref":"refs/heads/main","before":"0","after":"'$(git --git-dir="$T/remote.git" rev-parse main)'","repository":{"full_name":"remote"},"commits":[]}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$GSECRET" -r | cut -d' ' -f1)
post() {
    curl -s -o /dev/null -w '%{http_code}' -H 'X-GitHub-Event: push' -H 'X-GitHub-Delivery: dup-1' \
        -H "X-Hub-Signature-256: sha256=$sig" -H 'Content-Type: application/json' \
        --data-binary "$body" "http://127.0.0.1:$GPORT/hooks/w/git"
}
is "a delivery is queued once" "$(post) $(post)" "202 200"
done_testing
