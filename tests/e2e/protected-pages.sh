#!/bin/sh
# git.write pull_request in a busy repository, on each of the five Git
# hosts (issue 17): 120 open requests by others, more than a page of any
# host's listing.  20 of them, then a UI change -> gitsyncd opens its
# request from gitsyncd/<workspace>; 100 more (newer, so listed before it);
# a 2nd UI change -> gitsyncd finds its request again, by the host's
# filter on the head branch (GitHub head=owner:branch, GitLab
# source_branch, Bitbucket Cloud q=source.branch.name, Data Center at=) or
# page by page (Gitea), and updates it: one request, 2 commits, no second
# one.  GitHub's calls go through Stoplight Prism with GitHub's own OpenAPI
# description when it is installed (as in protected.sh).
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
HOSTS="github gitlab gitea bitbucket bitbucket-server"
plan 26

ATOKEN=e2e-git-api-token-9e41
SPORT=$(free_port); GPORT=$(free_port)
S=http://127.0.0.1:$SPORT
SECRETS_SCAN="$PTOKEN $GSECRET $ATOKEN"
mkdir -p "$T/state" "$T/git/scm/PRJ"
PRISM=$(command -v prism || true)
SPEC=
if [ -n "$PRISM" ]; then
    SPEC=${OCTOKIT_OPENAPI:-$(dirname "$(readlink -f "$PRISM")")/../../../@octokit/openapi/generated/api.github.com.json}
    [ -f "$SPEC" ] || SPEC=$(dirname "$PRISM")/../@octokit/openapi/generated/api.github.com.json
    [ -f "$SPEC" ] || SPEC=
fi
spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SPORT" --token "$ATOKEN" --git-root "$T/git" \
    ${SPEC:+--github-openapi "$SPEC"}
wait_port "$SPORT" 30 || bail "the test Git host did not start: $(cat "$T/server.log")"
GHAPI=$S/github
if [ -n "$SPEC" ]; then
    XPORT=$(free_port)
    spawn "$T/prism.log" "$PRISM" proxy "$SPEC" "$S/github" --errors -h 127.0.0.1 -p "$XPORT"
    wait_port "$XPORT" 120 || bail "prism did not start: $(cat "$T/prism.log")"
    GHAPI=http://127.0.0.1:$XPORT
    curl -sS -X POST --data "{\"host\": \"/github\", \"url\": \"$GHAPI\"}" "$S/_control/public" >/dev/null
else
    diag "prism or @octokit/openapi not installed: GitHub's calls are not checked against its description"
fi

srv() { [ "$1" = bitbucket-server ] && echo bbs || echo "$1"; }
repo() { if [ "$1" = bitbucket-server ]; then echo "$T/git/scm/PRJ/cfg.git"; else echo "$T/git/$1/cfg.git"; fi; }
api_url() {
    case $1 in
    github) echo "$GHAPI" ;;
    gitlab) echo "$S/gitlab/api/v4" ;;
    gitea) echo "$S/gitea/api/v1" ;;
    bitbucket) echo "$S/bitbucket/2.0" ;;
    bitbucket-server) echo "$S/bbs/rest/api/latest" ;;
    esac
}
git_url() { if [ "$1" = bitbucket-server ]; then echo "$S/scm/PRJ/cfg.git"; else echo "$S/$1/cfg.git"; fi; }
# How each host's lookup is expected to find the request: its filter on
# the head branch, or (Gitea) every page of 50.
how() {
    case $1 in
    github) echo "github:gitsyncd/github" ;;
    gitlab) echo "gitsyncd/gitlab" ;;
    gitea) echo "page 1,page 2,page 3" ;;
    bitbucket) echo 'source.branch.name="gitsyncd/bitbucket"' ;;
    bitbucket-server) echo "refs/heads/gitsyncd/bitbucket-server" ;;
    esac
}
cat > "$T/pre-receive" <<'HOOK'
#!/bin/sh
while read old new ref; do
    [ "$ref" = refs/heads/main ] && { echo "main is protected" >&2; exit 1; }
done
exit 0
HOOK
chmod +x "$T/pre-receive"

printf 'listen: 127.0.0.1:%s\nworkers: 2\nstate_dir: %s\nlog: { level: debug, format: logfmt }\nworkspaces:\n' "$GPORT" "$T/state" > "$T/gitsyncd.yaml"
for h in $HOSTS; do
    port=$(free_port); eval "PPORT_$(srv "$h")=$port"
    mkdir -p "$(dirname "$(repo "$h")")"
    git init -q --bare -b main "$(repo "$h")"
    git --git-dir="$(repo "$h")" config http.receivepack true
    spawn "$T/platform-$h.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$port" \
        --token "$PTOKEN" --webhook-secret "$PSECRET" --data "$T/platform-$h.json"
    wait_port "$port" 10 || bail "the demo platform did not start: $(cat "$T/platform-$h.log")"
    cat >> "$T/gitsyncd.yaml" <<YAML
  - name: $h
    platform: { profile: demo, url: http://127.0.0.1:$port/api/v1, token: $PTOKEN, webhook_secret: $PSECRET }
    git:
      url: $(git_url "$h")
      branch: main
      path: ""
      host: $h
      webhook_secret: $GSECRET
      author: { name: gitsyncd, email: gitsyncd@example.com }
      write: pull_request
      api: { url: $(api_url "$h"), token: $ATOKEN }
    sync: { interval: 0, max_deletes: 10 }
YAML
done
use() { eval "PURL=http://127.0.0.1:\$PPORT_$(srv "$1")"; }
sync_once() {
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once "$1" >>"$T/gitsyncd.log" 2>&1
}
patch_model() { # SLUG NAME ACTOR
    id=$(plat_id models "$1")
    plat -X PATCH -H "X-Actor: $3" --data "{\"name\":\"$2\"}" "$PURL/api/v1/models/$id" >/dev/null
}
seed() { # N HEAD
    curl -sS -X POST --data "{\"host\":\"$(srv "$H")\",\"n\":$1,\"head\":\"$2\"}" "$S/_control/seed-requests" >/dev/null
}
pulls() { curl -sS "$S/_control/state" | python3 -c 'import json,sys; p=json.load(sys.stdin)["pulls"][sys.argv[2]]; print(eval(sys.argv[1]))' "$1" "$(srv "$H")"; }
# lookups FROM: how the listings of requests since log entry FROM asked:
# the head filter they sent, else the page they read.
lookups() {
    curl -sS "$S/_control/log" | python3 -c '
import json, re, sys
seen = []
for r in json.load(sys.stdin)[int(sys.argv[1]):]:
    if r["host"] != sys.argv[2] or r["method"] != "GET" or not re.search("/(pulls|merge_requests|pullrequests|pull-requests)$", r["path"]):
        continue
    q = r["query"]
    k = q.get("head") or q.get("source_branch") or q.get("q") or q.get("at") or "page " + q.get("page", "1")
    if k not in seen:
        seen.append(k)
print(",".join(sorted(seen)))' "$1" "$(srv "$H")"
}
logn() { curl -sS "$S/_control/log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# (commits by author: the branch is rebuilt in the order of the resources)
branch_log() { git --git-dir="$(repo "$H")" log --format='%an|%s' "main..gitsyncd/$H" 2>&1 | sort | tr '\n' ,; }

for H in $HOSTS; do
    use "$H"
    R=$(repo "$H")
    for m in m0 m1; do
        plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
    done
    sync_once "$H" || bail "$H: the first sync failed: $(tail -5 "$T/gitsyncd.log")"
    cp "$T/pre-receive" "$R/hooks/pre-receive"
    seed 20 "feature/{i}"
    patch_model m1 "UI one" "Ada Lovelace <ada@example.com>"
    sync_once "$H"; rc=$?
    is "$H: behind 20 open requests by others, gitsyncd opens its own" \
        "$rc $(pulls '[(x["number"], x["state"]) for x in p if x["head"] == "gitsyncd/'"$H"'"]')" "0 [(21, 'open')]"
    seed 100 "later/{i}"
    n0=$(logn)
    patch_model m0 "UI zero" "Bob Barker <bob@example.com>"
    sync_once "$H"; rc=$?
    is "$H: 120 open requests by others, 100 of them newer: the 2nd change updates the same request" \
        "$rc $(pulls '[(x["number"], x["state"]) for x in p if x["head"] == "gitsyncd/'"$H"'"], len(p)')" \
        "0 ([(21, 'open')], 121)"
    is "$H: gitsyncd/$H holds the 2 commits, by their actors" "$(branch_log)" \
        "Ada Lovelace|model m1: updated in demo,Bob Barker|model m0: updated in demo,"
    is "$H: its description lists both" \
        "$(pulls '[("m1.yaml` updated by Ada" in x["body"], "m0.yaml` updated by Bob" in x["body"]) for x in p if x["number"] == 21]')" \
        "[(True, True)]"
    is "$H: found by the host's filter on the head branch, or page by page" "$(lookups "$n0")" "$(how "$H")"
done
if [ -n "$SPEC" ]; then
    is "every GitHub call and answer passed Prism's check against GitHub's description" \
        "$(grep -ci 'violation\|not valid' "$T/gitsyncd.log" "$T/prism.log" | awk -F: '{ n += $2 } END { print n }')" 0
else
    skip "every GitHub call and answer passed Prism's check" "prism not installed"
fi
done_testing
