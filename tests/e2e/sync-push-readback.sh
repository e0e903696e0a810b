#!/bin/sh
# A push is done when the remote says so: after a push gitstore reads the
# remote ref back.  A server that answers "ok" without moving the ref (here
# a post-receive hook puts it back) is a refused push, not a success.
. "$top_srcdir/tests/e2e/lib.sh"
TOOL=$top_builddir/tests/gitstore-tool
BACKEND=$(git --exec-path)/git-http-backend
command -v lighttpd >/dev/null 2>&1 || skip_all "lighttpd not installed"
[ -x "$BACKEND" ] || skip_all "git-http-backend not found"
plan 4

PORT=$(free_port)
mkdir -p "$T/repos"
git init -q --bare -b main "$T/repos/remote.git"
git --git-dir="$T/repos/remote.git" config http.receivepack true
cat > "$T/lighttpd.conf" <<CONF
server.document-root = "$T"
server.port = $PORT
server.bind = "127.0.0.1"
server.errorlog = "$T/lighttpd-error.log"
server.modules = ("mod_alias", "mod_setenv", "mod_cgi")
alias.url = ("/git" => "$BACKEND")
cgi.assign = ("" => "")
setenv.set-environment = ("GIT_PROJECT_ROOT" => "$T/repos", "GIT_HTTP_EXPORT_ALL" => "1", "REMOTE_USER" => "e2e")
CONF
spawn "$T/lighttpd.log" lighttpd -D -f "$T/lighttpd.conf"
wait_port "$PORT" 10 || bail "lighttpd did not start: $(cat "$T/lighttpd.log" "$T/lighttpd-error.log" 2>/dev/null)"

export GS_STATE="$T/state" GS_URL="http://127.0.0.1:$PORT/git/remote.git"
"$TOOL" commit-push 1 >/dev/null 2>&1 || bail "the first push failed"
before=$(git --git-dir="$T/repos/remote.git" rev-parse main)

# The server takes the push, says ok, and puts the branch back.
cat > "$T/repos/remote.git/hooks/post-receive" <<'HOOK'
#!/bin/sh
while read old new ref; do git update-ref "$ref" "$old"; done
HOOK
chmod +x "$T/repos/remote.git/hooks/post-receive"
out=$(GS_TAG=undone "$TOOL" commit-push 1 2>/dev/null); rc=$?
is "an ok that did not move the ref is a refused push" "$rc" 11
like "saying where the ref points" "$out" "refs/heads/main points at ${before}, not the pushed [0-9a-f]{40}"
is "the remote branch is where the hook left it" "$(git --git-dir="$T/repos/remote.git" rev-parse main)" "$before"
rm "$T/repos/remote.git/hooks/post-receive"
out=$(GS_TAG=again "$TOOL" commit-push 1 2>/dev/null); rc=$?
is "a push that lands is a success" "$rc" 0

done_testing
