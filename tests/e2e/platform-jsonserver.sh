#!/bin/sh
# The generic-rest profile against json-server (npm), a third-party REST
# server: bare arrays, numeric ids, PUT, Link-header paging.
. "$top_srcdir/tests/e2e/lib.sh"
TOOL=$top_builddir/tests/platform-tool
command -v json-server >/dev/null 2>&1 || skip_all "json-server not on PATH (npm install json-server@0.17.4)"
plan 8

PORT=$(free_port)
python3 - "$T/db.json" <<'PY'
import json, sys
json.dump({"dashboards": [{"id": i, "slug": "dash-%d" % i, "title": "Dashboard %d" % i} for i in range(1, 251)],
           "alerts": []}, open(sys.argv[1], "w"))
PY
spawn "$T/json-server.log" json-server --host 127.0.0.1 --port "$PORT" --quiet "$T/db.json"
wait_port "$PORT" 20 || bail "json-server did not start: $(cat "$T/json-server.log")"
export PT_PROFILE=generic-rest PT_URL=http://127.0.0.1:$PORT PT_TOKEN=unused-token
pt() { "$TOOL" "$@" 2>"$T/pt.err"; }

n=$(pt list dashboard | sort -u | wc -l)
is "250 dashboards listed through Link-header pages" "$n" 250
like "in three pages" "$(cat "$T/pt.err")" '^requests 3 '
pt create dashboard 'slug: sales
title: Sales' >/dev/null
is "create" "$?" 0
pt create alert 'slug: low-sales
dashboard: sales
condition: {below: 100}' >"$T/alert.json"
is "create an alert that references the dashboard by slug" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dashboardId"])' "$T/alert.json")" 251
is "its Git form names the dashboard by slug" "$(pt yaml alert low-sales | tr '\n' '|')" "slug: low-sales|dashboard: sales|condition:|  below: 100|"
pt update dashboard sales 'slug: sales
title: Sales (EMEA)' >/dev/null
like "update with PUT" "$(pt get dashboard sales)" '"title": ?"Sales \(EMEA\)"'
pt delete alert low-sales
is "delete" "$?:$(pt list alert | wc -l)" "0:0"
is "json-server's file holds the result" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["dashboards"]), len(d["alerts"]), d["dashboards"][-1]["title"])' "$T/db.json")" "251 0 Sales (EMEA)"
done_testing
