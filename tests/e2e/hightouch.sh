#!/bin/sh
# End to end with the hightouch profile, judged by Hightouch's own contract:
# Stoplight Prism, in proxy mode with tests/fixtures/hightouch/openapi.yaml,
# stands between gitsyncd and a stateful test server (hightouch-server.py)
# and refuses any request or answer the description does not allow.
# gitsyncd runs `sync --once` (Hightouch sends no change events).
. "$top_srcdir/tests/e2e/lib.sh"

PRISM=$(command -v prism || true)
[ -n "$PRISM" ] || skip_all "prism (npm @stoplight/prism-cli) is not on PATH; contrib/quickstart.sh test installs it"

TOKEN=e2e-hightouch-token-9d1e
SPORT=$(free_port); PPORT=$(free_port)
spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/hightouch-server.py" --port "$SPORT" --token "$TOKEN"
wait_port "$SPORT" 30 || bail "the test server did not start: $(cat "$T/server.log")"
spawn "$T/prism.log" "$PRISM" proxy "$FIXTURES/hightouch/openapi.yaml" \
    "http://127.0.0.1:$SPORT/api/v1" --errors -h 127.0.0.1 -p "$PPORT"
wait_port "$PPORT" 60 || bail "prism did not start: $(cat "$T/prism.log")"

ctl() { # ctl METHOD ROUTE [JSON]
    curl -sS -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "http://127.0.0.1:$SPORT/_control/$2"
}
# py EXPR: evaluate a Python expression over the server's log (L) and state (S).
py() {
    ctl GET log > "$T/log.json"; ctl GET state > "$T/state.json"
    python3 -c '
import json, sys
L = json.load(open(sys.argv[1])); S = json.load(open(sys.argv[2]))
def reqs(m, p=""): return [r for r in L if r["method"] == m and r["path"].startswith(p)]
def model(slug): return [m for m in S["models"] if m["slug"] == slug][0]
def sync(slug): return [s for s in S["syncs"] if s["slug"] == slug][0]
print(eval(sys.argv[3]))' "$T/log.json" "$T/state.json" "$1"
}
nreq() { ctl GET log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

ctl POST seed '{"models": 103, "syncs": 3}' >/dev/null
git init -q --bare -b main "$T/remote.git"
mkdir -p "$T/state"
cat > "$T/gitsyncd.yaml" <<YAML
listen: 127.0.0.1:$(free_port)
state_dir: $T/state
log: { level: info, format: logfmt }
workspaces:
  - name: w
    platform:
      profile: hightouch
      url: http://127.0.0.1:$PPORT
      token: $TOKEN
    git:
      url: file://$T/remote.git
      branch: main
      path: ""
      author: { name: gitsyncd, email: gitsyncd@example.com }
    sync:
      interval: 0
      max_deletes: 10
YAML
sync_once() {
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once w >"$T/sync.out" 2>>"$T/gitsyncd.log"
}
count() { git --git-dir="$T/remote.git" rev-list --count main 2>/dev/null || echo 0; }
show() { git --git-dir="$T/remote.git" show "main:$1" 2>/dev/null; }
push() { # push MESSAGE: commit the clone's changes and push them
    git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "$1" &&
        git -C "$T/clone" push -q origin HEAD:main 2>"$T/push.err"
}

plan 31

# --- Import: 103 models over two pages, 3 syncs ---
ok "the first sync imports" sync_once
is "103 model files" "$(git --git-dir="$T/remote.git" ls-tree --name-only main models/ | wc -l)" 103
is "3 sync files" "$(git --git-dir="$T/remote.git" ls-tree --name-only main syncs/ | wc -l)" 3
# The listing ends at the short second page (the list of models has no
# hasMore); the client may have asked for one page ahead meanwhile
# (gitsyncd-profile(5)), never more.
is "models are listed in two pages, ending at the short page (no hasMore)" \
    "$(py '[r["path"][len("/api/v1/models?"):] for r in reqs("GET", "/api/v1/models?")]')" \
    "$(py '["limit=100&offset=0", "limit=100&offset=100"] + (["limit=100&offset=200"] if len(reqs("GET", "/api/v1/models?")) > 2 else [])')"
m1=$(show models/m-001.yaml)
unlike "no server-computed field in a model file" "$m1" '^(id|workspaceId|createdAt|updatedAt|syncs|lastRunSize):'
like "a model's ids are numbers in Git" "$m1" '^sourceId: 11$'
s1=$(show syncs/s-1.yaml)
unlike "no server-computed field in a sync file" "$s1" '^(id|workspaceId|status|lastRunAt|referencedColumns|externalSegment|modelId):'
like "a sync names its model by slug" "$s1" '^model: m-001$'
like "a sync's destination id is a number" "$s1" '^destinationId: 301$'

# --- An unchanged Hightouch run makes no commit ---
before=$(count)
ctl POST run >/dev/null
ok "a sync after a Hightouch run succeeds" sync_once
is "only lastRunSize and run status moved: no commit" "$(count)" "$before"

# --- Edits in Git reach Hightouch with exactly the writable fields ---
git clone -q "$T/remote.git" "$T/clone"
git -C "$T/clone" config user.name "Grace Hopper"
git -C "$T/clone" config user.email grace@example.com
python3 - "$T/clone" <<'PY'
import sys, re
d = sys.argv[1]
p = d + "/models/m-001.yaml"; s = open(p).read()
open(p, "w").write(s.replace("from users_1\n", "from users_1\n    where active\n"))
p = d + "/syncs/s-1.yaml"; s = open(p).read()
open(p, "w").write(s.replace("quantity: 1", "quantity: 6"))
PY
n0=$(nreq)
push "SQL and schedule" || bail "push failed: $(cat "$T/push.err")"
ok "the sync applying the edits succeeds" sync_once
is "the model's SQL reached Hightouch" "$(py 'model("m-001")["raw"]["sql"]')" "$(printf 'select id, email\nfrom users_1\nwhere active')"
is "the PATCH of the model carries only ModelUpdate fields" \
    "$(py 'sorted(reqs("PATCH", "/api/v1/models/1")[-1]["body"])')" \
    "['isSchema', 'name', 'primaryKey', 'raw']"
is "the PATCH of the sync carries exactly SyncUpdate's fields" \
    "$(py 'sorted(reqs("PATCH", "/api/v1/syncs/1")[-1]["body"])')" \
    "['configuration', 'disabled', 'schedule']"
is "the schedule reached Hightouch" "$(py 'sync("s-1")["schedule"]["schedule"]["interval"]["quantity"]')" 6

# --- A new model file is created with a valid body; a file missing a
#     field required on create is reported, naming it ---
cat > "$T/clone/models/new-model.yaml" <<'YAML'
slug: new-model
name: New model
description: made in Git
sourceId: 12
queryType: raw_sql
primaryKey: id
isSchema: false
raw:
  sql: select 1 as id
YAML
cat > "$T/clone/models/no-key.yaml" <<'YAML'
slug: no-key
name: No primary key
sourceId: 12
queryType: raw_sql
isSchema: false
raw:
  sql: select 2 as id
YAML
push "two new models" || bail "push failed: $(cat "$T/push.err")"
sync_once
is "the new model was created on Hightouch" "$(py 'model("new-model")["raw"]["sql"]')" "select 1 as id"
is "its POST carried only ModelCreate fields" \
    "$(py 'sorted(reqs("POST", "/api/v1/models")[-1]["body"])')" \
    "['isSchema', 'name', 'primaryKey', 'queryType', 'raw', 'slug', 'sourceId']"
like "a missing field required on create is reported by name" "$(cat "$T/sync.out")" \
    'apply error: model/no-key \(models/no-key.yaml\): .*requires "primaryKey"'
is "and no POST was sent for it" "$(py 'len([r for r in reqs("POST", "/api/v1/models") if r["body"].get("slug") == "no-key"])')" 0
like "description cannot be set on create: reported" "$(cat "$T/sync.out")" \
    'not applied: model/new-model \(models/new-model.yaml\): description: the hightouch API does not take this field on create'
git -C "$T/clone" rm -q models/no-key.yaml; push "drop no-key" >/dev/null; sync_once

# --- An edit of sourceId is reported; the file's other changes land ---
git -C "$T/clone" pull -q --rebase origin main 2>/dev/null
sed -i -e 's/^sourceId: .*/sourceId: 99/' -e 's/^name: Model 2$/name: Model two/' "$T/clone/models/m-002.yaml"
push "move m-002 to another source" || bail "push failed: $(cat "$T/push.err")"
sync_once
out=$(cat "$T/sync.out")
like "an edit of sourceId is reported as not applicable" "$out" \
    'not applied: model/m-002 \(models/m-002.yaml\): sourceId: the hightouch API does not take this field on update'
is "the name change of the same file landed" "$(py 'model("m-002")["name"]')" "Model two"
is "sourceId on Hightouch is unchanged" "$(py 'model("m-002")["sourceId"]')" 12
like "Git is set back to the platform's sourceId" "$(show models/m-002.yaml)" '^sourceId: 12$'

# --- A 422's details name the field; a 429 without headers is retried ---
git -C "$T/clone" pull -q --rebase origin main 2>/dev/null
sed -i 's/^primaryKey: id$/primaryKey: nope/' "$T/clone/models/m-003.yaml"
push "a key that is not a column" || bail "push failed"
ctl POST reject '{"path": "/api/v1/models/3", "details": {"primaryKey": "column \"nope\" is not in the query"}}' >/dev/null
ctl POST fail '{"status": 429, "count": 2}' >/dev/null
sync_once
is "two 429s without rate-limit headers are retried: the sync goes through" \
    "$(head -n 1 "$T/sync.out")" "workspace w: synced"
like "the 422's details are shown, field by field" "$(cat "$T/sync.out")" \
    'model/m-003 .*Validation failed \(primaryKey: column "nope" is not in the query\)'
like "...and logged" "$(cat "$T/gitsyncd.log")" 'primaryKey: column'

# --- No DELETE: a deletion in Git is reported, never attempted ---
git -C "$T/clone" rm -q models/m-050.yaml; push "drop m-050" >/dev/null
sync_once
like "a deletion is reported as not supported" "$(cat "$T/sync.out")" 'm-050.*delete not supported'
is "and no DELETE reached Hightouch" "$(py 'len(reqs("DELETE"))')" 0

# Prism judged every request and answer: it refuses a request it finds
# invalid (the sync would have failed) and logs an answer that breaks the
# description as a violation.
viol=$(grep -E 'Violation|✖' "$T/prism.log" | head -5)
is "Prism found no request or answer outside Hightouch's contract" "$viol" ""
done_testing
