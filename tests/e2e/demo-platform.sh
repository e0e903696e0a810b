#!/bin/sh
# The demo platform itself, poked with curl: auth, validation, the audit
# log, signed change events (checked independently against the Standard
# Webhooks algorithm), redelivery, persistence, fault injection.
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=$top_builddir/contrib/demo-platform/demo-platform
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 17

SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
PPORT=$(free_port); RPORT=$(free_port)
cat > "$T/receiver.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"id": self.headers["webhook-id"], "ts": self.headers["webhook-timestamp"],
                                "sig": self.headers["webhook-signature"], "body": body}) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
cat > "$T/verify.py" <<'PY'
# Standard Webhooks: base64(HMAC-SHA256(base64decode(secret), id.ts.body)).
import base64, hmac, hashlib, json, sys
def sign(secret, msg_id, ts, body):
    key = base64.b64decode(secret.split("_", 1)[1])
    return "v1," + base64.b64encode(hmac.new(key, ("%s.%s.%s" % (msg_id, ts, body)).encode(), hashlib.sha256).digest()).decode()
# The specification's example vector first.
assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
            '{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
ok = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    if sign(sys.argv[1], e["id"], e["ts"], e["body"]) in e["sig"].split(" "):
        ok += 1
print(ok)
PY
spawn "$T/platform.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token tok \
    --webhook-url "http://127.0.0.1:$RPORT/hook" --webhook-secret "$SECRET" --data "$T/state.json"
PPID_=$!
wait_port "$PPORT" || bail "no platform: $(cat "$T/platform.log")"
U=http://127.0.0.1:$PPORT/api/v1
c() { curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }
A='Authorization: Bearer tok'

is "no token is 401" "$(c "$U/models")" 401
is "a wrong token is 401" "$(c -H 'Authorization: Bearer nope' "$U/models")" 401
is "a model is created (201)" "$(c -H "$A" -H 'X-Actor: Ada Lovelace <ada@example.com>' -d '{"slug":"m1","name":"M1","sourceId":1,"queryType":"raw_sql"}' "$U/models")" 201
is "an invalid model is 422" "$(c -H "$A" -d '{"slug":"Bad Slug","name":"x","sourceId":1,"queryType":"q"}' "$U/models")" 422
like "with a message" "$(cat "$T/body")" '"error": "slug must match'
is "a taken slug is 409" "$(c -H "$A" -d '{"slug":"m1","name":"again","sourceId":1,"queryType":"q"}' "$U/models")" 409
is "a sync naming no model is 422" "$(c -H "$A" -d '{"slug":"s1","modelId":99,"destinationId":1}' "$U/syncs")" 422
is "a sync is created" "$(c -H "$A" -H 'X-Actor: Linus <linus@example.com>' -d '{"slug":"s1","modelId":1,"destinationId":1}' "$U/syncs")" 201
is "deleting a model a sync uses is 409" "$(c -X DELETE -H "$A" "$U/models/1")" 409
is "an unknown id is 404" "$(c -H "$A" "$U/models/42")" 404
is "malformed JSON is 400" "$(c -H "$A" -d '{"slug":' "$U/models")" 400
c -X PATCH -H "$A" -d '{"name":"M one"}' "$U/models/1" >/dev/null
c -X DELETE -H "$A" "$U/syncs/2" >/dev/null
is "the audit log lists every change in order, with its actor" \
    "$(curl -s -H "$A" "$U/audit?after=0" | python3 -c 'import sys,json; print(" ".join("%d:%s:%s:%s:%s" % (e["seq"], e["kind"], e["slug"], e["action"], e["actor"]["name"]) for e in json.load(sys.stdin)["data"]))')" \
    "1:model:m1:created:Ada Lovelace 2:sync:s1:created:Linus 3:model:m1:updated:API 4:sync:s1:deleted:API"

# The receiver was down for all of that: it comes up and gets every event.
spawn "$T/receiver.log" python3 "$T/receiver.py" "$RPORT" "$T/events"
wait_for 15 sh -c "[ \$(wc -l < '$T/events' 2>/dev/null || echo 0) -ge 4 ]"
is "four events, redelivered once the receiver is up" "$(wc -l < "$T/events")" 4
is "each signed correctly (Standard Webhooks, checked in Python)" "$(python3 "$T/verify.py" "$SECRET" "$T/events")" 4
is "in order, naming kind, slug, action and actor" \
    "$(python3 -c 'import sys,json; print(" ".join(json.loads(json.loads(l)["body"])["type"] for l in open(sys.argv[1])))' "$T/events")" \
    "model.created sync.created model.updated sync.deleted"

# State survives a restart with --data.
kill "$PPID_"; wait "$PPID_" 2>/dev/null
spawn "$T/platform2.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token tok --data "$T/state.json"
wait_port "$PPORT" || bail "no platform after restart"
like "the model survives a restart" "$(curl -s -H "$A" "$U/models?slug=m1")" '"name": "M one"'

# Fault injection: about half of 40 requests fail with 503 or 429.
F=$(free_port)
spawn "$T/faulty.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$F" --token tok --fail-rate 0.5
wait_port "$F" || bail "no faulty platform"
codes=$(for i in $(seq 40); do curl -s -o /dev/null -w '%{http_code}\n' -H "$A" "http://127.0.0.1:$F/api/v1/models"; done | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')
is "--fail-rate answers 200, 429 and 503" "$codes" "200 429 503 "
done_testing
