#!/bin/sh
# The README's live demo in pull_request mode, run once (issue 17): against
# the test Git host (forge-server.py), Ada's UI change arrives as a commit
# on gitsyncd/demo and an open pull request, not on main; the demo merges
# it (the host's merge button), the merge reaches gitsyncd as a push
# webhook and changes nothing on the platform; a pushed change still
# arrives on the platform.
. "$top_srcdir/tests/e2e/lib.sh"
[ -x "$top_builddir/contrib/demo-platform/demo-platform" ] || skip_all "demo platform not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed (the test Git host)"
plan 15
DEMO_PLATFORM_PORT=$(free_port) DEMO_GITSYNCD_PORT=$(free_port) DEMO_FORGE_PORT=$(free_port)
export DEMO_PLATFORM_PORT DEMO_GITSYNCD_PORT DEMO_FORGE_PORT
mkdir -p "$T/build/contrib/demo-platform"
ln -s "$top_builddir/gitsyncd" "$T/build/gitsyncd"
ln -s "$top_builddir/contrib/demo-platform/demo-platform" "$T/build/contrib/demo-platform/demo-platform"
out=$("$top_srcdir/contrib/demo.sh" "$T/build" --once --pull-request 2>&1); rc=$?
D=$T/build/demo
R=$D/git-host/demo/demo-remote.git
is "contrib/demo.sh --once --pull-request exits 0" "$rc" 0
like "gitsyncd runs with git.write pull_request and the test host's API" \
    "$(tr '\n' ' ' < "$D/gitsyncd.yaml")" \
    "url: http://127.0.0.1:$DEMO_FORGE_PORT/demo/demo-remote.git .* write: pull_request .*api: \{ url: http://127.0.0.1:$DEMO_FORGE_PORT/github, "
like "a pull request is opened from gitsyncd/demo into main" "$out" \
    'pull request #1 \(open\): gitsyncd/demo -> main'
like "its title and description come from the host's API" "$(printf '%s' "$out" | tr '\n' '~')" \
    'title: gitsyncd: 1 change made on demo \(workspace demo\)~  description:~.*- `models/weekly-revenue.yaml` created by Ada Lovelace'
like "the request's commit on gitsyncd/demo is by Ada" "$(printf '%s' "$out" | tr '\n' '~')" \
    'the commit is on the branch gitsyncd/demo:~  commit [0-9a-f]+ by Ada Lovelace <ada@example.com>~  model weekly-revenue: created in demo'
like "the demo says main was untouched before the merge" "$out" \
    'main is unchanged \(still at [0-9a-f]+, no models/weekly-revenue.yaml\)'
# The repository after the run: main's merge of request 1.
M=$(git --git-dir="$R" log --merges -1 --format=%H main 2>&1)
is "main has the merge of request 1, by the reviewer" \
    "$(git --git-dir="$R" log -1 --format='%an|%s' "$M" 2>&1)" "Grace Hopper|Merge pull request #1 from demo/gitsyncd/demo"
is "before the merge main had no weekly-revenue (gitsyncd did not push it there)" \
    "$(if ! git --git-dir="$R" rev-parse -q --verify "$M^1" >/dev/null; then echo "no merge";
       elif git --git-dir="$R" cat-file -e "$M^1:models/weekly-revenue.yaml" 2>/dev/null; then echo present;
       else echo absent; fi)" absent
is "the merged request carried one commit, by Ada, adding weekly-revenue" \
    "$(git --git-dir="$R" log --format='%an <%ae>|%s' "$M^1..$M^2" 2>&1) $(git --git-dir="$R" diff --name-status "$M^1" "$M^2" 2>&1 | tr '\t' ' ')" \
    "Ada Lovelace <ada@example.com>|model weekly-revenue: created in demo A models/weekly-revenue.yaml"
like "after the merge main has it" "$(git --git-dir="$R" show main:models/weekly-revenue.yaml 2>&1)" '^slug: weekly-revenue'
like "the host says the request is merged" "$out" 'pull request #1: merged'
is "the merge reached gitsyncd as a push webhook; the request's branch is deleted" \
    "$(grep -c "msg=\"push queued\" .* ref=refs/heads/main after=$M" "$D/gitsyncd.log") $(grep -c 'nothing left for a pull request to carry: its branch deleted' "$D/gitsyncd.log") $(git --git-dir="$R" for-each-ref --format='%(refname)' refs/heads/)" \
    "1 1 refs/heads/main"
like "the merge changed nothing on the platform" "$out" 'applied nothing to the platform'
like "a pushed change arrives on the platform" "$out" 'Active users \(renamed in Git\)'
unlike "gitsyncd reported no sanitizer error or leak" "$(cat "$D/gitsyncd.log")" \
    'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
[ "$rc" = 0 ] || diag "$out"
done_testing
