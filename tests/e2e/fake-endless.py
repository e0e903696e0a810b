#!/usr/bin/env python3
"""A platform whose listing never ends, for tests/e2e/sync-listing-bounds.sh.

Shaped like the demo profile's API (GET /api/v1/models?limit=L&offset=O ->
{"data": [...], "hasMore": true}).  Modes:
  repeat  the same full page, whatever the offset, hasMore true forever
  grow    new models at every offset, hasMore true forever
  hang    no answer at all (the request hangs until the client gives up)
Syncs are an empty list; the audit log is empty.  --latency-ms delays
every answer.  Every request is counted in the file named by --count.
Usage: fake-endless.py PORT TOKEN MODE [--latency-ms N] [--count FILE]
Prints "ready" once listening; stdlib only.
"""
import http.server
import json
import sys
import time
import urllib.parse

port, token, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
latency = 0.0
if "--latency-ms" in sys.argv:
    latency = int(sys.argv[sys.argv.index("--latency-ms") + 1]) / 1000.0
count_file = None
if "--count" in sys.argv:
    count_file = sys.argv[sys.argv.index("--count") + 1]


def model(i):
    return {"id": i + 1, "slug": "m-%d" % i, "name": "M %d" % i, "sourceId": 1,
            "queryType": "raw_sql", "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if count_file:
            with open(count_file, "a") as f:
                f.write(self.path + "\n")
        if mode == "hang":
            time.sleep(3600)
            return
        if latency:
            time.sleep(latency)
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.answer(401, {"error": "unauthorized"})
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        limit = int(q.get("limit", ["100"])[0])
        offset = int(q.get("offset", ["0"])[0])
        if url.path == "/api/v1/models":
            start = 0 if mode == "repeat" else offset
            return self.answer(200, {"data": [model(start + i) for i in range(limit)],
                                     "hasMore": True})
        if url.path in ("/api/v1/syncs", "/api/v1/audit"):
            return self.answer(200, {"data": [], "hasMore": False})
        return self.answer(404, {"error": "not found"})

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
