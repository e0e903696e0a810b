#!/bin/sh
# Pull request checks end to end, on each of the five Git hosts: gitsyncd
# serves five workspaces over one demo platform and one repository, which
# a test Git host (forge-server.py) serves over smart HTTP with the
# hosts' request refs, next to each host's status and comment API (GitHub's
# through Stoplight Prism with GitHub's own OpenAPI description).  A
# request changes 2 models, adds one, deletes one and has one invalid file:
# the status is failure and the comment lists exactly those; the file is
# fixed and pushed: the one comment is updated, the status is success;
# nothing on the platform changed.  `gitsyncd plan` gives the same plan.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
PRISM=$(command -v prism || true)
[ -n "$PRISM" ] || skip_all "prism (npm @stoplight/prism-cli) is not on PATH; contrib/quickstart.sh test installs it"
SPEC=${OCTOKIT_OPENAPI:-$(dirname "$(readlink -f "$PRISM")")/../../../@octokit/openapi/generated/api.github.com.json}
[ -f "$SPEC" ] || SPEC=$(dirname "$PRISM")/../@octokit/openapi/generated/api.github.com.json
[ -f "$SPEC" ] || skip_all "GitHub's OpenAPI description (npm @octokit/openapi) is not installed"

HOSTS="github gitlab gitea bitbucket bitbucket-server"
plan $((3 + 8 * 5 + 8))

ATOKEN=e2e-git-api-token-93b1
SPORT=$(free_port); XPORT=$(free_port); PPORT=$(free_port); GPORT=$(free_port)
PURL=http://127.0.0.1:$PPORT
S=http://127.0.0.1:$SPORT
SECRETS_SCAN="$PTOKEN $GSECRET $ATOKEN"

# One bare repository, reachable under each host's URL layout.
mkdir -p "$T/git/acme" "$T/git/scm/PRJ" "$T/state"
git init -q --bare -b main "$T/git/acme/cfg.git"
git --git-dir="$T/git/acme/cfg.git" config http.receivepack true
ln -s "$T/git/acme/cfg.git" "$T/git/scm/PRJ/cfg.git"
REMOTE=$T/git/acme/cfg.git

spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SPORT" --token "$ATOKEN" --git-root "$T/git"
wait_port "$SPORT" 30 || bail "the test Git host did not start: $(cat "$T/server.log")"
spawn "$T/prism.log" "$PRISM" proxy "$SPEC" "$S/github" --errors -h 127.0.0.1 -p "$XPORT"
curl -sS -X POST -H 'Content-Type: application/json' --data "{\"host\": \"/github\", \"url\": \"http://127.0.0.1:$XPORT\"}" "$S/_control/public" >/dev/null

api_url() {
    case $1 in
    github) echo "http://127.0.0.1:$XPORT" ;;
    gitlab) echo "$S/gitlab/api/v4" ;;
    gitea) echo "$S/gitea/api/v1" ;;
    bitbucket) echo "$S/bitbucket/2.0" ;;
    bitbucket-server) echo "$S/bbs/rest/api/latest" ;;
    esac
}
git_url() { if [ "$1" = bitbucket-server ]; then echo "$S/scm/PRJ/cfg.git"; else echo "$S/acme/cfg.git"; fi; }
{
    printf 'listen: 127.0.0.1:%s\nworkers: 2\nstate_dir: %s\nlog: { level: info, format: logfmt }\nworkspaces:\n' "$GPORT" "$T/state"
    for h in $HOSTS; do cat <<YAML
  - name: $h
    platform: { profile: demo, url: $PURL/api/v1, token: $PTOKEN }
    git:
      url: $(git_url $h)
      branch: main
      path: ""
      host: $h
      webhook_secret: $GSECRET
      author: { name: gitsyncd, email: gitsyncd@example.com }
      api:
        url: $(api_url $h)
        token: \${GITSYNCD_TEST_API_TOKEN}
    sync: { interval: 0, max_deletes: 10 }
YAML
    done
} > "$T/gitsyncd.yaml"
export GITSYNCD_TEST_API_TOKEN=$ATOKEN

cc=$("$GITSYNCD" check-config "$T/gitsyncd.yaml" 2>&1)
like "check-config shows git.api, the \${VAR} token redacted" "$cc" "git api +http://127.0.0.1:$XPORT, token <redacted> \(pull request checks\)"
printf '%s\n' "$ATOKEN" > "$T/api-token"; chmod 600 "$T/api-token"
sed "s|token: \\\${GITSYNCD_TEST_API_TOKEN}|token_file: $T/api-token|" "$T/gitsyncd.yaml" > "$T/file.yaml"
cc=$("$GITSYNCD" check-config "$T/file.yaml" 2>&1)
is "token_file works too, and no output carries the token" \
    "$(grep -c 'token_file:' "$T/file.yaml") $(printf '%s' "$cc" | grep -c 'token <redacted> (pull request checks)') $(printf '%s' "$cc" | grep -c "$ATOKEN")" "5 5 0"
start_platform
for m in m1 m2 m3 m4; do
    plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
done
for h in $HOSTS; do
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once "$h" >"$T/sync.out" 2>&1 ||
        bail "the first sync of $h failed: $(cat "$T/sync.out")"
done
is "the import reached the repository over smart HTTP" "$(git --git-dir="$REMOTE" ls-tree --name-only main models/ | tr '\n' ' ')" \
    "models/m1.yaml models/m2.yaml models/m3.yaml models/m4.yaml "
wait_port "$XPORT" 120 || bail "prism did not start: $(cat "$T/prism.log")"
start_gitsyncd
audit() { plat "$PURL/api/v1/audit" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'; }
audit0=$(audit)

# The request: m1 and m2 changed, m5 added, m4 deleted, bad.yaml invalid.
git clone -q "$REMOTE" "$T/clone" 2>/dev/null
git -C "$T/clone" config user.name "Grace Hopper"; git -C "$T/clone" config user.email grace@example.com
git -C "$T/clone" checkout -q -b feature
sed -i 's/^name: Model m1$/name: First model/' "$T/clone/models/m1.yaml"
sed -i 's/select 1/select 2/' "$T/clone/models/m2.yaml"
printf 'slug: m5\nname: Model five\nsourceId: 1\nqueryType: raw_sql\n' > "$T/clone/models/m5.yaml"
git -C "$T/clone" rm -q models/m4.yaml
printf 'slug: bad\nname: Bad\nsourceId: not-a-number\nqueryType: raw_sql\n' > "$T/clone/models/bad.yaml"
git -C "$T/clone" add -A && git -C "$T/clone" commit -qm "the request"
SHA1=$(git -C "$T/clone" rev-parse HEAD)
sed -i 's/^sourceId: not-a-number$/sourceId: 2/' "$T/clone/models/bad.yaml"
git -C "$T/clone" commit -qam "fix bad.yaml"
SHA2=$(git -C "$T/clone" rev-parse HEAD)

# request_ref HOST N: where the host keeps request N's head.
request_ref() {
    case $1 in
    github|gitea) echo "refs/pull/$2/head" ;;
    gitlab) echo "refs/merge-requests/$2/head" ;;
    bitbucket) echo "refs/heads/feature" ;;
    bitbucket-server) echo "refs/pull-requests/$2/from" ;;
    esac
}
state() { curl -sS "$S/_control/state"; }
# py EXPR over the test Git host's state (S), for host H.
py() {
    state > "$T/state.json"
    python3 -c '
import json, sys
S = json.load(open(sys.argv[1])); H = sys.argv[2]; N = sys.argv[3]
key = "bbs" if H == "bitbucket-server" else H
def st(): return [s for s in S["statuses"] if s["host"] == key]
def com(): return S["comments"][key].get(N, [])
print(eval(sys.argv[4]))' "$T/state.json" "$1" "$2" "$3"
}
has_status() { [ "$(py "$1" "$2" "len([s for s in st() if s[\"sha\"] == \"$3\"])")" -ge 1 ]; }
hook() { python3 "$top_srcdir/tests/e2e/review-hook.py" "http://127.0.0.1:$GPORT/hooks/$1/git" "$1" "$GSECRET" "$2" "$3" "$4"; }

n=7
for h in $HOSTS; do
    ref=$(request_ref $h $n)
    git -C "$T/clone" push -q "$REMOTE" "$SHA1:$ref" -f 2>/dev/null
    is "$h: the request event is queued" "$(hook $h $n $SHA1 open)" '202 {"status":"queued"}'
    if wait_for 30 has_status $h $n $SHA1; then pass "$h: a status is posted on the head"; else
        fail "$h: a status is posted on the head" "$(grep -E "request|check|error" "$T/gitsyncd.log" | tail -n 5)"; fi
    is "$h: the status is the host's failure, context gitsyncd/$h" \
        "$(py $h $n 'st()[-1]["state"], st()[-1]["context"]')" \
        "('$(case $h in gitlab) echo failed;; bitbucket*) echo FAILED;; *) echo failure;; esac)', 'gitsyncd/$h')"
    body=$(py $h $n 'com()[-1]["body"] if com() else ""')
    is "$h: the comment lists exactly the plan" "$(printf '%s\n' "$body" | grep -E '^\| (create|update|delete)|^- ' | sed -E 's/[ |]+$//')" \
"| update | model m1 | models/m1.yaml | name
| update | model m2 | models/m2.yaml | raw
| delete | model m4 | models/m4.yaml
| create | model m5 | models/m5.yaml
- models/bad.yaml:3:1: sourceId: expected integer, got string"
    like "$h: the comment carries the hidden marker" "$body" "^<!-- gitsyncd:$h -->"

    # The fix, pushed: one comment, updated; status success.
    git -C "$T/clone" push -q "$REMOTE" "$SHA2:$ref" -f 2>/dev/null
    hook $h $n $SHA2 update >/dev/null
    if wait_for 30 has_status $h $n $SHA2; then
        is "$h: after the fix the status is success" "$(py $h $n 'st()[-1]["state"]')" \
            "$(case $h in gitlab|github|gitea) echo success;; *) echo SUCCESSFUL;; esac)"
    else
        fail "$h: after the fix the status is success" "$(grep -E "request|check|error" "$T/gitsyncd.log" | tail -n 5)"
    fi
    is "$h: still one comment, now the passing plan" \
        "$(py $h $n 'len(com()), "ok" in com()[0]["body"].splitlines()[1], "bad.yaml" in com()[0]["body"]')" "(1, True, True)"
    is "$h: the status says what a merge would do" "$(py $h $n 'st()[-1]["description"]')" \
        "2 to create, 2 to update, 1 to delete"
done

# A request whose head cannot be fetched: a failure status that says so, and a comment.
hook github 99 $SHA1 open >/dev/null
has_comment() { [ "$(py github 99 'len(com())')" -ge 1 ]; }
wait_for 30 has_comment
is "no plan (the head is not there): failure, saying so" "$(py github 99 '[(s["state"], s["description"]) for s in st() if s["sha"] == "'$SHA1'"][-1]')" \
    "('failure', 'gitsyncd could not make the plan (see its log)')"
like "... and the comment says where to look, not the internals" "$(py github 99 'com()[0]["body"]')" "could not be made; gitsyncd's log says why"
is "nothing changed on the platform" "$(audit)" "$audit0"
"$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" plan github --ref refs/pull/7/head >"$T/plan.out" 2>&1
is "gitsyncd plan on the same tree gives the same plan" "$(tail -n 1 "$T/plan.out")" "ok: 2 to create, 2 to update, 1 to delete"
like "the daemon logged each check" "$(grep -c 'msg="request checked"' "$T/gitsyncd.log")" '^11$'
unlike "the API token is in no log line" "$(cat "$T/gitsyncd.log")" "$ATOKEN"
like "Prism saw GitHub's calls" "$(grep -c 'repos/acme/cfg/' "$T/prism.log")" '^[1-9]'
viol=$(grep -E 'Violation|✖' "$T/prism.log" | head -5)
is "Prism found no GitHub request or answer outside GitHub's contract" "$viol" ""
done_testing
