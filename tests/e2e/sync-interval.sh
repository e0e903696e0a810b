#!/bin/sh
# Without any webhook, the periodic full reconcile syncs both ways: with
# the demo platform's events off, and with json-server (generic-rest),
# a platform that sends none.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 9

sync_setup platform 10 2s off
git --git-dir="$T/remote.git" config --unset gitsyncd.url
plat_post models '{"slug":"quiet","name":"Quiet","sourceId":1,"queryType":"raw_sql"}' >/dev/null
if wait_commits 1 10; then pass "a platform change with no event arrives by the interval"; else fail "a platform change with no event arrives by the interval" "$(tail -n 20 "$T/gitsyncd.log")"; fi
# Without events the author comes from the platform's audit log; once a
# job has committed them, the actors it read before are forgotten, so the
# map does not grow with every resource ever changed.
plat_post models '{"slug":"quiet-two","name":"Quiet 2","sourceId":1,"queryType":"raw_sql"}' "Grace Hopper <grace@example.com>" >/dev/null
wait_commits 2 10
is "with no event, the commit's author is the audit log's actor" "$(remote_log | tail -n 1 | cut -d'|' -f2)" "Grace Hopper <grace@example.com>"
like "the actors of changes already committed are forgotten" "$(cat "$T/gitsyncd.log")" 'forgot the actors of committed changes.* forgotten=[1-9]'
# The actors kept for the next job are copies: once jobs are done, no
# parsed page (here the audit log's) stays in memory.
idle_regions() { curl -s "http://127.0.0.1:$GPORT/metrics" | grep -q '^gitsyncd_json_regions 0$'; }
if wait_for 10 idle_regions; then pass "between jobs no parsed JSON is kept (gitsyncd_json_regions 0)"
else fail "between jobs no parsed JSON is kept (gitsyncd_json_regions 0)" "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep json_regions)"; fi
clone_pull
printf 'slug: pushed-quietly\nname: P\nsourceId: 2\nqueryType: raw_sql\n' > "$T/clone/models/pushed-quietly.yaml"
clone_push "no webhook for this push"
has() { [ -n "$(plat_id models pushed-quietly)" ]; }
if wait_for 10 has; then pass "a push with no webhook arrives by the interval"; else fail "a push with no webhook arrives by the interval"; fi
kill -TERM "$GPID"; wait "$GPID" 2>/dev/null

# json-server through the generic-rest profile, interval only.
if ! command -v json-server >/dev/null 2>&1; then
    for i in 3 4 5 6; do skip "json-server two-way sync" "json-server not on PATH"; done
    done_testing; exit
fi
T=$T/js; mkdir -p "$T"
JPORT=$(free_port); GPORT=$(free_port)
echo '{"dashboards":[{"id":1,"slug":"kpis","title":"KPIs"}],"alerts":[]}' > "$T/db.json"
spawn "$T/json-server.log" json-server --host 127.0.0.1 --port "$JPORT" --quiet "$T/db.json"
wait_port "$JPORT" 20 || bail "json-server did not start"
git init -q --bare -b main "$T/remote.git"
cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
workspaces:
  - name: js
    platform: {profile: generic-rest, url: "http://127.0.0.1:$JPORT", token: unused-token}
    git: {url: "file://$T/remote.git", author: {name: gitsyncd, email: gitsyncd@example.com}}
    sync: {interval: 2s}
YAML
start_gitsyncd
if wait_commits 1 10; then pass "json-server's dashboard is imported"; else fail "json-server's dashboard is imported" "$(tail -n 20 "$T/gitsyncd.log")"; fi
is "as dashboards/kpis.yaml" "$(git --git-dir="$T/remote.git" show main:dashboards/kpis.yaml)" "slug: kpis
title: KPIs"
git clone -q "$T/remote.git" "$T/clone"
git -C "$T/clone" config user.name Grace; git -C "$T/clone" config user.email grace@example.com
printf 'slug: kpi-drop\ndashboard: kpis\ncondition: {below: 10}\n' > "$T/clone/alerts/kpi-drop.yaml" 2>/dev/null ||
    { mkdir -p "$T/clone/alerts"; printf 'slug: kpi-drop\ndashboard: kpis\ncondition: {below: 10}\n' > "$T/clone/alerts/kpi-drop.yaml"; }
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "add an alert" && git -C "$T/clone" push -q origin main
alert_there() { grep -q '"dashboardId": 1' "$T/db.json"; }
if wait_for 10 alert_there; then pass "a pushed alert reaches json-server with the dashboard's id"; else fail "a pushed alert reaches json-server with the dashboard's id" "$(cat "$T/db.json")"; fi
curl -s -X PUT -H 'Content-Type: application/json' -d '{"slug":"kpis","title":"KPIs (weekly)"}' "http://127.0.0.1:$JPORT/dashboards/1" >/dev/null
renamed() { git --git-dir="$T/remote.git" show main:dashboards/kpis.yaml 2>/dev/null | grep -q weekly; }
if wait_for 10 renamed; then pass "a change made in json-server is committed by the interval"; else fail "a change made in json-server is committed by the interval"; fi
done_testing
