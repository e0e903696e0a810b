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
. "$top_srcdir/tests/e2e/hostslib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 26

ATOKEN=e2e-git-api-token-9e41
hosts_init
prism_find
forge_start
prism_start public

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
hosts_setup
seed() { # N HEAD
    curl -sS -X POST --data "{\"host\":\"$(srv "$H")\",\"n\":$1,\"head\":\"$2\"}" "$S/_control/seed-requests" >/dev/null
}
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
    host_begin "$H"
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
prism_verdict
done_testing
