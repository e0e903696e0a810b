#!/bin/sh
# Cluster mode: a replica with a wiped state_dir takes a workspace over.
# Three replicas sync a few changes both ways; then all but r1 stop, r1
# stops, its state_dir is wiped and it starts again alone.  It continues
# from the base the cluster published (refs/gitsyncd/base/w on the remote)
# and the audit cursor in the database: a new platform change is exactly
# one new commit, no old resource is committed again, no old push is
# applied again, and the published base follows.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/clusterlib.sh"
cluster_require
plan 13

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
clone_push "add g-1" || bail "push failed: $(cat "$T/push.err")"
wait_for 60 has_id models g-1 || bail "the push never reached the platform: $(errors)"
clone_pull
sed -i 's/^name: .*/name: G 1 v2/' "$T/clone/models/g-1.yaml"
printf 'slug: g-2\nname: G 2\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-2.yaml"
clone_push "rename g-1, add g-2" || bail "push failed: $(cat "$T/push.err")"
wait_for 60 has_id models g-2 || bail "the second push never reached the platform: $(errors)"
agree() { [ "$(cluster_compare)" = "$1 models" ]; }
if wait_for 60 agree 6; then pass "three replicas: platform and branch agree on 6 models"; else
    fail "three replicas: platform and branch agree on 6 models" "$(cluster_compare)" "$(errors)"; fi
published() {
    [ "$(git --git-dir="$T/remote.git" ls-remote "$T/remote.git" refs/gitsyncd/base/w | cut -f1)" = \
      "$(git --git-dir="$T/remote.git" rev-parse main)" ]
}
if wait_for 60 published; then pass "at rest the published base (refs/gitsyncd/base/w) is the branch's head"; else
    fail "at rest the published base (refs/gitsyncd/base/w) is the branch's head" \
        "$(git --git-dir="$T/remote.git" ls-remote "$T/remote.git" 'refs/gitsyncd/*')" "main: $(git --git-dir="$T/remote.git" rev-parse main)"; fi
is "the database holds the same base" \
    "$(pg_sql 'select base from gitsyncd_workspaces' 2>&1)" "$(git --git-dir="$T/remote.git" rev-parse main)"

# All but r1 stop; r1 stops, loses its state_dir, and starts alone.
replica_stop 2
replica_stop 3
replica_stop 1
before=$(remote_count)
cluster_audit > "$T/audit-before"
for f in $(git --git-dir="$T/remote.git" ls-tree --name-only main models/); do
    echo "$f $(git --git-dir="$T/remote.git" log --format=%H main -- "$f" | wc -l)"
done > "$T/commits-before"
replica_wipe 1
ok "r1's state_dir is empty" [ -z "$(ls -A "$T/r1-state")" ]
replica_start 1
if wait_for 90 replica_ready 1; then pass "r1 with a wiped state_dir is ready"; else
    fail "r1 with a wiped state_dir is ready" "$(errors)"; fi

plat_post models '{"slug":"after","name":"After","sourceId":1,"queryType":"raw_sql"}' \
    "Actor 6 <actor-6@example.com>" >/dev/null
if wait_for 90 has after; then pass "r1 alone commits a new platform change"; else
    fail "r1 alone commits a new platform change" "$(errors 10)"; fi
is "the change is exactly one new commit" "$(remote_count)" "$((before + 1))"
is "it is added by one commit" \
    "$(git --git-dir="$T/remote.git" log --diff-filter=A --format=%H main -- models/after.yaml | wc -l | tr -d ' ')" 1
for f in $(cut -d' ' -f1 "$T/commits-before"); do
    echo "$f $(git --git-dir="$T/remote.git" log --format=%H main -- "$f" | wc -l)"
done > "$T/commits-after"
is "no old resource was committed again" "$(diff "$T/commits-before" "$T/commits-after")" ""

clone_pull
printf 'slug: g-3\nname: G 3\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/g-3.yaml"
clone_push "add g-3" || bail "push failed: $(cat "$T/push.err")"
if wait_for 90 has_id models g-3; then pass "r1 alone applies a new push"; else
    fail "r1 alone applies a new push" "$(errors 10)"; fi
if wait_for 60 agree 8; then pass "platform and branch agree on 8 models"; else
    fail "platform and branch agree on 8 models" "$(cluster_compare)" "$(errors)"; fi
cluster_audit > "$T/audit-after"
is "the platform saw only the new changes: no old push applied again" \
    "$(diff "$T/audit-before" "$T/audit-after" | sed -n 's/^> //p' | cut -d' ' -f1,2 | sort | tr '\n' ' ')" \
    "created after created g-3 "
if wait_for 60 published; then pass "the published base follows the branch's head"; else
    fail "the published base follows the branch's head" \
        "$(git --git-dir="$T/remote.git" ls-remote "$T/remote.git" 'refs/gitsyncd/*')" "main: $(git --git-dir="$T/remote.git" rev-parse main)"; fi
done_testing
