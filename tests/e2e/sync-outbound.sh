#!/bin/sh
# Platform -> Git: each change made on the platform becomes one commit on
# the branch, authored by whoever made it, with the gitsyncd trailers.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 14
sync_setup

# An empty platform and an empty branch: the first sync makes nothing.
wait_for 10 test -n "$(gitsyncd_status)" || bail "no /status"

model='{"slug":"daily-users","name":"Daily users","sourceId":1,"queryType":"raw_sql","raw":{"sql":"select id,\n       email\n  from users\n where active"},"primaryKey":"id","tags":{"team":"growth"}}'
out=$(plat_post models "$model" "Ada Lovelace <ada@example.com>")
like "the platform created the model" "$out" '"slug": ?"daily-users"'

if wait_commits 1; then pass "a platform create becomes a commit"; else fail "a platform create becomes a commit" "$(tail -n 30 "$T/gitsyncd.log")"; fi
is "the commit touches one file, by the platform's actor" \
    "$(remote_log | tail -n 1)" "model daily-users: created in demo|Ada Lovelace <ada@example.com>|models/daily-users.yaml"
body=$(git --git-dir="$T/remote.git" log -1 --format=%B main)
like "the commit carries the event trailer" "$body" 'Gitsyncd-Event: [^ ]+'
like "the commit carries the actor trailer" "$body" 'Gitsyncd-Actor: Ada Lovelace <ada@example.com>'
is "the committer is gitsyncd" "$(git --git-dir="$T/remote.git" log -1 --format='%cn <%ce>' main)" "gitsyncd <gitsyncd@example.com>"
yaml=$(git --git-dir="$T/remote.git" show main:models/daily-users.yaml)
like "the SQL is a literal block, one line per line" "$yaml" '^    select id,$'
unlike "no platform id in Git" "$yaml" '(^id:|createdAt|updatedAt)'

id=$(plat_id models daily-users)
plat -X PATCH -H 'X-Actor: Linus <linus@example.com>' --data '{"name":"Daily active users"}' "$PURL/api/v1/models/$id" >/dev/null
wait_commits 2
is "a platform update becomes the next commit" "$(remote_log | tail -n 1)" \
    "model daily-users: updated in demo|Linus <linus@example.com>|models/daily-users.yaml"

# A burst: five models in a row, then one commit per model, in event order.
for i in 1 2 3 4 5; do
    plat_post models "{\"slug\":\"m$i\",\"name\":\"M $i\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select $i\"},\"primaryKey\":\"id\",\"tags\":{}}" >/dev/null
done
wait_commits 7 30
is "a burst of five creates gives five commits in order" \
    "$(remote_log | tail -n 5 | cut -d'|' -f3 | tr '\n' ' ')" \
    "models/m1.yaml models/m2.yaml models/m3.yaml models/m4.yaml models/m5.yaml "

plat -X DELETE -H 'X-Actor: Ada Lovelace <ada@example.com>' "$PURL/api/v1/models/$(plat_id models m3)" >/dev/null
wait_commits 8
is "a platform delete removes the file in one commit" "$(remote_log | tail -n 1)" \
    "model m3: deleted in demo|Ada Lovelace <ada@example.com>|models/m3.yaml"

# The commits gitsyncd pushed come back as a push webhook: nothing to apply,
# and nothing bounces back as a new commit.
sleep 1
is "no commit bounces back" "$(remote_count)" 8
like "/status names the workspace" "$(gitsyncd_status)" '"w"'
idle() { curl -s "http://127.0.0.1:$GPORT/metrics" | grep -q '^gitsyncd_jobs_running 0$'; }
wait_for 10 idle
is "once idle, /metrics shows no job running and none queued" \
    "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep -E '^gitsyncd_(queue_depth|jobs_running) ' | tr '\n' ' ')" \
    "gitsyncd_queue_depth 0 gitsyncd_jobs_running 0 "
done_testing
