#!/bin/sh
# gitstore over SSH: sshd from Debian on a loopback port with throwaway
# keys and git-shell; fetch and push work, an unknown host key is refused,
# a pinned fingerprint is accepted.
. "$top_srcdir/tests/e2e/lib.sh"
TOOL=$top_builddir/tests/gitstore-tool
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || skip_all "sshd not installed"
command -v git-shell >/dev/null 2>&1 || skip_all "git-shell not found"
[ "$(id -u)" = 0 ] || skip_all "sshd needs root here"
plan 7
# Leaks inside libgit2's SSH transport are suppressed by name (see
# tests/lsan-ssh.supp): unwind fully so the names are on the stacks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan-ssh.supp:print_suppressions=0"
export ASAN_OPTIONS LSAN_OPTIONS

PORT=$(free_port)
mkdir -p /run/sshd "$T/ssh"
chmod 700 "$T/ssh"
ssh-keygen -q -t ecdsa -N '' -f "$T/ssh/host_key"
ssh-keygen -q -t ecdsa -N '' -f "$T/ssh/user_key"
printf 'command="%s -c \\"$SSH_ORIGINAL_COMMAND\\"",no-port-forwarding,no-pty %s\n' \
    "$(command -v git-shell)" "$(cat "$T/ssh/user_key.pub")" > "$T/ssh/authorized_keys"
cat > "$T/ssh/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CONF
spawn "$T/sshd.log" "$SSHD" -D -e -f "$T/ssh/sshd_config"
wait_port "$PORT" 10 || bail "sshd did not start: $(cat "$T/sshd.log")"
git init -q --bare -b main "$T/remote.git"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$T/ssh/host_key.pub")" > "$T/ssh/known_hosts"
: > "$T/ssh/empty_known_hosts"

export GS_STATE="$T/state" GS_URL="ssh://root@127.0.0.1:$PORT$T/remote.git" GS_SSH_KEY="$T/ssh/user_key"
out=$(GS_KNOWN_HOSTS="$T/ssh/known_hosts" "$TOOL" commit-push 2 2>&1); rc=$?
is "a push over SSH with a key succeeds" "$rc" 0
[ "$rc" = 0 ] || diag "$out" "$(tail -n 5 "$T/sshd.log")"
is "the remote has the commits" "$(git --git-dir="$T/remote.git" rev-list --count main 2>/dev/null)" 2
is "a fetch over SSH reads the tree" "$(GS_KNOWN_HOSTS="$T/ssh/known_hosts" "$TOOL" tree 2>/dev/null | tr '\n' ' ')" "models/r0 models/r1 "

out=$(GS_STATE="$T/s2" GS_KNOWN_HOSTS="$T/ssh/empty_known_hosts" "$TOOL" fetch 2>/dev/null); rc=$?
is "an unknown host key is refused" "$rc" 13
like "the error says why" "$out" "unknown SSH host key"

fp=$(ssh-keygen -l -E sha256 -f "$T/ssh/host_key.pub" | cut -d' ' -f2)
out=$(GS_STATE="$T/s3" GS_KNOWN_HOSTS="$T/ssh/empty_known_hosts" GS_FINGERPRINT="$fp" "$TOOL" fetch 2>/dev/null); rc=$?
is "a pinned fingerprint is accepted" "$rc" 0
out=$(GS_STATE="$T/s4" GS_KNOWN_HOSTS="$T/ssh/empty_known_hosts" GS_FINGERPRINT="SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$TOOL" fetch 2>/dev/null); rc=$?
is "a wrong pinned fingerprint is refused" "$rc" 13
done_testing
