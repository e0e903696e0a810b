#!/usr/bin/env python3
"""A stateful test Git host: the REST endpoints gitsyncd's pull request
checks call, for each of the five hosts, with the request and answer
shapes and states their API documentation gives, recording what it got.

Mounted per host under a prefix (the test points git.api.url there):
  /github          GitHub REST (behind Stoplight Prism with GitHub's own
                   OpenAPI description in the tests):
                   POST /repos/{o}/{r}/statuses/{sha}           -> 201 status
                   GET  /repos/{o}/{r}/issues/{n}/comments       per_page, page, Link
                   POST /repos/{o}/{r}/issues/{n}/comments       -> 201 issue-comment
                   PATCH /repos/{o}/{r}/issues/comments/{id}     -> 200 issue-comment
                   GET/POST /repos/{o}/{r}/pulls, GET/PATCH .../pulls/{n}
                   (state open|closed|all, head owner:branch, base,
                   direction, per_page (30, at most 100), page, Link;
                   422 for a second open request from one head)
  /gitea/api/v1    the same routes, Gitea's CommitStatus and Comment shapes
                   (page, limit, Link); pulls: state, page, limit (30, at
                   most 50), Link and X-Total-Count, no head filter
  /gitlab/api/v4   POST /projects/{id}/statuses/{sha}  (state pending,
                   running, success, failed, canceled; name)
                   GET/POST /projects/{id}/merge_requests/{iid}/notes,
                   PUT .../notes/{note_id}; {id} is the URL-encoded path
                   GET/POST .../merge_requests (state, source_branch,
                   per_page (20, at most 100), page, Link, X-Total)
  /bitbucket/2.0   POST /repositories/{ws}/{repo}/commit/{sha}/statuses/build
                   (state SUCCESSFUL, FAILED, INPROGRESS, STOPPED; key and
                   url required), GET/POST .../pullrequests/{id}/comments
                   ({"values", "next"}, pagelen, page; content.raw), PUT .../comments/{cid}
                   GET/POST .../pullrequests (state, repeatable; q with
                   source.branch.name="..." only, else 400; sort;
                   pagelen (10, at most 50), page; "next" keeps the query)
  /bbs             Bitbucket Data Center: POST /rest/build-status/1.0/commits/{sha}
                   (204; state, key, url required), under /rest/api/latest:
                   GET .../pull-requests/{id}/activities (start, limit,
                   isLastPage, nextPageStart; COMMENTED activities),
                   POST .../pull-requests/{id}/comments {"text"}, PUT
                   .../comments/{cid} {"text", "version"} (409 on a stale version)
                   GET/POST .../pull-requests (state, at, direction; start,
                   limit (25), isLastPage, nextPageStart)
Every API request needs the host's token header (401 otherwise).
With --git-root DIR, any path with ".git/" in it is served from DIR over
Git's smart HTTP protocol (git http-backend), request refs included.

Control routes, for the test only, under /_control:
  POST /_control/fail   {"status": 429, "count": N, "headers": {...}}
                        the next N API requests get that answer
  POST /_control/seed   {"host": "github", "request": "7", "n": 150}
                        N comments by someone else on a request
  POST /_control/seed-requests {"host": "gitea", "n": 120[, "head": "feature/{i}",
                        "base": "main"]}: N open requests by someone else,
                        from head ({i}: 1..N) into base
  POST /_control/public {"host": "/github", "url": "http://prism"}: the base
                        that Link headers of that prefix name (a proxy in front)
  POST /_control/protect {"host": "github", "branch": "main", "how": "classic"|"ruleset"}:
                        the branch protection APIs say the branch refuses direct
                        pushes (GitHub protection or rules, GitLab protected_branches,
                        Gitea branch_protections, Bitbucket branch-restrictions,
                        Data Center branch-permissions restrictions)
  POST /_control/hold  {"method": "POST", "path": "/pulls$", "seconds": 30}: the
                        next such API request is done, but answered that late
  POST /_control/pull   {"host": "github", "number": 1, "state": "merged"}:
                        merge or close ("closed") a pull request
  POST /_control/link   {"url": "http://...", "times": 1}: the next GET
                        listings (comments, requests) name this URL as their
                        next page (Link, Bitbucket's "next"), "times" times
  GET  /_control/log    [{"host","method","path","body","auth"}]
  GET  /_control/state  {"statuses": [...], "comments": {host: {req: [...]}}}

With --github-openapi SPEC, GitHub's pull requests carry every member
that description requires (so Prism in front finds them valid).

  forge-server.py --port P --token T [--git-root DIR] [--github-openapi SPEC]
"""
import argparse
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

HOSTS = [("github", "/github"), ("gitea", "/gitea/api/v1"), ("gitlab", "/gitlab/api/v4"),
         ("bitbucket", "/bitbucket/2.0"), ("bbs", "/bbs")]


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def gh_user(login="gitsyncd-bot", uid=1):
    u = "https://api.github.com/users/" + login
    return {"login": login, "id": uid, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "gravatar_id": "", "url": u, "html_url": "https://github.com/" + login,
            "followers_url": u + "/followers", "following_url": u + "/following{/other_user}",
            "gists_url": u + "/gists{/gist_id}", "starred_url": u + "/starred{/owner}{/repo}",
            "subscriptions_url": u + "/subscriptions", "organizations_url": u + "/orgs",
            "repos_url": u + "/repos", "events_url": u + "/events{/privacy}",
            "received_events_url": u + "/received_events", "type": "User",
            "site_admin": False}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.log = []
        self.fail = []
        self.statuses = []
        self.comments = {h: {} for h, _ in HOSTS}
        self.pulls = {h: [] for h, _ in HOSTS}
        self.protect = {}
        self.holds = []  # host -> (branch, "classic" | "ruleset")
        self.next_id = 1000
        self.link = None
        self.link_times = 0
        self.public = {}

    def new_id(self):
        self.next_id += 1
        return self.next_id


S = State()
TOKEN = None
GIT_ROOT = None
SPEC = None  # GitHub's OpenAPI description (--github-openapi), for full shapes


def example(schema, depth=0):
    """The smallest value the schema takes: its required members only."""
    while "$ref" in schema:
        node = SPEC
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    if "allOf" in schema:
        out = {}
        for sub in schema["allOf"]:
            v = example(sub, depth + 1)
            if isinstance(v, dict):
                out.update(v)
        return out
    for k in ("anyOf", "oneOf"):
        if k in schema:
            return example(schema[k][0], depth + 1)
    if schema.get("nullable") and depth > 1:
        return None
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type", "object")
    if isinstance(t, list):
        if "null" in t and depth > 1:
            return None
        t = [x for x in t if x != "null"][0]
    if t == "object":
        props = schema.get("properties", {})
        return {k: example(props.get(k, {"type": "string"}), depth + 1)
                for k in schema.get("required", [])}
    if t == "array":
        return []
    if t in ("integer", "number"):
        return 1
    if t == "boolean":
        return False
    f = schema.get("format")
    if f == "date-time":
        return now()
    if f == "uri" or f == "uri-template":
        return "https://api.github.com/x"
    if f == "email":
        return "x@example.com"
    return "x"


def merged(base, over):
    """base with over's members laid over it, recursively."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(base.get(k), v) if k in base else v
    return out


def gh_shape(name, obj):
    if SPEC is None:
        return obj
    return merged(example({"$ref": "#/components/schemas/" + name}), obj)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj=None, headers=None):
        if getattr(self, "hold", 0):
            # done, but the client waits (kill it now): route() sends it
            # later, once the handler let go of S.lock, so the control
            # routes still answer meanwhile.
            self.held = (code, obj, headers)
            return
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_PUT(self):
        self.route("PUT")

    def read_body(self):
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def git_backend(self, method, u, raw):
        """The repository over smart HTTP, through git http-backend (CGI)."""
        env = {"GIT_PROJECT_ROOT": GIT_ROOT, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": u.path,
               "QUERY_STRING": u.query, "REQUEST_METHOD": method, "REMOTE_ADDR": "127.0.0.1",
               "REMOTE_USER": "test", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(raw)), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
        p = subprocess.run(["git", "http-backend"], input=raw, env=env, capture_output=True)
        sep = b"\r\n\r\n" if b"\r\n\r\n" in p.stdout else b"\n\n"
        head, _, body = p.stdout.partition(sep)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            if k.lower() == "status":
                status = int(v.split()[0])
            else:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, method):
        raw = self.read_body()
        if GIT_ROOT is not None and ".git/" in urlparse(self.path).path:
            return self.git_backend(method, urlparse(self.path), raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.answer(400, {"message": "Problems parsing JSON"})
        u = urlparse(self.path)
        if u.path.startswith("/_control/"):
            return self.control(method, u.path[len("/_control/"):], body)
        for host, prefix in HOSTS:
            if u.path.startswith(prefix + "/"):
                break
        else:
            return self.answer(404, {"message": "Not Found"})
        path = u.path[len(prefix):]
        self.path_only = path
        self.qs = parse_qs(u.query)
        q = {k: v[-1] for k, v in self.qs.items()}
        auth = self.auth_ok(host)
        with S.lock:
            S.log.append({"host": host, "method": method, "path": path, "query": q,
                          "body": body, "auth": auth,
                          "authorization": self.headers.get("Authorization", "")})
            fail = S.fail.pop(0) if S.fail else None
            self.hold = 0
            for h in list(S.holds):
                if h["method"] == method and re.search(h["path"], path):
                    self.hold = h["seconds"]
                    S.holds.remove(h)
                    break
        self.held = None
        if fail is not None:
            self.answer(fail["status"], {"message": "injected"}, fail.get("headers"))
        elif not auth:
            self.answer(401, {"message": "Bad credentials"})
        else:
            getattr(self, "h_" + host)(method, path, q, body)
        if self.held is not None:
            time.sleep(self.hold)
            self.hold = 0
            self.answer(*self.held)

    def auth_ok(self, host):
        want = {"github": ("Authorization", "Bearer " + TOKEN),
                "gitea": ("Authorization", "token " + TOKEN),
                "gitlab": ("PRIVATE-TOKEN", TOKEN),
                "bitbucket": ("Authorization", "Bearer " + TOKEN),
                "bbs": ("Authorization", "Bearer " + TOKEN)}[host]
        return self.headers.get(want[0]) == want[1]

    def control(self, method, what, body):
        with S.lock:
            if what == "fail":
                S.fail.extend([body] * body.get("count", 1))
                return self.answer(200, {})
            if what == "seed":
                lst = S.comments[body["host"]].setdefault(str(body["request"]), [])
                for i in range(body["n"]):
                    lst.append({"id": S.new_id(), "body": "comment %d by a human" % i,
                                "version": 0, "at": now()})
                return self.answer(200, {})
            if what == "public":
                S.public[body["host"]] = body["url"]
                return self.answer(200, {})
            if what == "link":
                S.link, S.link_times = body["url"], body.get("times", 1)
                if S.link_times <= 0:
                    S.link = None
                return self.answer(200, {})
            if what == "seed-requests":
                lst = S.pulls[body["host"]]
                for i in range(1, body["n"] + 1):
                    lst.append({"number": len(lst) + 1, "head": body.get("head", "feature/{i}").replace("{i}", str(i)),
                                "base": body.get("base", "main"), "title": "Someone's change %d" % i,
                                "body": "by a human", "state": "open", "version": 0, "at": now(),
                                "by": "someone-else"})
                return self.answer(200, {})
            if what == "log":
                return self.answer(200, S.log)
            if what == "state":
                return self.answer(200, {"statuses": S.statuses, "comments": S.comments,
                                         "pulls": S.pulls})
            if what == "hold":
                S.holds.append(body)
                return self.answer(200, {})
            if what == "protect":
                S.protect[body["host"]] = (body["branch"], body.get("how", "classic"))
                return self.answer(200, {})
            if what == "pull":
                for pr in S.pulls[body["host"]]:
                    if pr["number"] == int(body["number"]):
                        pr["state"] = body["state"]
                        return self.answer(200, pr)
                return self.answer(404, {"message": "no such request"})
        return self.answer(404, {"message": "no such control route"})

    # -- paging helpers ------------------------------------------------
    def page(self, lst, page, size):
        start = (page - 1) * size
        return lst[start:start + size], start + size < len(lst)

    def take_link(self):
        """The URL /_control/link set, while it lasts (under S.lock)."""
        if S.link is None:
            return None
        url = S.link
        S.link_times -= 1
        if S.link_times <= 0:
            S.link = None
        return url

    def link_header(self, prefix, path, q, page, more, size_key):
        url = self.take_link()
        if url is not None:
            return {"Link": '<%s>; rel="next"' % url}
        if not more:
            return {}
        base = S.public.get(prefix) or "http://%s%s" % (self.headers.get("Host"), prefix)
        q = dict(q, page=str(page + 1))
        qs = urlencode(sorted(q.items()))
        return {"Link": '<%s%s?%s>; rel="next"' % (base, path, qs)}

    # -- GitHub --------------------------------------------------------
    def h_github(self, method, path, q, body):
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/(branches/([^/]+)/protection|rules/branches/([^/]+))", path)
        if m and method == "GET":
            b, how = S.protect.get("github", (None, None))
            if m.group(2) is not None:
                if b == m.group(2) and how == "classic":
                    return self.answer(200, {"url": "https://api.github.com/repos/o/r/branches/%s/protection" % b,
                                             "required_pull_request_reviews": {"dismiss_stale_reviews": False,
                                                                              "require_code_owner_reviews": False,
                                                                              "required_approving_review_count": 1}})
                return self.answer(404, {"message": "Branch not protected"})
            if b == m.group(3) and how == "ruleset":
                return self.answer(200, [{"type": "pull_request", "ruleset_source_type": "Repository",
                                          "ruleset_source": "o/r", "ruleset_id": 42}])
            return self.answer(200, [{"type": "creation", "ruleset_source_type": "Repository",
                                      "ruleset_source": "o/r", "ruleset_id": 41}])
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})", path)
        if m and method == "POST":
            if not isinstance(body, dict) or body.get("state") not in ("error", "failure", "pending", "success"):
                return self.answer(422, {"message": "Validation Failed", "errors": [{"field": "state"}]})
            with S.lock:
                sid = S.new_id()
                S.statuses.append({"host": "github", "sha": m.group(3), "state": body["state"],
                                   "context": body.get("context"), "description": body.get("description"),
                                   "url": body.get("target_url")})
            return self.answer(201, {
                "url": "https://api.github.com/repos/%s/%s/statuses/%s" % m.groups(),
                "avatar_url": None, "id": sid, "node_id": "MDY6U3RhdHVzMQ==",
                "state": body["state"], "description": body.get("description"),
                "target_url": body.get("target_url"), "context": body.get("context", "default"),
                "created_at": now(), "updated_at": now(), "creator": gh_user()})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls(?:/([0-9]+))?", path)
        if m:
            return self.gh_pulls(m.group(1), m.group(2), m.group(3), method, q, body)
        return self.issue_comments("github", "/github", method, path, q, body)

    # -- pull requests (GitLab, Gitea, Bitbucket Cloud and DC) ---------
    # Stored as {number, head, base, title, body, state open|merged|closed,
    # version}; shown in each host's own shape and words.
    def pull_shape(self, host, pr):
        st = pr["state"]
        if host == "gitea":
            return {"id": pr["number"] + 5000, "number": pr["number"],
                    "state": "open" if st == "open" else "closed", "merged": st == "merged",
                    "title": pr["title"], "body": pr["body"],
                    "head": {"ref": pr["head"]}, "base": {"ref": pr["base"]}}
        if host == "gitlab":
            return {"id": pr["number"] + 5000, "iid": pr["number"],
                    "state": {"open": "opened"}.get(st, st), "title": pr["title"],
                    "description": pr["body"], "source_branch": pr["head"],
                    "target_branch": pr["base"]}
        word = {"open": "OPEN", "merged": "MERGED", "closed": "DECLINED"}[st]
        if host == "bitbucket":
            return {"id": pr["number"], "state": word, "title": pr["title"],
                    "description": pr["body"], "source": {"branch": {"name": pr["head"]}},
                    "destination": {"branch": {"name": pr["base"]}}}
        return {"id": pr["number"], "version": pr["version"], "state": word,
                "title": pr["title"], "description": pr["body"],
                "fromRef": {"id": "refs/heads/" + pr["head"], "displayId": pr["head"]},
                "toRef": {"id": "refs/heads/" + pr["base"], "displayId": pr["base"]}}

    def pull_list(self, host, lst, q):
        """A listing of requests, filtered and paged as the host documents."""
        # Bitbucket Cloud's state repeats; the others take one.
        wants = [w.lower() for w in self.qs.get("state", ["open"])]
        words = {"opened": "open", "declined": "closed"}
        sel = [p for p in reversed(lst)  # newest first
               if "all" in wants or any(words.get(w, w) == p["state"] for w in wants)]
        if host == "gitlab" and "source_branch" in q:
            sel = [p for p in sel if p["head"] == q["source_branch"]]
        if host == "bbs" and "at" in q:
            sel = [p for p in sel if "refs/heads/" + p["head"] == q["at"]]
        if host == "bitbucket" and "q" in q:
            m = re.fullmatch(r'\s*source\.branch\.name\s*=\s*"((?:[^"\\]|\\.)*)"\s*', q["q"])
            if m is None:
                return self.answer(400, {"type": "error", "error": {"message": "Invalid query: " + q["q"]}})
            name = re.sub(r"\\(.)", r"\1", m.group(1))
            sel = [p for p in sel if p["head"] == name]
        if host == "bitbucket" and q.get("sort", "-created_on") == "created_on":
            sel.reverse()
        if host == "bbs":
            start, limit = int(q.get("start", 0)), min(int(q.get("limit", 25)), 1000)
            items = sel[start:start + limit]
            out = {"size": len(items), "limit": limit, "start": start,
                   "isLastPage": start + limit >= len(sel),
                   "values": [self.pull_shape(host, p) for p in items]}
            if not out["isLastPage"]:
                out["nextPageStart"] = start + limit
            return self.answer(200, out)
        size_key, default, most = {"gitea": ("limit", 30, 50), "gitlab": ("per_page", 20, 100),
                                   "bitbucket": ("pagelen", 10, 50)}[host]
        size, page = min(int(q.get(size_key, default)), most), int(q.get("page", 1))
        items, more = self.page(sel, page, size)
        items = [self.pull_shape(host, p) for p in items]
        if host == "bitbucket":
            out = {"pagelen": size, "page": page, "size": len(sel), "values": items}
            link = self.take_link()
            if link is not None:
                out["next"] = link
            elif more:
                qs = [(k, v) for k, vs in sorted(self.qs.items()) if k != "page" for v in vs]
                out["next"] = "http://%s/bitbucket/2.0%s?%s" % (
                    self.headers.get("Host"), self.path_only, urlencode(qs + [("page", page + 1)]))
            return self.answer(200, out)
        prefix = {"gitea": "/gitea/api/v1", "gitlab": "/gitlab/api/v4"}[host]
        headers = self.link_header(prefix, self.path_only, q, page, more, size_key)
        headers["X-Total-Count" if host == "gitea" else "X-Total"] = str(len(sel))
        return self.answer(200, items, headers)

    def pulls(self, host, n, method, q, body):
        lst = S.pulls[host]
        text = "body" if host == "gitea" else "description"
        with S.lock:
            if n is None and method == "GET":
                return self.pull_list(host, lst, q)
            if n is None and method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("title"), str):
                    return self.answer(400, {"message": "title is missing"})
                try:
                    head, base = {"gitea": lambda: (body["head"], body["base"]),
                                  "gitlab": lambda: (body["source_branch"], body["target_branch"]),
                                  "bitbucket": lambda: (body["source"]["branch"]["name"],
                                                        body["destination"]["branch"]["name"]),
                                  "bbs": lambda: (body["fromRef"]["id"][len("refs/heads/"):],
                                                  body["toRef"]["id"][len("refs/heads/"):])}[host]()
                except (KeyError, TypeError):
                    return self.answer(400, {"message": "source or target branch missing"})
                if any(p["head"] == head and p["state"] == "open" for p in lst):
                    return self.answer(409, {"message": "Another open request already exists for this source branch"})
                pr = {"number": len(lst) + 1, "head": head, "base": base, "title": body["title"],
                      "body": body.get(text), "state": "open", "version": 0, "at": now()}
                lst.append(pr)
                return self.answer(201, self.pull_shape(host, pr))
            for pr in lst:
                if n is not None and pr["number"] == int(n):
                    if method in ("PUT", "PATCH"):
                        if host == "bbs" and body.get("version") != pr["version"]:
                            return self.answer(409, {"errors": [{"message": "stale version"}]})
                        pr["title"] = body.get("title", pr["title"])
                        pr["body"] = body.get(text, pr["body"])
                        pr["version"] += 1
                    return self.answer(200, self.pull_shape(host, pr))
        return self.answer(404, {"message": "Not Found"})

    # -- pull requests (GitHub) ---------------------------------------
    def gh_pull(self, o, r, pr):
        u = "https://api.github.com/repos/%s/%s/pulls/%d" % (o, r, pr["number"])
        closed = pr["state"] != "open"
        return {"url": u, "id": pr["number"] + 5000, "number": pr["number"],
                "state": "closed" if closed else "open", "title": pr["title"], "body": pr["body"],
                "merged": pr["state"] == "merged",
                "merged_at": now() if pr["state"] == "merged" else None,
                "head": {"ref": pr["head"], "label": o + ":" + pr["head"]},
                "base": {"ref": pr["base"], "label": o + ":" + pr["base"]},
                "user": gh_user(pr.get("by", "gitsyncd-bot")), "created_at": pr["at"], "updated_at": now()}

    def gh_pulls(self, o, r, n, method, q, body):
        lst = S.pulls["github"]
        with S.lock:
            if n is None and method == "GET":
                want = {"open": ("open",), "closed": ("closed", "merged"),
                        "all": ("open", "closed", "merged")}[q.get("state", "open")]
                # newest first (GitHub's default: sort=created, direction=desc)
                sel = [p for p in reversed(lst) if p["state"] in want
                       and ("base" not in q or p["base"] == q["base"])]
                if "head" in q:  # user:ref-name or organization:ref-name
                    owner, _, ref = q["head"].rpartition(":")
                    sel = [p for p in sel if owner.lower() == o.lower() and p["head"] == ref]
                if q.get("direction") == "asc":
                    sel.reverse()
                size, page = min(int(q.get("per_page", 30)), 100), int(q.get("page", 1))
                items, more = self.page(sel, page, size)
                return self.answer(200, [gh_shape("pull-request-simple", self.gh_pull(o, r, p)) for p in items],
                                   self.link_header("/github", self.path_only, q, page, more, "per_page"))
            if n is None and method == "POST":
                if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("title", "head", "base")):
                    return self.answer(422, {"message": "Validation Failed"})
                if any(p["head"] == body["head"] and p["state"] == "open" for p in lst):
                    return self.answer(422, {"message": "Validation Failed", "errors": [
                        {"resource": "PullRequest", "code": "custom",
                         "message": "A pull request already exists for " + body["head"] + "."}]})
                pr = {"number": len(lst) + 1, "head": body["head"], "base": body["base"],
                      "title": body["title"], "body": body.get("body"), "state": "open", "at": now()}
                lst.append(pr)
                return self.answer(201, gh_shape("pull-request", self.gh_pull(o, r, pr)))
            for pr in lst:
                if n is not None and pr["number"] == int(n):
                    if method == "PATCH":
                        for k in ("title", "body"):
                            if k in body:
                                pr[k] = body[k]
                    return self.answer(200, gh_shape("pull-request", self.gh_pull(o, r, pr)))
        return self.answer(404, {"message": "Not Found"})

    def gh_comment(self, o, r, n, c):
        return {"id": c["id"], "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
                "url": "https://api.github.com/repos/%s/%s/issues/comments/%d" % (o, r, c["id"]),
                "html_url": "https://github.com/%s/%s/pull/%s#issuecomment-%d" % (o, r, n, c["id"]),
                "issue_url": "https://api.github.com/repos/%s/%s/issues/%s" % (o, r, n),
                "body": c["body"], "user": gh_user(), "created_at": c["at"], "updated_at": c["at"],
                "author_association": "NONE"}

    def gitea_comment(self, o, r, n, c):
        return {"id": c["id"], "body": c["body"], "html_url": "http://gitea/%s/%s/pulls/%s" % (o, r, n),
                "pull_request_url": "http://gitea/%s/%s/pulls/%s" % (o, r, n), "issue_url": "",
                "user": {"id": 1, "login": "gitsyncd-bot"}, "created_at": c["at"], "updated_at": c["at"]}

    def issue_comments(self, host, prefix, method, path, q, body):
        shape = self.gh_comment if host == "github" else self.gitea_comment
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/([0-9]+)/comments", path)
        if m:
            o, r, n = m.groups()
            with S.lock:
                lst = S.comments[host].setdefault(n, [])
                if method == "GET":
                    size = int(q.get("per_page" if host == "github" else "limit", 30))
                    page = int(q.get("page", 1))
                    items, more = self.page(lst, page, size)
                    return self.answer(200, [shape(o, r, n, c) for c in items],
                                       self.link_header(prefix, path, q, page, more, None))
                if method == "POST":
                    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                        return self.answer(422, {"message": "Validation Failed"})
                    c = {"id": S.new_id(), "body": body["body"], "version": 0, "at": now()}
                    lst.append(c)
                    return self.answer(201, shape(o, r, n, c))
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/comments/([0-9]+)", path)
        if m and method == "PATCH":
            o, r, cid = m.groups()
            with S.lock:
                for n, lst in S.comments[host].items():
                    for c in lst:
                        if c["id"] == int(cid):
                            c["body"] = body["body"]
                            c["version"] += 1
                            return self.answer(200, shape(o, r, n, c))
            return self.answer(404, {"message": "Not Found"})
        return self.answer(404, {"message": "Not Found"})

    # -- Gitea ---------------------------------------------------------
    def h_gitea(self, method, path, q, body):
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/branch_protections/([^/]+)", path)
        if m and method == "GET":
            if S.protect.get("gitea", (None,))[0] == m.group(1):
                return self.answer(200, {"branch_name": m.group(1), "rule_name": m.group(1),
                                         "enable_push": False, "enable_push_whitelist": False})
            return self.answer(404, {"message": "The target couldn't be found."})
        m = re.fullmatch(r"/repos/[^/]+/[^/]+/pulls(?:/([0-9]+))?", path)
        if m:
            return self.pulls("gitea", m.group(1), method, q, body)
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})", path)
        if m and method == "POST":
            if not isinstance(body, dict) or body.get("state") not in ("pending", "success", "error", "failure", "warning"):
                return self.answer(422, {"message": "invalid state"})
            with S.lock:
                sid = S.new_id()
                S.statuses.append({"host": "gitea", "sha": m.group(3), "state": body["state"],
                                   "context": body.get("context"), "description": body.get("description"),
                                   "url": body.get("target_url")})
            return self.answer(201, {"id": sid, "status": body["state"], "context": body.get("context"),
                                     "description": body.get("description"),
                                     "target_url": body.get("target_url"), "created_at": now(),
                                     "updated_at": now()})
        return self.issue_comments("gitea", "/gitea/api/v1", method, path, q, body)

    # -- GitLab --------------------------------------------------------
    def h_gitlab(self, method, path, q, body):
        m = re.fullmatch(r"/projects/[^/]+/protected_branches/([^/]+)", path)
        if m and method == "GET":
            if S.protect.get("gitlab", (None,))[0] == m.group(1):
                return self.answer(200, {"id": 1, "name": m.group(1), "allow_force_push": False,
                                         "push_access_levels": [{"access_level": 0, "access_level_description": "No one"}]})
            return self.answer(404, {"message": "404 Not found"})
        m = re.fullmatch(r"/projects/[^/]+/merge_requests(?:/([0-9]+))?", path)
        if m:
            return self.pulls("gitlab", m.group(1), method, q, body)
        m = re.fullmatch(r"/projects/([^/]+)/statuses/([0-9a-f]{40})", path)
        if m and method == "POST":
            if not isinstance(body, dict) or body.get("state") not in ("pending", "running", "success", "failed", "canceled"):
                return self.answer(400, {"message": "state does not have a valid value"})
            with S.lock:
                sid = S.new_id()
                S.statuses.append({"host": "gitlab", "project": m.group(1), "sha": m.group(2),
                                   "state": body["state"], "context": body.get("name"),
                                   "description": body.get("description"), "url": body.get("target_url")})
            return self.answer(201, {"id": sid, "sha": m.group(2), "status": body["state"],
                                     "name": body.get("name", "default"),
                                     "description": body.get("description"),
                                     "target_url": body.get("target_url"), "created_at": now()})
        m = re.fullmatch(r"/projects/([^/]+)/merge_requests/([0-9]+)/notes", path)
        if m:
            n = m.group(2)
            with S.lock:
                lst = S.comments["gitlab"].setdefault(n, [])
                if method == "GET":
                    size, page = int(q.get("per_page", 20)), int(q.get("page", 1))
                    items, more = self.page(lst, page, size)
                    return self.answer(200, [self.gl_note(c) for c in items],
                                       self.link_header("/gitlab/api/v4", path, q, page, more, None))
                if method == "POST":
                    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                        return self.answer(400, {"error": "body is missing"})
                    c = {"id": S.new_id(), "body": body["body"], "version": 0, "at": now()}
                    lst.append(c)
                    return self.answer(201, self.gl_note(c))
        m = re.fullmatch(r"/projects/([^/]+)/merge_requests/([0-9]+)/notes/([0-9]+)", path)
        if m and method == "PUT":
            with S.lock:
                for c in S.comments["gitlab"].get(m.group(2), []):
                    if c["id"] == int(m.group(3)):
                        c["body"] = body["body"]
                        c["version"] += 1
                        return self.answer(200, self.gl_note(c))
            return self.answer(404, {"message": "404 Not found"})
        return self.answer(404, {"message": "404 Not found"})

    def gl_note(self, c):
        return {"id": c["id"], "type": None, "body": c["body"], "author": {"id": 1, "username": "gitsyncd-bot"},
                "created_at": c["at"], "updated_at": c["at"], "system": False,
                "noteable_type": "MergeRequest", "resolvable": False}

    # -- Bitbucket Cloud -----------------------------------------------
    def h_bitbucket(self, method, path, q, body):
        m = re.fullmatch(r"/repositories/[^/]+/[^/]+/branch-restrictions", path)
        if m and method == "GET":
            vals = []
            if S.protect.get("bitbucket", (None,))[0] == q.get("pattern"):
                vals = [{"id": 7, "kind": "push", "branch_match_kind": "glob", "pattern": q["pattern"],
                         "users": [], "groups": []}]
            return self.answer(200, {"values": vals, "pagelen": 100, "page": 1, "size": len(vals)})
        m = re.fullmatch(r"/repositories/[^/]+/[^/]+/pullrequests(?:/([0-9]+))?", path)
        if m:
            return self.pulls("bitbucket", m.group(1), method, q, body)
        m = re.fullmatch(r"/repositories/([^/]+)/([^/]+)/commit/([0-9a-f]{40})/statuses/build", path)
        if m and method == "POST":
            if (not isinstance(body, dict) or body.get("state") not in ("SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED")
                    or not body.get("key") or not body.get("url")):
                return self.answer(400, {"type": "error", "error": {"message": "key, state and url are required"}})
            with S.lock:
                S.statuses.append({"host": "bitbucket", "sha": m.group(3), "state": body["state"],
                                   "context": body["key"], "description": body.get("description"),
                                   "url": body["url"]})
            return self.answer(201, {"type": "commitstatus", "key": body["key"], "state": body["state"],
                                     "name": body.get("name"), "description": body.get("description"),
                                     "url": body["url"], "created_on": now(), "updated_on": now()})
        m = re.fullmatch(r"/repositories/([^/]+)/([^/]+)/pullrequests/([0-9]+)/comments", path)
        if m:
            n = m.group(3)
            with S.lock:
                lst = S.comments["bitbucket"].setdefault(n, [])
                if method == "GET":
                    size, page = int(q.get("pagelen", 10)), int(q.get("page", 1))
                    items, more = self.page(lst, page, size)
                    out = {"pagelen": size, "page": page, "size": len(lst),
                           "values": [self.bb_comment(c) for c in items]}
                    link = self.take_link()
                    if link is not None:
                        out["next"] = link
                    elif more:
                        out["next"] = "http://%s/bitbucket/2.0%s?pagelen=%d&page=%d" % (
                            self.headers.get("Host"), path, size, page + 1)
                    return self.answer(200, out)
                if method == "POST":
                    raw = ((body or {}).get("content") or {}).get("raw")
                    if not isinstance(raw, str):
                        return self.answer(400, {"type": "error", "error": {"message": "content.raw is required"}})
                    c = {"id": S.new_id(), "body": raw, "version": 0, "at": now()}
                    lst.append(c)
                    return self.answer(201, self.bb_comment(c))
        m = re.fullmatch(r"/repositories/([^/]+)/([^/]+)/pullrequests/([0-9]+)/comments/([0-9]+)", path)
        if m and method == "PUT":
            with S.lock:
                for c in S.comments["bitbucket"].get(m.group(3), []):
                    if c["id"] == int(m.group(4)):
                        c["body"] = body["content"]["raw"]
                        c["version"] += 1
                        return self.answer(200, self.bb_comment(c))
        return self.answer(404, {"type": "error", "error": {"message": "Resource not found"}})

    def bb_comment(self, c):
        return {"type": "pullrequest_comment", "id": c["id"], "created_on": c["at"], "updated_on": c["at"],
                "content": {"type": "rendered", "raw": c["body"], "markup": "markdown", "html": ""},
                "user": {"type": "user", "display_name": "gitsyncd bot"}, "deleted": False}

    # -- Bitbucket Data Center -----------------------------------------
    def h_bbs(self, method, path, q, body):
        m = re.fullmatch(r"/rest/branch-permissions/2.0/projects/[^/]+/repos/[^/]+/restrictions", path)
        if m and method == "GET":
            vals = []
            if "refs/heads/" + str(S.protect.get("bbs", (None,))[0]) == q.get("matcherId"):
                vals = [{"id": 3, "type": "pull-request-only",
                         "matcher": {"id": q["matcherId"], "type": {"id": "BRANCH"}}}]
            return self.answer(200, {"values": vals, "isLastPage": True, "size": len(vals), "start": 0})
        m = re.fullmatch(r"/rest/api/latest/projects/[^/]+/repos/[^/]+/pull-requests(?:/([0-9]+))?", path)
        if m:
            return self.pulls("bbs", m.group(1), method, q, body)
        m = re.fullmatch(r"/rest/build-status/1.0/commits/([0-9a-f]{40})", path)
        if m and method == "POST":
            if (not isinstance(body, dict) or body.get("state") not in ("SUCCESSFUL", "FAILED", "INPROGRESS")
                    or not body.get("key") or not body.get("url")):
                return self.answer(400, {"errors": [{"message": "state, key and url are required"}]})
            with S.lock:
                S.statuses.append({"host": "bbs", "sha": m.group(1), "state": body["state"],
                                   "context": body["key"], "description": body.get("description"),
                                   "url": body["url"]})
            return self.answer(204)
        base = r"/rest/api/latest/projects/([^/]+)/repos/([^/]+)/pull-requests/([0-9]+)"
        m = re.fullmatch(base + "/activities", path)
        if m and method == "GET":
            n = m.group(3)
            with S.lock:
                lst = S.comments["bbs"].setdefault(n, [])
                start, limit = int(q.get("start", 0)), int(q.get("limit", 25))
                acts = [{"id": c["id"] + 50000, "createdDate": 0, "user": {"name": "bot"},
                         "action": "COMMENTED", "commentAction": "ADDED",
                         "comment": {"id": c["id"], "version": c["version"], "text": c["body"]}}
                        for c in reversed(lst)]
                acts.append({"id": 1, "action": "OPENED", "user": {"name": "dev"}})
                items = acts[start:start + limit]
                last = start + limit >= len(acts)
                out = {"size": len(items), "limit": limit, "isLastPage": last, "start": start,
                       "values": items}
                if not last:
                    out["nextPageStart"] = start + limit
                return self.answer(200, out)
        m = re.fullmatch(base + "/comments", path)
        if m and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                return self.answer(400, {"errors": [{"message": "text is required"}]})
            with S.lock:
                c = {"id": S.new_id(), "body": body["text"], "version": 0, "at": now()}
                S.comments["bbs"].setdefault(m.group(3), []).append(c)
            return self.answer(201, {"id": c["id"], "version": 0, "text": c["body"]})
        m = re.fullmatch(base + "/comments/([0-9]+)", path)
        if m and method == "PUT":
            with S.lock:
                for c in S.comments["bbs"].get(m.group(3), []):
                    if c["id"] == int(m.group(4)):
                        if body.get("version") != c["version"]:
                            return self.answer(409, {"errors": [{"message": "the comment was modified",
                                                                  "exceptionName": "CommentOutOfDateException"}]})
                        c["body"] = body["text"]
                        c["version"] += 1
                        return self.answer(200, {"id": c["id"], "version": c["version"], "text": c["body"]})
        return self.answer(404, {"errors": [{"message": "not found"}]})


def main():
    global TOKEN, GIT_ROOT, SPEC
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--git-root")
    ap.add_argument("--github-openapi", help="GitHub's OpenAPI description: full pull request shapes")
    a = ap.parse_args()
    if a.github_openapi:
        with open(a.github_openapi) as f:
            SPEC = json.load(f)
    TOKEN = a.token
    GIT_ROOT = a.git_root
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
