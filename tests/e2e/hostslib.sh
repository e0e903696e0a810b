# tests/e2e/hostslib.sh: the test Git host (forge-server.py), Stoplight
# Prism in front of its GitHub API, and one workspace per Git host for the
# pull request tests (protected.sh, protected-hosts.sh, protected-pages.sh).
# Source after lib.sh and synclib.sh.  Expects T, ATOKEN, SPORT, GPORT and
# S=http://127.0.0.1:$SPORT (hosts_init sets them, and HOSTS).
#
#   hosts_init                    HOSTS (all five), SPORT, GPORT, S and
#                                 SECRETS_SCAN (with $ATOKEN); makes $T/state, $T/git
#   prism_find                    PRISM and SPEC (GitHub's OpenAPI description,
#                                 from @octokit/openapi), both empty unless
#                                 installed
#   forge_start                   the test Git host on $SPORT, serving $T/git,
#                                 checking GitHub calls against $SPEC if set;
#                                 GHAPI=$S/github
#   prism_start [public]          if $SPEC: Prism proxying $S/github, GHAPI its
#                                 URL ("public": the host's answers name it too)
#   prism_verdict                 the test that no call or answer broke GitHub's
#                                 description (a skip without Prism)
#   srv H / repo H / api_url H / git_url H
#                                 host H's path on the server, its bare
#                                 repository, API URL and Git URL
#   hosts_setup [REJECTED]        $T/pre-receive (refuses pushes to main), and
#                                 per host in $HOSTS a bare repository, a demo
#                                 platform on $PPORT_<srv> and a workspace named
#                                 after the host, git.write pull_request (and
#                                 git.rejected REJECTED), in $T/gitsyncd.yaml
#   use H                         PURL: host H's demo platform
#   host_begin H                  use H, R=$(repo H), and models m0 and m1 on
#                                 its platform
#   sync_once W                   gitsyncd sync --once W, into $T/gitsyncd.log
#   patch_model SLUG NAME ACTOR   rename a model on $PURL as ACTOR
#   pulls EXPR                    EXPR over p, the requests on host $H

SPEC=
GHAPI=

hosts_init() {
    HOSTS="github gitlab gitea bitbucket bitbucket-server"
    SPORT=$(free_port); GPORT=$(free_port)
    S=http://127.0.0.1:$SPORT
    SECRETS_SCAN="$PTOKEN $GSECRET $ATOKEN"
    mkdir -p "$T/state" "$T/git/scm/PRJ"
}

prism_find() {
    PRISM=$(command -v prism || true)
    SPEC=
    if [ -n "$PRISM" ]; then
        SPEC=${OCTOKIT_OPENAPI:-$(dirname "$(readlink -f "$PRISM")")/../../../@octokit/openapi/generated/api.github.com.json}
        [ -f "$SPEC" ] || SPEC=$(dirname "$PRISM")/../@octokit/openapi/generated/api.github.com.json
        [ -f "$SPEC" ] || SPEC=
    fi
}

forge_start() {
    spawn "$T/server.log" python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SPORT" --token "$ATOKEN" --git-root "$T/git" \
        ${SPEC:+--github-openapi "$SPEC"}
    wait_port "$SPORT" 30 || bail "the test Git host did not start: $(cat "$T/server.log")"
    GHAPI=$S/github
}

prism_start() {
    if [ -n "$SPEC" ]; then
        XPORT=$(free_port)
        spawn "$T/prism.log" "$PRISM" proxy "$SPEC" "$S/github" --errors -h 127.0.0.1 -p "$XPORT"
        wait_port "$XPORT" 120 || bail "prism did not start: $(cat "$T/prism.log")"
        GHAPI=http://127.0.0.1:$XPORT
        if [ "${1:-}" = public ]; then
            curl -sS -X POST --data "{\"host\": \"/github\", \"url\": \"$GHAPI\"}" "$S/_control/public" >/dev/null
        fi
    else
        diag "prism or @octokit/openapi not installed: GitHub's calls are not checked against its description"
    fi
}

prism_verdict() {
    if [ -n "$SPEC" ]; then
        is "every GitHub call and answer passed Prism's check against GitHub's description" \
            "$(grep -ci 'violation\|not valid' "$T/gitsyncd.log" "$T/prism.log" | awk -F: '{ n += $2 } END { print n }')" 0
    else
        skip "every GitHub call and answer passed Prism's check" "prism not installed"
    fi
}

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

hosts_setup() {
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
        {
            cat <<YAML
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
YAML
            [ -z "${1:-}" ] || echo "      rejected: $1"
            cat <<YAML
      api: { url: $(api_url "$h"), token: $ATOKEN }
    sync: { interval: 0, max_deletes: 10 }
YAML
        } >> "$T/gitsyncd.yaml"
    done
}

use() { eval "PURL=http://127.0.0.1:\$PPORT_$(srv "$1")"; }
host_begin() {
    use "$1"
    R=$(repo "$1")
    for m in m0 m1; do
        plat_post models "{\"slug\":\"$m\",\"name\":\"Model $m\",\"sourceId\":1,\"queryType\":\"raw_sql\",\"raw\":{\"sql\":\"select 1\"}}" >/dev/null
    done
}
sync_once() {
    "$GITSYNCD" --allow-root -c "$T/gitsyncd.yaml" sync --once "$1" >>"$T/gitsyncd.log" 2>&1
}
patch_model() { # SLUG NAME ACTOR
    id=$(plat_id models "$1")
    plat -X PATCH -H "X-Actor: $3" --data "{\"name\":\"$2\"}" "$PURL/api/v1/models/$id" >/dev/null
}
pulls() { curl -sS "$S/_control/state" | python3 -c 'import json,sys; p=json.load(sys.stdin)["pulls"][sys.argv[2]]; print(eval(sys.argv[1]))' "$1" "$(srv "$H")"; }
