#!/usr/bin/env python3
"""A stateful test server for Hightouch's REST API v1, models and syncs.

It answers as tests/fixtures/hightouch/openapi.yaml says Hightouch does:
ids are numbers; GET /models is {"data": [...]} with no hasMore, GET /syncs
{"hasMore", "data"}; POST answers 200 with the object; PATCH merges the
fields it is sent; there is no DELETE; create and update bodies are closed
(an unknown field, a missing required one or a wrong type is 422 with
ValidateErrorJSON details naming the field); 401 without the bearer token.
Stoplight Prism stands in front of it in the tests and judges both sides.

Control routes, for the test only (never through Prism), under /_control:
  POST /_control/seed   {"models": N, "syncs": M}   N models, M syncs on them
  POST /_control/run    a Hightouch run: lastRunSize, status, lastRunAt move
  POST /_control/fail   {"status": 429, "count": N}  the next N API requests
                        get that status, with no rate-limit headers
  POST /_control/reject {"path": "/api/v1/models/3", "details": {...}}
                        the next write to that path gets 422 with details
  GET  /_control/log    every API request: [{"method","path","body"}]
  GET  /_control/state  {"models": [...], "syncs": [...]}

  hightouch-server.py --port P --token T
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

BASE = "/api/v1"
WORKSPACE = 55

MODEL_CREATE = {"name": str, "slug": str, "queryType": str, "sourceId": (int, float),
                "isSchema": bool, "primaryKey": str, "visual": dict, "custom": dict,
                "table": dict, "raw": dict, "folderId": str, "dbt": dict, "dbt_cloud": dict}
MODEL_CREATE_REQUIRED = ["name", "slug", "queryType", "sourceId", "isSchema", "primaryKey"]
MODEL_UPDATE = {"name": str, "isSchema": bool, "primaryKey": str, "visual": dict,
                "custom": dict, "table": dict, "raw": dict, "folderId": str, "dbt": dict}
SYNC_CREATE = {"slug": str, "configuration": dict, "destinationId": (int, float),
               "modelId": (int, float), "schedule": (dict, type(None)), "disabled": bool}
SYNC_CREATE_REQUIRED = list(SYNC_CREATE)
SYNC_UPDATE = {"configuration": dict, "schedule": (dict, type(None)), "disabled": bool}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.models = {}
        self.syncs = {}
        self.next_id = {"models": 1, "syncs": 1}
        self.log = []
        self.fail = []          # statuses for the next requests
        self.reject = {}        # path -> details, for the next write there

    def new_model(self, body):
        i = self.next_id["models"]
        self.next_id["models"] += 1
        m = {"id": i, "name": body["name"], "slug": body["slug"], "description": "",
             "workspaceId": WORKSPACE, "primaryKey": body["primaryKey"],
             "createdAt": now(), "updatedAt": now(), "sourceId": body["sourceId"],
             "queryType": body["queryType"], "tags": {}, "isSchema": body["isSchema"],
             "syncs": [], "lastRunSize": None}
        for k in ("visual", "custom", "table", "raw", "folderId", "dbt", "dbt_cloud"):
            if k in body:
                m[k] = body[k]
        self.models[i] = m
        return m

    def new_sync(self, body):
        i = self.next_id["syncs"]
        self.next_id["syncs"] += 1
        model = self.models[int(body["modelId"])]
        s = {"id": i, "slug": body["slug"], "workspaceId": WORKSPACE, "createdAt": now(),
             "updatedAt": now(), "destinationId": body["destinationId"],
             "modelId": body["modelId"], "configuration": body["configuration"],
             "schedule": body["schedule"], "status": "pending", "disabled": body["disabled"],
             "lastRunAt": None, "referencedColumns": [], "primaryKey": model["primaryKey"],
             "externalSegment": {}, "tags": {}}
        self.syncs[i] = s
        model["syncs"].append(i)
        return s

    def seed(self, nmodels, nsyncs):
        for n in range(1, nmodels + 1):
            self.new_model({"name": "Model %d" % n, "slug": "m-%03d" % n,
                            "queryType": "raw_sql", "sourceId": 10 + n % 3,
                            "isSchema": False, "primaryKey": "id",
                            "raw": {"sql": "select id, email\nfrom users_%d\n" % n}})
        for n in range(1, nsyncs + 1):
            self.new_sync({"slug": "s-%d" % n, "destinationId": 300 + n, "modelId": n,
                           "configuration": {"object": "contacts", "mode": "upsert"},
                           "schedule": {"type": "interval", "schedule": {
                               "interval": {"unit": "hour", "quantity": n}}},
                           "disabled": False})
        for m in self.models.values():
            m["tags"] = {"team": "growth"}

    def run(self):
        for m in self.models.values():
            m["lastRunSize"] = (m["lastRunSize"] or 0) + 17
        for s in self.syncs.values():
            s["status"] = "success"
            s["lastRunAt"] = now()
            s["referencedColumns"] = ["email", "id"]
            s["externalSegment"] = {"id": "list-%d" % s["id"]}


def check(body, schema, required):
    """ValidateErrorJSON details for body, or None when it is valid."""
    details = {}
    if not isinstance(body, dict):
        return {"body": "must be an object"}
    for k, v in body.items():
        if k not in schema:
            details[k] = "is not allowed"
        elif isinstance(v, bool) and schema[k] in ((int, float),):
            details[k] = "must be a number"
        elif not isinstance(v, schema[k]):
            details[k] = "has the wrong type"
    for k in required:
        if k not in body:
            details[k] = "is required"
    return details or None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, doc=None):
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def invalid(self, details, code=422):
        self.answer(code, {"message": "Validation failed", "details": details})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return ValueError

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        st = self.server.state
        url = urlparse(self.path)
        body = self.body()
        if url.path.startswith("/_control/"):
            return self.control(method, url.path, body)
        with st.lock:
            st.log.append({"method": method, "path": self.path,
                           "body": None if body is ValueError else body})
            if self.headers.get("Authorization") != "Bearer " + self.server.token:
                return self.answer(401, {"message": "Unauthorized"})
            if st.fail:
                return self.answer(st.fail.pop(0), {"message": "Too many requests"})
            if body is ValueError:
                return self.invalid({"body": "is not JSON"})
            parts = url.path[len(BASE):].strip("/").split("/") if url.path.startswith(BASE + "/") else []
            if len(parts) not in (1, 2) or parts[0] not in ("models", "syncs"):
                return self.answer(404, {"message": "Not found"})
            kind = parts[0]
            coll = st.models if kind == "models" else st.syncs
            if method in ("POST", "PATCH") and url.path in st.reject:
                return self.invalid(st.reject.pop(url.path))
            if len(parts) == 1:
                if method == "GET":
                    return self.list(kind, coll, parse_qs(url.query))
                if method == "POST":
                    return self.create(kind, coll, body)
                return self.answer(405, {"message": "Method not allowed"})
            try:
                obj = coll[int(parts[1])]
            except (ValueError, KeyError):
                return self.answer(404, {"message": "Not found"})
            if method == "GET":
                return self.answer(200, obj)
            if method == "PATCH":
                schema = MODEL_UPDATE if kind == "models" else SYNC_UPDATE
                details = check(body, schema, [])
                if details:
                    return self.invalid(details)
                obj.update(body)
                obj["updatedAt"] = now()
                return self.answer(200, obj)
            return self.answer(405, {"message": "Method not allowed"})

    def list(self, kind, coll, q):
        items = sorted(coll.values(), key=lambda o: o["id"])
        if "slug" in q:
            items = [o for o in items if o["slug"] == q["slug"][0]]
        try:
            offset = int(float(q.get("offset", ["0"])[0]))
            limit = int(float(q.get("limit", ["100"])[0]))
        except ValueError:
            return self.invalid({"limit": "must be a number"})
        page = items[offset:offset + limit]
        if kind == "models":
            return self.answer(200, {"data": page})
        return self.answer(200, {"hasMore": offset + limit < len(items), "data": page})

    def create(self, kind, coll, body):
        st = self.server.state
        if kind == "models":
            details = check(body, MODEL_CREATE, MODEL_CREATE_REQUIRED)
        else:
            details = check(body, SYNC_CREATE, SYNC_CREATE_REQUIRED)
            if not details and int(body["modelId"]) not in st.models:
                details = {"modelId": "no model %s" % body["modelId"]}
        if details:
            return self.invalid(details)
        if any(o["slug"] == body["slug"] for o in coll.values()):
            return self.invalid({"slug": "is taken"}, 409)
        obj = st.new_model(body) if kind == "models" else st.new_sync(body)
        return self.answer(200, obj)

    def control(self, method, path, body):
        st = self.server.state
        with st.lock:
            if path == "/_control/seed" and method == "POST":
                st.seed(body.get("models", 0), body.get("syncs", 0))
            elif path == "/_control/run" and method == "POST":
                st.run()
            elif path == "/_control/fail" and method == "POST":
                st.fail += [body["status"]] * body.get("count", 1)
            elif path == "/_control/reject" and method == "POST":
                st.reject[body["path"]] = body["details"]
            elif path == "/_control/log" and method == "GET":
                return self.answer(200, st.log)
            elif path == "/_control/state" and method == "GET":
                return self.answer(200, {"models": list(st.models.values()),
                                         "syncs": list(st.syncs.values())})
            else:
                return self.answer(404, {"message": "no such control"})
        return self.answer(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.state = State()
    srv.token = args.token
    srv.serve_forever()


if __name__ == "__main__":
    main()
