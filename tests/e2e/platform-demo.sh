#!/bin/sh
# The platform client against the demo platform, a real process: CRUD,
# references as slugs, the platform's own errors, paging, retries, timeouts.
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=$top_builddir/contrib/demo-platform/demo-platform
TOOL=$top_builddir/tests/platform-tool
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 21

start() { # start NAME ARGS...: a demo platform; sets URL_<NAME>
    _n=$1; shift
    _p=$(free_port)
    spawn "$T/$_n.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$_p" --token tok "$@"
    wait_port "$_p" || bail "demo platform $_n did not start: $(cat "$T/$_n.log")"
    eval "URL_$_n=http://127.0.0.1:$_p/api/v1"
}
start a
export PT_PROFILE=demo PT_TOKEN=tok PT_URL=$URL_a
pt() { "$TOOL" "$@" 2>"$T/pt.err"; }

out=$(pt create model 'slug: daily-users
name: Daily users
sourceId: 4
queryType: raw_sql
raw: {sql: "select 1"}'); rc=$?
is "create a model" "$rc" 0
mid=$(printf '%s' "$out" | python3 -c 'import sys,json; print(json.load(sys.stdin)["id"])')
out=$(pt create sync 'slug: to-crm
model: daily-users
destinationId: 3'); rc=$?
is "create a sync that references the model by slug" "$rc" 0
is "the platform got the model's id" "$(printf '%s' "$out" | python3 -c 'import sys,json; print(json.load(sys.stdin)["modelId"])')" "$mid"
like "its Git form names the model by slug, without ids or timestamps" "$(pt yaml sync to-crm | tr '\n' '|')" \
    '^slug: to-crm\|model: daily-users\|destinationId: 3\|disabled: false\|schedule: null\|configuration: \{\}\|$'
pt update model daily-users 'slug: daily-users
name: Daily active users
sourceId: 4
queryType: raw_sql' >/dev/null
like "update a model" "$(pt get model daily-users)" '"name": ?"Daily active users"'
is "read the list back" "$(pt list model)" "daily-users"

pt create model 'slug: bad
name: Bad
sourceId: one
queryType: raw_sql' >/dev/null; rc=$?
is "an invalid model is refused" "$rc" 1
like "with the platform's own message and the resource" "$(cat "$T/pt.err")" '^invalid: POST model bad: HTTP 422: sourceId is required and must be an integer'
pt create model 'slug: daily-users
name: Again
sourceId: 1
queryType: raw_sql' >/dev/null
like "a taken slug is a conflict with the platform's message" "$(cat "$T/pt.err")" '^conflict: POST model daily-users: HTTP 409: slug "daily-users" is taken'
pt delete model daily-users; rc=$?
like "deleting a model that a sync uses is refused" "$rc:$(cat "$T/pt.err")" '^1:conflict: DELETE model [0-9]+: HTTP 409: model [0-9]+ is used by sync "to-crm"'
pt delete sync to-crm && pt delete model daily-users
is "delete the sync, then the model" "$? $(pt list model | wc -l)" "0 0"
like "a listing of one page is one request" "$(cat "$T/pt.err")" '^requests 1 retries 0 connections 1$'

# 1,000 models, pages of 100: each listed exactly once.  The client asks
# for the next page while it parses the last, so it may ask for one page
# beyond the end.
start b --seed 2000
PT_URL=$URL_b "$TOOL" list model >"$T/b.out" 2>"$T/b.err"
is "1,000 models listed exactly once" "$(wc -l < "$T/b.out") $(sort -u "$T/b.out" | wc -l)" "1000 1000"
like "in pages of 100 over one connection, at most two pages beyond the end" "$(cat "$T/b.err")" '^requests 1[012] retries 0 connections 1$'

# A platform that gives 30 items a page whatever the client asks for:
# the client pages by what it got, so nothing is skipped or listed twice.
start b2 --seed 2000 --max-page 30
PT_URL=$URL_b2 "$TOOL" list model >"$T/b2.out" 2>"$T/b2.err"
is "pages capped at 30: 1,000 models listed exactly once" "$(wc -l < "$T/b2.out") $(sort -u "$T/b2.out" | wc -l)" "1000 1000"
like "in pages of 30 (34 or 35 requests)" "$(cat "$T/b2.err")" '^requests 3[45] retries 0 connections 1$'

# A platform failing 30% of requests: every operation still succeeds.
start c --seed 200 --fail-rate 0.3
ok=0
for i in 1 2 3 4 5; do
    PT_URL=$URL_c "$TOOL" list model >/dev/null 2>>"$T/c.err" && ok=$((ok + 1))
    PT_URL=$URL_c "$TOOL" create model "slug: flaky-$i
name: Flaky
sourceId: 1
queryType: raw_sql" >/dev/null 2>>"$T/c.err" && ok=$((ok + 1))
done
is "with 30% of requests failing, all 10 operations succeed" "$ok" 10
retries=$(sed -n 's/^requests [0-9]* retries \([0-9]*\).*/\1/p' "$T/c.err" | awk '{s+=$1} END {print s+0}')
if [ "${retries:-0}" -gt 0 ]; then pass "and the retries are counted ($retries)"; else fail "and the retries are counted" "$(cat "$T/c.err")"; fi
is "each flaky model exists once" "$(PT_URL=$URL_c "$TOOL" list model 2>/dev/null | grep -c '^flaky-')" 5

# A dead platform: the error arrives within the configured time.
dead=$(free_port)
start_s=$(date +%s)
PT_URL=http://127.0.0.1:$dead/api/v1 PT_TIMEOUT_MS=2000 "$TOOL" list model >/dev/null 2>"$T/dead.err"; rc=$?
took=$(( $(date +%s) - start_s ))
is "a dead platform is an error" "$rc" 1
if [ "$took" -le 4 ]; then pass "within the configured 2 s (took ${took} s)"; else fail "within the configured 2 s" "took $took s" "$(cat "$T/dead.err")"; fi
done_testing
