#!/bin/sh
# The Git host API client (src/forge.c) against a test Git host
# (forge-server.py) that answers as each host's API documentation says.
# GitHub's calls go through Stoplight Prism in proxy mode with GitHub's own
# OpenAPI description (npm @octokit/openapi), request and answer
# validation on: a request outside GitHub's contract fails the test.
. "$top_srcdir/tests/e2e/lib.sh"

PRISM=$(command -v prism || true)
[ -n "$PRISM" ] || skip_all "prism (npm @stoplight/prism-cli) is not on PATH; contrib/quickstart.sh test installs it"
SPEC=${OCTOKIT_OPENAPI:-$(dirname "$(readlink -f "$PRISM")")/../../../@octokit/openapi/generated/api.github.com.json}
[ -f "$SPEC" ] || SPEC=$(dirname "$PRISM")/../@octokit/openapi/generated/api.github.com.json
[ -f "$SPEC" ] || skip_all "GitHub's OpenAPI description (npm @octokit/openapi) is not installed"
TOOL=$top_builddir/tests/forge-tool

TOKEN=e2e-forge-token-5c2a71
SPORT=$(free_port); PPORT=$(free_port)
spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SPORT" --token "$TOKEN" \
    --github-openapi "$SPEC"
wait_port "$SPORT" 30 || bail "the test server did not start: $(cat "$T/server.log")"
spawn "$T/prism.log" "$PRISM" proxy "$SPEC" "http://127.0.0.1:$SPORT/github" --errors -h 127.0.0.1 -p "$PPORT"
wait_port "$PPORT" 120 || bail "prism did not start: $(cat "$T/prism.log")"

S=http://127.0.0.1:$SPORT
SHA=0123456789abcdef0123456789abcdef01234567
ctl() { curl -sS -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "$S/_control/$2"; }
ctl POST public "{\"host\": \"/github\", \"url\": \"http://127.0.0.1:$PPORT\"}" >/dev/null
# py EXPR: a Python expression over the server's log (L) and state (S).
py() {
    ctl GET log > "$T/log.json"; ctl GET state > "$T/state.json"
    python3 -c '
import json, sys
L = json.load(open(sys.argv[1])); S = json.load(open(sys.argv[2]))
def st(h): return [s for s in S["statuses"] if s["host"] == h]
def com(h, n): return S["comments"][h].get(n, [])
def mine(h, n): return [c for c in com(h, n) if "<!-- gitsyncd:w -->" in c["body"]]
def reqs(h, m=None): return [r for r in L if r["host"] == h and (m is None or r["method"] == m)]
print(eval(sys.argv[3]))' "$T/log.json" "$T/state.json" "$1"
}
# ft HOST GIT_URL API_URL ARGS...: run forge-tool; stdout in $T/out, stderr in $T/err
ft() {
    h=$1 g=$2 a=$3; shift 3
    FT_HOST=$h FT_GIT_URL=$g FT_API_URL=$a FT_TOKEN=$TOKEN "$TOOL" "$@" >"$T/out" 2>"$T/err"; _rc=$?
    cat "$T/err" >>"$T/all.err"; return $_rc
}
base() { FT_HOST=$1 FT_GIT_URL=$2 FT_TOKEN=$TOKEN "$TOOL" base 2>&1 | grep -v "^requests "; }

plan 57

# --- The API base comes from git.url ---
is "github.com -> api.github.com" "$(base auto https://github.com/acme/cfg.git)" "https://api.github.com"
is "GitHub Enterprise -> /api/v3" "$(base github https://ghe.example.com/acme/cfg.git)" "https://ghe.example.com/api/v3"
is "GitLab over SSH -> https /api/v4" "$(base gitlab git@gitlab.example.com:group/sub/cfg.git)" "https://gitlab.example.com/api/v4"
is "Gitea -> /api/v1" "$(base gitea https://gitea.example.com/acme/cfg)" "https://gitea.example.com/api/v1"
is "bitbucket.org -> api.bitbucket.org/2.0" "$(base auto git@bitbucket.org:acme/cfg.git)" "https://api.bitbucket.org/2.0"
is "Bitbucket DC with a context path" "$(base auto https://bb.example.com/bitbucket/scm/PRJ/cfg.git)" \
    "https://bb.example.com/bitbucket/rest/api/latest"
like "an unknown host under auto asks for git.host" "$(base auto https://git.example.com/a/b.git)" 'set git.host'
like "a path that is not OWNER/REPO is refused" "$(base github https://github.com/a/b/c.git)" 'expected OWNER/REPOSITORY'
like "credentials in git.api.url are refused" \
    "$(FT_HOST=github FT_GIT_URL=https://github.com/a/b FT_API_URL=https://u:p@x.example.com FT_TOKEN=$TOKEN "$TOOL" base 2>&1)" \
    'without credentials'

# --- GitHub, through Prism and GitHub's OpenAPI description ---
GH="http://127.0.0.1:$PPORT"
ok "GitHub: a success status is set" ft github https://github.com/acme/cfg.git "$GH" status $SHA success "2 updates, 1 create"
is "GitHub: state success, context gitsyncd/w, on the commit" \
    "$(py '[(s["state"], s["context"], s["sha"], s["description"]) for s in st("github")]')" \
    "[('success', 'gitsyncd/w', '$SHA', '2 updates, 1 create')]"
is "GitHub: the token went as a bearer token" "$(py 'reqs("github")[-1]["authorization"]')" "Bearer $TOKEN"
ok "GitHub: a failure status" ft github https://github.com/acme/cfg.git "$GH" status $SHA failure "1 invalid file"
is "GitHub: state failure" "$(py 'st("github")[-1]["state"]')" failure
ok "GitHub: the first comment is created" ft github https://github.com/acme/cfg.git "$GH" comment 7 "plan one"
is "... and says so" "$(cat "$T/out")" created
ok "GitHub: the next one updates it" ft github https://github.com/acme/cfg.git "$GH" comment 7 "plan two"
is "... in place: one comment, the new text, the marker on top" "$(py '[c["body"] for c in com("github", "7")]')" \
    "['<!-- gitsyncd:w -->\\nplan two']"
ctl POST seed '{"host": "github", "request": "8", "n": 150}' >/dev/null
ft github https://github.com/acme/cfg.git "$GH" comment 8 "first"
ft github https://github.com/acme/cfg.git "$GH" comment 8 "second"
is "GitHub: behind 150 comments of others (2 pages), the comment is found and updated" \
    "$(cat "$T/out") $(py 'len(mine("github", "8")), mine("github", "8")[0]["body"].endswith("second")')" "updated (1, True)"
is "... by following the Link header's second page" "$(py 'sorted(set(r["query"].get("page", "1") for r in reqs("github", "GET")))')" "['1', '2']"
ok "Prism was in the way: a comment for another workspace makes its own" \
    env FT_WORKSPACE=other FT_HOST=github FT_GIT_URL=https://github.com/acme/cfg.git FT_API_URL="$GH" FT_TOKEN=$TOKEN "$TOOL" comment 7 "other plan"
is "... two comments on request 7 now" "$(py 'len(com("github", "7"))')" 2

# --- GitLab ---
GL=$S/gitlab/api/v4
ok "GitLab: a failure status" ft gitlab https://gitlab.example.com/group/sub/cfg.git "$GL" status $SHA failure "1 invalid file"
is "GitLab: its state is 'failed', named gitsyncd/w, on the encoded project" \
    "$(py '[(s["state"], s["context"], s["project"]) for s in st("gitlab")]')" "[('failed', 'gitsyncd/w', 'group%2Fsub%2Fcfg')]"
is "GitLab: the token went as PRIVATE-TOKEN, no Authorization" "$(py 'reqs("gitlab")[-1]["authorization"]')" ""
ft gitlab https://gitlab.example.com/group/sub/cfg.git "$GL" comment 3 "note one"
ok "GitLab: the second note updates the first" ft gitlab https://gitlab.example.com/group/sub/cfg.git "$GL" comment 3 "note two"
is "GitLab: one note, updated with PUT" "$(cat "$T/out") $(py 'len(com("gitlab", "3")), [r["method"] for r in reqs("gitlab")][-1]')" "updated (1, 'PUT')"

# --- Gitea / Forgejo ---
GT=$S/gitea/api/v1
ok "Gitea: a success status" ft gitea https://gitea.example.com/acme/cfg.git "$GT" status $SHA success ok
is "Gitea: state success, token header" "$(py 'st("gitea")[-1]["state"], reqs("gitea")[-1]["authorization"]')" \
    "('success', 'token $TOKEN')"
ft gitea https://gitea.example.com/acme/cfg.git "$GT" comment 4 one
ft gitea https://gitea.example.com/acme/cfg.git "$GT" comment 4 two
is "Gitea: one comment, updated with PATCH" "$(cat "$T/out") $(py 'len(com("gitea", "4")), reqs("gitea")[-1]["method"]')" "updated (1, 'PATCH')"

# --- Bitbucket Cloud ---
BB=$S/bitbucket/2.0
ok "Bitbucket Cloud: a failure status" ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" status $SHA failure "guard"
is "Bitbucket Cloud: FAILED, key gitsyncd/w, with the required url" \
    "$(py 'st("bitbucket")[-1]["state"], st("bitbucket")[-1]["context"], st("bitbucket")[-1]["url"]')" \
    "('FAILED', 'gitsyncd/w', 'https://bitbucket.org/acme/cfg')"
ctl POST seed '{"host": "bitbucket", "request": "5", "n": 120}' >/dev/null
ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" comment 5 one
ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" comment 5 two
is "Bitbucket Cloud: found past 120 comments through 'next', updated" \
    "$(cat "$T/out") $(py 'len(mine("bitbucket", "5")), mine("bitbucket", "5")[0]["body"].endswith("two")')" "updated (1, True)"

# --- Bitbucket Data Center ---
BS=$S/bbs/rest/api/latest
ok "Bitbucket DC: a success status" ft bitbucket-server https://bb.example.com/scm/PRJ/cfg.git "$BS" status $SHA success fine
is "Bitbucket DC: SUCCESSFUL, through the build-status API at the server root" \
    "$(py 'st("bbs")[-1]["state"], [r["path"] for r in reqs("bbs")][-1]')" \
    "('SUCCESSFUL', '/rest/build-status/1.0/commits/$SHA')"
ctl POST seed '{"host": "bbs", "request": "9", "n": 130}' >/dev/null
ft bitbucket-server https://bb.example.com/scm/PRJ/cfg.git "$BS" comment 9 one
ft bitbucket-server https://bb.example.com/scm/PRJ/cfg.git "$BS" comment 9 two
ok "Bitbucket DC: the third write carries the current version" \
    ft bitbucket-server https://bb.example.com/scm/PRJ/cfg.git "$BS" comment 9 three
is "Bitbucket DC: one comment, version 2, the last text" \
    "$(py 'len(mine("bbs", "9")), mine("bbs", "9")[0]["version"], mine("bbs", "9")[0]["body"].endswith("three")')" "(1, 2, True)"

# --- Retries, rate limits, errors ---
ctl POST fail '{"status": 429, "count": 2, "headers": {"Retry-After": "1"}}' >/dev/null
t0=$(date +%s)
ok "GitLab: two 429s with Retry-After: 1 are waited out" ft gitlab https://gitlab.example.com/g/cfg.git "$GL" status $SHA success ok
t1=$(date +%s)
is "... two retries, about two seconds" "$(tail -n 1 "$T/err") $([ $((t1 - t0)) -ge 2 ] && echo waited)" "requests 3 retries 2 waited"
reset=$(( $(date +%s) + 1 ))
ctl POST fail "{\"status\": 403, \"count\": 1, \"headers\": {\"X-RateLimit-Remaining\": \"0\", \"X-RateLimit-Reset\": \"$reset\"}}" >/dev/null
ok "Gitea: a 403 with X-RateLimit-Remaining: 0 waits for the reset" ft gitea https://gitea.example.com/acme/cfg.git "$GT" status $SHA success ok
ctl POST fail '{"status": 502, "count": 10}' >/dev/null
ft gitea https://gitea.example.com/acme/cfg.git "$GT" status $SHA success ok; rc=$?
is "persistent 502s fail after bounded retries" "$rc $(tail -n 1 "$T/err")" "1 requests 5 retries 4"
like "... naming the host and the endpoint" "$(cat "$T/err")" "gitea POST /repos/acme/cfg/statuses/$SHA: HTTP 502: injected, gave up after 5 tries"
ctl POST fail '{"status": 502, "count": 0}' >/dev/null
ft gitlab https://gitlab.example.com/g/cfg.git "$S/gitlab/api/v4" status $SHA success ok  # drain
ft github https://github.com/acme/cfg.git "$GH" status 12345 success x; rc=$?
like "a commit id that is not hex is refused before anything is sent" "$rc $(cat "$T/err")" '^1 github status: "12345" is not a commit id'
FT_HOST=gitlab FT_GIT_URL=https://gitlab.example.com/g/cfg.git FT_API_URL=$GL FT_TOKEN=wrong-token "$TOOL" status $SHA success x >/dev/null 2>"$T/err"
like "a refused token: the host's message, not the token" "$(cat "$T/err")" 'gitlab POST /projects/g%2Fcfg/statuses/[0-9a-f]+: HTTP 401: Bad credentials'
ft gitlab https://gitlab.example.com/g/cfg.git "$GL" comment "1/../2" x; rc=$?
like "a request number that is not a number is refused" "$rc $(cat "$T/err")" '^1 gitlab comment: "1/../2" is not a request number'

# --- The token goes only to the API's origin ---
n0=$(py 'len(L)')
ctl POST link "{\"url\": \"http://localhost:$SPORT/gitea/api/v1/repos/acme/cfg/issues/4/comments?page=2\"}" >/dev/null
ctl POST seed '{"host": "gitea", "request": "11", "n": 1}' >/dev/null
ft gitea https://gitea.example.com/acme/cfg.git "$GT" comment 11 x; rc=$?
like "a next page on another origin is refused" "$rc $(cat "$T/err")" "^1 gitea GET /repos/acme/cfg/issues/11/comments: refusing a URL outside http://127.0.0.1:$SPORT"
is "... and was never asked: one request, to the listing" "$(py 'len(L)')" $((n0 + 1))

# --- The request gitsyncd opens, among many by others ---
# Per host: 20 open requests by others, then gitsyncd's (from gitsyncd/w),
# then 100 more: newest first, it is the 101st, past any one page.
for h in github gitea gitlab bitbucket bbs; do
    ctl POST seed-requests "{\"host\": \"$h\", \"n\": 20}" >/dev/null
    ctl POST seed-requests "{\"host\": \"$h\", \"n\": 1, \"head\": \"gitsyncd/w\"}" >/dev/null
    ctl POST seed-requests "{\"host\": \"$h\", \"n\": 100, \"head\": \"later/{i}\"}" >/dev/null
done
n0=$(py 'len(L)')
found=
ft github https://github.com/acme/cfg.git "$GH" pull gitsyncd/w main && found="$found $(cat "$T/out")"
ft gitlab https://gitlab.example.com/g/cfg.git "$GL" pull gitsyncd/w main && found="$found $(cat "$T/out")"
ft gitea https://gitea.example.com/acme/cfg.git "$GT" pull gitsyncd/w main && found="$found $(cat "$T/out")"
ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" pull gitsyncd/w main && found="$found $(cat "$T/out")"
ft bitbucket-server https://bb.example.com/scm/PRJ/cfg.git "$BS" pull gitsyncd/w main && found="$found $(cat "$T/out")"
is "behind 100 newer requests by others, each host finds request 21 from gitsyncd/w" "$found" " 21 21 21 21 21"
is "... by the host's own filter where it has one, else page by page (Gitea)" \
    "$(py '[(r["host"], r["query"].get("head") or r["query"].get("source_branch") or r["query"].get("q") or r["query"].get("at") or "page " + r["query"].get("page", "1")) for r in L['"$n0"':]]')" \
    "[('github', 'acme:gitsyncd/w'), ('gitlab', 'gitsyncd/w'), ('gitea', 'page 1'), ('gitea', 'page 2'), ('gitea', 'page 3'), ('bitbucket', 'source.branch.name=\"gitsyncd/w\"'), ('bbs', 'refs/heads/gitsyncd/w')]"
ft gitea https://gitea.example.com/acme/cfg.git "$GT" pull gitsyncd/other main
is "Gitea: none from another head, after reading every page" "$(cat "$T/out") $(tail -n 1 "$T/err")" "none requests 3 retries 0"
ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" pull gitsyncd/other main
is "Bitbucket Cloud: none from another head" "$(cat "$T/out")" "none"
n0=$(py 'len(L)')
ctl POST link "{\"url\": \"http://localhost:$SPORT/bitbucket/2.0/repositories/acme/cfg/pullrequests?page=2\"}" >/dev/null
ft bitbucket https://bitbucket.org/acme/cfg.git "$BB" pull gitsyncd/other main; rc=$?
is "a next page of requests on another origin is refused, never asked" "$rc $(py 'len(L)') $(grep -c 'refusing a URL outside' "$T/err")" "1 $((n0 + 1)) 1"
# A host that always names a next page: at most 100 pages, then an error.
ctl POST link "{\"url\": \"$GT/repos/acme/cfg/pulls?state=open&limit=50&page=2\", \"times\": 1000}" >/dev/null
ft gitea https://gitea.example.com/acme/cfg.git "$GT" pull gitsyncd/other main; rc=$?
is "endless pages of requests: an error after 100 pages" "$rc $(tail -n 1 "$T/err")" "1 requests 100 retries 0"
like "... saying so" "$(cat "$T/err")" "gitea GET /repos/acme/cfg/pulls: more than 100 pages of requests, gave up"
ctl POST link '{"url": "", "times": 0}' >/dev/null

unlike "no error message carries the token" "$(cat "$T/all.err")" "$TOKEN"

# Prism judged every GitHub request and answer.
like "Prism saw the GitHub calls" "$(grep -c 'repos/acme/cfg/' "$T/prism.log")" '^[1-9]'
viol=$(grep -E 'Violation|✖' "$T/prism.log" | head -5)
is "Prism found no GitHub request or answer outside GitHub's contract" "$viol" ""
done_testing
