#!/bin/sh
# gitstore over smart HTTP: git http-backend behind lighttpd with basic
# auth; a token pushes, a wrong token fails fast, a hook's refusal is told
# apart from everything else.
. "$top_srcdir/tests/e2e/lib.sh"
TOOL=$top_builddir/tests/gitstore-tool
BACKEND=$(git --exec-path)/git-http-backend
command -v lighttpd >/dev/null 2>&1 || skip_all "lighttpd not installed"
[ -x "$BACKEND" ] || skip_all "git-http-backend not found"
plan 9

PORT=$(free_port)
mkdir -p "$T/repos"
git init -q --bare -b main "$T/repos/remote.git"
git --git-dir="$T/repos/remote.git" config http.receivepack true
TOKEN=e2e-http-token-6b7c8d
echo "bob:$TOKEN" > "$T/users"
cat > "$T/lighttpd.conf" <<CONF
server.document-root = "$T"
server.port = $PORT
server.bind = "127.0.0.1"
server.errorlog = "$T/lighttpd-error.log"
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi")
auth.backend = "plain"
auth.backend.plain.userfile = "$T/users"
auth.require = ("/git/" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
alias.url = ("/git" => "$BACKEND")
cgi.assign = ("" => "")
setenv.set-environment = ("GIT_PROJECT_ROOT" => "$T/repos", "GIT_HTTP_EXPORT_ALL" => "1")
CONF
spawn "$T/lighttpd.log" lighttpd -D -f "$T/lighttpd.conf"
wait_port "$PORT" 10 || bail "lighttpd did not start: $(cat "$T/lighttpd.log" "$T/lighttpd-error.log" 2>/dev/null)"

export GS_STATE="$T/state" GS_URL="http://127.0.0.1:$PORT/git/remote.git" GS_USER=bob GS_PASSWORD=$TOKEN
out=$("$TOOL" commit-push 2 2>/dev/null); rc=$?
is "a push over HTTP with a token succeeds" "$rc" 0
is "the remote has the two commits" "$(git --git-dir="$T/repos/remote.git" rev-list --count main)" 2
out=$("$TOOL" tree 2>/dev/null)
is "a fetch over HTTP reads the tree back" "$(echo $out)" "models/r0 models/r1"

start=$(date +%s)
out=$(GS_STATE="$T/state2" GS_PASSWORD=wrong-token "$TOOL" fetch 2>/dev/null); rc=$?
end=$(date +%s)
is "a wrong token is an auth error" "$rc" 12
like "the error names the URL and no secret" "$out" "^auth: fetch from http://127.0.0.1:$PORT/git/remote.git"
if [ $((end - start)) -le 5 ]; then pass "a wrong token fails fast"; else fail "a wrong token fails fast" "took $((end - start)) s"; fi

before=$(git --git-dir="$T/repos/remote.git" rev-parse main)
printf '#!/bin/sh\necho "main is protected" >&2\nexit 1\n' > "$T/repos/remote.git/hooks/pre-receive"
chmod +x "$T/repos/remote.git/hooks/pre-receive"
out=$(GS_TAG=hook "$TOOL" commit-push 1 2>/dev/null); rc=$?
is "a pre-receive refusal is reported as rejected" "$rc" 11
like "with the server's reason" "$out" "refused by the server: pre-receive hook declined"
is "the remote branch did not move" "$(git --git-dir="$T/repos/remote.git" rev-parse main)" "$before"
done_testing
