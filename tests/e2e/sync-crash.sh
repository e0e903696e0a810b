#!/bin/sh
# kill -9 at random moments during a burst of changes on both sides, then
# restart: platform and branch end equal, every change is in history
# exactly once, nothing is applied twice.  Also: a platform failing 30% of
# requests, and a Git remote that is away for a while, both converge.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 8
N=${CRASH_CHANGES:-100}
sync_setup platform 1000 3s

platform_side() {
    i=1
    while [ $i -le "$N" ]; do
        plat_post models "{\"slug\":\"p-$i\",\"name\":\"P $i\",\"sourceId\":1,\"queryType\":\"raw_sql\"}" >/dev/null
        i=$((i + 1))
    done
}
git_side() {
    mkdir -p "$T/clone/models"
    i=1
    while [ $i -le "$N" ]; do
        printf 'slug: g-%s\nname: G %s\nsourceId: 2\nqueryType: raw_sql\n' $i $i > "$T/clone/models/g-$i.yaml"
        git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "add g-$i"
        tries=0
        until git -C "$T/clone" push -q origin HEAD:main 2>/dev/null; do
            git -C "$T/clone" pull -q --rebase origin main 2>/dev/null
            tries=$((tries + 1)); [ $tries -gt 50 ] && break
        done
        i=$((i + 1))
    done
}
platform_side > "$T/platform-side.log" 2>&1 &
P1=$!
git_side > "$T/git-side.log" 2>&1 &
P2=$!
for k in 1 2 3 4; do
    sleep "0.$(( $(od -An -N1 -tu1 /dev/urandom) % 9 + 1))"
    kill -9 "$GPID" 2>/dev/null; wait "$GPID" 2>/dev/null
    diag "killed gitsyncd (kill -9) #$k"
    start_gitsyncd
done
wait $P1 $P2

plat_slugs() { plat "$PURL/api/v1/models?limit=1000" | python3 -c 'import sys,json; print("\n".join(sorted(m["slug"] for m in json.load(sys.stdin)["data"])))'; }
git_slugs() { git --git-dir="$T/remote.git" ls-tree --name-only main models/ | sed 's|models/||; s|\.yaml$||' | sort; }
equal() { git -C "$T/remote.git" fetch -q 2>/dev/null; [ "$(plat_slugs)" = "$(git_slugs)" ] && [ "$(plat_slugs | wc -l)" -eq $((2 * N)) ]; }
if wait_for 60 equal; then pass "platform and branch hold the same $((2 * N)) models"; else fail "platform and branch hold the same $((2 * N)) models" "platform: $(plat_slugs | wc -l), branch: $(git_slugs | wc -l)"; fi
dups=$(git --git-dir="$T/remote.git" log --diff-filter=A --format= --name-only main | grep . | sort | uniq -d)
is "every file was added in exactly one commit" "$dups" ""
created=$(plat "$PURL/api/v1/audit" | python3 -c 'import sys,json,collections; c=collections.Counter(e["slug"] for e in json.load(sys.stdin)["data"] if e["action"]=="created"); print(sum(1 for v in c.values() if v > 1), len(c))')
is "every model was created on the platform exactly once" "$created" "0 $((2 * N))"
pc=$(for i in $(seq 1 "$N"); do git --git-dir="$T/remote.git" log --format=%H main -- "models/p-$i.yaml" | wc -l; done | sort -u | tr '\n' ' ')
is "each platform change is one commit" "$pc" "1 "
n=$(remote_count); sleep 4
is "at rest, nothing more is committed" "$(remote_count)" "$n"

# A platform failing 30% of requests still converges.
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null; kill "$PPID_"; wait "$PPID_" 2>/dev/null
spawn "$T/platform-faulty.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token "$PTOKEN" \
    --webhook-secret "$PSECRET" --data "$T/platform.json" --fail-rate 0.3 \
    --webhook-url "http://127.0.0.1:$GPORT/hooks/w/platform"
PPID_=$!
wait_port "$PPORT" || bail "no faulty platform"
start_gitsyncd
git -C "$T/clone" pull -q --rebase origin main
printf 'slug: flaky\nname: Flaky\nsourceId: 3\nqueryType: raw_sql\n' > "$T/clone/models/flaky.yaml"
clone_push "while the platform is flaky"
flaky_there() { curl -s -H "Authorization: Bearer $PTOKEN" "$PURL/api/v1/models?slug=flaky" | grep -q '"slug": "flaky"'; }
if wait_for 30 flaky_there; then pass "with 30% of platform requests failing, a push converges"; else fail "with 30% of platform requests failing, a push converges" "$(tail -n 20 "$T/gitsyncd.log")"; fi

# The Git remote away for a while (the platform healthy again): changes
# wait, then arrive.
kill "$PPID_"; wait "$PPID_" 2>/dev/null
spawn "$T/platform-again.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token "$PTOKEN" \
    --webhook-secret "$PSECRET" --data "$T/platform.json" \
    --webhook-url "http://127.0.0.1:$GPORT/hooks/w/platform"
PPID_=$!
wait_port "$PPORT" || bail "the platform did not restart"
mv "$T/remote.git" "$T/remote.away"
plat_post models '{"slug":"while-away","name":"W","sourceId":1,"queryType":"raw_sql"}' >/dev/null
away() { grep -q 'sync failed.*fetch failed' "$T/gitsyncd.log"; }
if wait_for 15 away; then pass "an unreachable remote is reported as a failed sync"; else fail "an unreachable remote is reported as a failed sync" "$(tail -n 5 "$T/gitsyncd.log")"; fi
mv "$T/remote.away" "$T/remote.git"
back() { git --git-dir="$T/remote.git" cat-file -e main:models/while-away.yaml 2>/dev/null; }
if wait_for 60 back; then pass "once it is back, the change arrives"; else fail "once it is back, the change arrives"; fi
done_testing
