#!/usr/bin/env python3
"""A scriptable fake platform for the end-to-end tests.

It answers like the demo platform (DESIGN section 6, etc/profiles/demo.yaml)
but holds whatever the test puts in its data file, even what the demo
platform would refuse: invalid or duplicate slugs, integers out of range,
odd actors in the audit log, huge objects.  The data file is read again at
every request, so a test changes the platform by rewriting it (atomically:
write a temporary file, then rename it).

    fake-platform.py --listen 127.0.0.1:PORT --token TOKEN --data FILE

The data file (JSON):

    {"models": [{"id": 1, "slug": "a", ...}, ...],
     "syncs": [...],
     "audit": [{"seq": 1, "kind": "model", "id": 1, "slug": "a",
                "action": "created", "actor": {"name": ..., "email": ...}}],
     "writes": [...]}

Every write (POST, PATCH, DELETE) is applied to the file and appended to
"writes" as {"method", "kind", "id", "slug", "actor"} where actor is the
X-Actor header as received (or null), so that a test can check who a
change from Git was credited to.  Numbers are kept exactly as written
(Python's integers have no range).  Standard library only.
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KINDS = {"models": "model", "syncs": "sync"}
LOCK = threading.Lock()


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        data = {}
    for k in ("models", "syncs", "audit", "writes"):
        data.setdefault(k, [])
    return data


def save(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-platform: " + (fmt % args) + "\n")

    def answer(self, code, doc=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        """(collection, id or None, query) or None when the path is unknown."""
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if len(parts) < 4 or parts[1] != "api" or parts[2] != "v1":
            return None
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if len(parts) == 4:
            return parts[3], None, query
        if len(parts) == 5 and parts[3] in KINDS:
            return parts[3], parts[4], query
        return None

    def authorised(self):
        if self.headers.get("Authorization") != "Bearer " + self.server.token:
            self.answer(401, {"error": "unauthorised"})
            return False
        return True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def record(self, data, method, coll, obj):
        data["writes"].append({"method": method, "kind": KINDS[coll],
                               "id": obj.get("id"), "slug": obj.get("slug"),
                               "actor": self.headers.get("X-Actor")})

    def do_GET(self):
        if not self.authorised():
            return
        r = self.route()
        if r is None:
            return self.answer(404, {"error": "no such route"})
        coll, oid, q = r
        with LOCK:
            data = load(self.server.data)
        if coll == "audit" and oid is None:
            after = int(q.get("after", "0") or 0)
            return self.answer(200, {"data": [e for e in data["audit"]
                                              if e.get("seq", 0) > after]})
        if coll not in KINDS:
            return self.answer(404, {"error": "no such collection"})
        items = data[coll]
        if oid is not None:
            for o in items:
                if str(o.get("id")) == oid:
                    return self.answer(200, o)
            return self.answer(404, {"error": "not found"})
        if "slug" in q:
            return self.answer(200, {"data": [o for o in items if o.get("slug") == q["slug"]],
                                     "hasMore": False})
        limit = int(q.get("limit", "100"))
        offset = int(q.get("offset", "0"))
        page = items[offset:offset + limit]
        self.answer(200, {"data": page, "hasMore": offset + limit < len(items)})

    def write(self, method):
        if not self.authorised():
            return
        r = self.route()
        if r is None or r[0] not in KINDS:
            return self.answer(404, {"error": "no such route"})
        coll, oid, _ = r
        doc = self.body() if method != "DELETE" else None
        with LOCK:
            data = load(self.server.data)
            items = data[coll]
            if method == "POST":
                if oid is not None:
                    return self.answer(405, {"error": "method not allowed"})
                if any(o.get("slug") == doc.get("slug") for o in items):
                    return self.answer(409, {"error": "slug taken"})
                ids = [o["id"] for o in data["models"] + data["syncs"]
                       if isinstance(o.get("id"), int)]
                doc["id"] = max(ids + [0]) + 1
                items.append(doc)
                self.record(data, method, coll, doc)
                save(self.server.data, data)
                return self.answer(201, doc)
            for i, o in enumerate(items):
                if str(o.get("id")) == oid:
                    break
            else:
                return self.answer(404, {"error": "not found"})
            if method == "PATCH":
                o.update(doc)
                self.record(data, method, coll, o)
                save(self.server.data, data)
                return self.answer(200, o)
            del items[i]
            self.record(data, method, coll, o)
            save(self.server.data, data)
            return self.answer(204)

    def do_POST(self):
        self.write("POST")

    def do_PATCH(self):
        self.write("PATCH")

    def do_DELETE(self):
        self.write("DELETE")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--token", required=True)
    ap.add_argument("--data", required=True, help="the JSON file the platform holds")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.token = a.token
    srv.data = a.data
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
