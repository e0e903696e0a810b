#!/bin/sh
# Cluster mode: a replica with a wiped state_dir takes a workspace over.
# Three replicas sync a few changes both ways; then all stop, r1's
# state_dir is wiped, and while no replica runs the platform renames and
# deletes a model and a push renames and deletes others.  r1 starts alone
# and continues from the base the cluster published (refs/gitsyncd/base/w
# on the remote, its sha in the database) and the audit state in the
# database: each side's change reaches the other (none is taken for a
# conflict), one commit each, no old resource committed again, no old push
# applied again; new work goes on as one commit per change, and the
# published base follows on from the one before.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
plan 19

cluster_setup 3s
replicas_ready 1 2 3 || bail "the replicas did not become ready: $(cluster_logs | grep -E 'level=(error|warn)' | tail -n 5)"
has() { git --git-dir="$T/remote.git" cat-file -e "main:models/$1.yaml" 2>/dev/null; }
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
errors() { cluster_logs | grep -E 'level=(error|warn)' | tail -n "${1:-5}"; }

# History made by the three: platform creates and an update, two pushes.
for i in 1 2 3 4; do
    plat_post models "{\"slug\":\"p-$i\",\"name\":\"P $i\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" \
        "Actor $i <actor-$i@example.com>" >/dev/null
done
wait_for 60 has p-4 || bail "the platform changes never reached Git: $(errors)"
plat -X PATCH -H "X-Actor: Actor 5 <actor-5@example.com>" --data '{"name":"P 1 v2"}' \
    "$PURL/api/v1/models/$(plat_id models p-1)" >/dev/null
clone_pull
mkdir -p "$T/clone/models"
printf 'slug: g-1\nname: G 1\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-1.yaml"
clone_push_retry "add g-1" || bail "push failed: $(cat "$T/push.err")"
wait_for 60 has_id models g-1 || bail "the push never reached the platform: $(errors)"
clone_pull
sed -i 's/^name: .*/name: G 1 v2/' "$T/clone/models/g-1.yaml"
printf 'slug: g-2\nname: G 2\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-2.yaml"
clone_push_retry "rename g-1, add g-2" || bail "push failed: $(cat "$T/push.err")"
wait_for 60 has_id models g-2 || bail "the second push never reached the platform: $(errors)"
agree() { [ "$(cluster_compare)" = "$1 models" ]; }
if wait_for 60 agree 6; then pass "three replicas: platform and branch agree on 6 models"; else
    fail "three replicas: platform and branch agree on 6 models" "$(cluster_compare)" "$(errors)"; fi
# The published base: a commit (refs/gitsyncd/base/w on the remote) whose
# tree is the state both sides agreed on; at rest, the branch's models.
pub() { git --git-dir="$T/remote.git" rev-parse -q --verify refs/gitsyncd/base/w 2>/dev/null; }
published() {
    [ -n "$(pub)" ] && [ "$(git --git-dir="$T/remote.git" rev-parse "$(pub):models" 2>/dev/null)" = \
        "$(git --git-dir="$T/remote.git" rev-parse main:models)" ]
}
if wait_for 60 published; then pass "at rest the published base (refs/gitsyncd/base/w) holds the branch's models"; else
    fail "at rest the published base (refs/gitsyncd/base/w) holds the branch's models" \
        "$(git --git-dir="$T/remote.git" ls-remote "$T/remote.git" 'refs/gitsyncd/*')" \
        "base:models $(git --git-dir="$T/remote.git" rev-parse "$(pub):models" 2>&1), main:models $(git --git-dir="$T/remote.git" rev-parse main:models)"; fi
is "the database holds the published base" "$(pg_sql "select base from gitsyncd_workspaces where name = 'w'" 2>&1)" "$(pub)"
# All stop; r1 loses its state_dir.  Meanwhile both sides change: only the
# base tells who changed what (an empty base would make each a conflict,
# and the platform policy would revert the push and resurrect deletions).
replica_stop 2
replica_stop 3
replica_stop 1
base0=$(pub)
cluster_audit > "$T/audit-before"
for f in $(git --git-dir="$T/remote.git" ls-tree --name-only main models/); do
    echo "$f $(git --git-dir="$T/remote.git" log --format=%H main -- "$f" | wc -l)"
done > "$T/commits-before"
replica_wipe 1
ok "r1's state_dir is empty" [ -z "$(ls -A "$T/r1-state")" ]
plat -X PATCH -H "X-Actor: Actor 7 <actor-7@example.com>" --data '{"name":"P 2 while away"}' \
    "$PURL/api/v1/models/$(plat_id models p-2)" >/dev/null
plat -X DELETE -H "X-Actor: Actor 8 <actor-8@example.com>" "$PURL/api/v1/models/$(plat_id models p-3)" >/dev/null
clone_pull
sed -i 's/^name: .*/name: G 2 while away/' "$T/clone/models/g-2.yaml"
git -C "$T/clone" rm -q models/p-4.yaml
clone_push_retry "rename g-2, delete p-4" || bail "push failed: $(cat "$T/push.err")"
before=$(remote_count)

replica_start 1
if replicas_ready 1; then pass "r1 with a wiped state_dir is ready"; else
    fail "r1 with a wiped state_dir is ready" "$(errors)"; fi
if wait_for 90 agree 4; then pass "r1 alone brings both sides' changes across: they agree on 4 models"; else
    fail "r1 alone brings both sides' changes across: they agree on 4 models" "$(cluster_compare)" "$(errors 10)"; fi
is "the platform's rename is in Git" "$(git --git-dir="$T/remote.git" show main:models/p-2.yaml 2>&1 | sed -n 's/^name: //p')" "P 2 while away"
is "the push's rename is on the platform" "$(plat_field models g-2 name)" '"G 2 while away"'
is "the platform's deletion is in Git, the push's on the platform" \
    "$(has p-3 && echo p-3 in git; has_id models p-4 && echo p-4 on the platform)" ""
is "two new commits: the rename and the deletion" "$(remote_count)" "$((before + 2))"
is "the platform saw the push applied once, nothing else" \
    "$(diff "$T/audit-before" "$(cluster_audit > "$T/audit-mid"; echo "$T/audit-mid")" | sed -n 's/^> //p' | cut -d' ' -f1,2 | sort | tr '\n' ' ')" \
    "deleted p-3 deleted p-4 updated g-2 updated p-2 "
for f in $(cut -d' ' -f1 "$T/commits-before" | grep -v -e p-2 -e p-3 -e p-4 -e g-2); do
    echo "$f $(git --git-dir="$T/remote.git" log --format=%H main -- "$f" | wc -l)"
done > "$T/commits-after"
is "no other resource was committed again" "$(grep -v -e p-2 -e p-3 -e p-4 -e g-2 "$T/commits-before" | diff - "$T/commits-after")" ""

# Then new work, on r1 alone.
before=$(remote_count)
plat_post models '{"slug":"after","name":"After","sourceId":1,"queryType":"raw_sql"}' \
    "Actor 9 <actor-9@example.com>" >/dev/null
if wait_for 90 has after; then pass "r1 commits a new platform change"; else
    fail "r1 commits a new platform change" "$(errors 10)"; fi
is "it is exactly one new commit" "$(remote_count)" "$((before + 1))"
clone_pull
printf 'slug: g-3\nname: G 3\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-3.yaml"
clone_push_retry "add g-3" || bail "push failed: $(cat "$T/push.err")"
if wait_for 90 has_id models g-3; then pass "r1 applies a new push"; else
    fail "r1 applies a new push" "$(errors 10)"; fi
if wait_for 60 agree 6; then pass "platform and branch agree on 6 models"; else
    fail "platform and branch agree on 6 models" "$(cluster_compare)" "$(errors)"; fi
cluster_audit > "$T/audit-after"
is "the platform saw only the new changes since" \
    "$(diff "$T/audit-mid" "$T/audit-after" | sed -n 's/^> //p' | cut -d' ' -f1,2 | sort | tr '\n' ' ')" \
    "created after created g-3 "
moved() { [ "$(pub)" != "$base0" ] && published; }
if wait_for 60 moved; then pass "r1 publishes a new base that holds the branch's models"; else
    fail "r1 publishes a new base that holds the branch's models" "base before: $base0, now: $(pub)"; fi
ok "it continues the published one (the base before is its ancestor)" \
    git --git-dir="$T/remote.git" merge-base --is-ancestor "$base0" "$(pub)"
done_testing
