# tests/e2e/lib.sh: helpers for end-to-end tests that drive real processes.
# Source it from a test script; it prints TAP.
#
#   . "$top_srcdir/tests/e2e/lib.sh"
#   plan 3
#   ok "gitsyncd --version works" "$GITSYNCD" --version
#
# Every process started with `spawn` and the scratch directory $T are
# cleaned up on exit, whatever happens.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${GITSYNCD:=$top_builddir/gitsyncd}"
: "${FIXTURES:=$top_srcdir/tests/fixtures}"
export top_srcdir top_builddir GITSYNCD FIXTURES

_tap_n=0
_tap_failed=0
_spawned=""
T=$(mktemp -d "${TMPDIR:-/tmp}/gitsyncd-e2e.XXXXXX")
export T

_cleanup() {
    for _p in $_spawned; do
        kill "$_p" 2>/dev/null
    done
    for _p in $_spawned; do
        # Give a process 5 s to exit after SIGTERM, then kill it.
        _i=0
        while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do
            sleep 0.1; _i=$((_i + 1))
        done
        kill -9 "$_p" 2>/dev/null
    done
    # Sanitizer reports of the processes the test started (they write them
    # to their logs as they exit): a leak or an error fails the test.
    _san=$(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T"/*.log 2>/dev/null | head -n 3)
    if [ -n "$_san" ]; then
        for _f in $_san; do
            echo "# sanitizer report in $(basename "$_f"):"
            grep -E -A 25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$_f" | head -n 40 | sed 's/^/#   /'
        done
    fi
    # A test that names its secrets in SECRETS_SCAN has gitsyncd's log
    # checked for them once the daemon is gone (synclib.sh does).
    _leak=""
    if [ -n "${SECRETS_SCAN:-}" ] && [ -f "$T/gitsyncd.log" ]; then
        for _s in $SECRETS_SCAN; do
            grep -qF -- "$_s" "$T/gitsyncd.log" && _leak="$_leak $_s"
        done
    fi
    if [ "${KEEP_TMP:-}" = "" ]; then rm -rf "$T"; else echo "# kept $T"; fi
    if [ -n "$_leak" ]; then
        echo "Bail out! a secret is in gitsyncd's log:$_leak"
        exit 1
    fi
    if [ -n "$_san" ]; then
        echo "Bail out! a process this test started reported a sanitizer error or leak"
        exit 1
    fi
}
trap _cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

plan() { echo "1..$1"; }
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail() { echo "Bail out! $*"; exit 1; }

# pass NAME / fail NAME [DETAIL]
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() {
    _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n - $1"
    shift
    [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
    return 0
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP ${2:-}"; }

# ok NAME CMD...: passes when CMD exits 0.
ok() {
    _name=$1; shift
    if _out=$("$@" 2>&1); then pass "$_name"; else fail "$_name" "command: $*" "$_out"; fi
}

# is NAME GOT EXPECTED
is() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:      $2" "expected: $3"; fi
}

# like NAME TEXT PATTERN (grep -E)
like() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1" "text: $2" "does not match: $3"; fi
}

# unlike NAME TEXT PATTERN
unlike() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then fail "$1" "text: $2" "matches: $3"; else pass "$1"; fi
}

# A TCP port on 127.0.0.1 that is free now (the kernel picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# spawn LOGFILE CMD...: start CMD in the background; its pid is in $!
# and it is stopped at exit.
spawn() {
    _log=$1; shift
    "$@" >"$_log" 2>&1 &
    _spawned="$_spawned $!"
}

# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT.
wait_port() {
    _i=0
    while [ $_i -lt $((${2:-10} * 10)) ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds, for at
# most SECONDS of wall-clock time.
wait_for() {
    _end=$(( $(date +%s) + $1 )); shift
    while :; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        [ "$(date +%s)" -ge "$_end" ] && return 1
        sleep 0.1
    done
}

# memcheck_wrapper SCRIPT LOG PROGRAM: write SCRIPT, which runs PROGRAM
# with its arguments under valgrind memcheck (exit 99 on an error or a
# definite leak), its report in LOG (%p: the pid).  JSON regions off, so
# that memcheck sees every JSON value as a block of its own (a leaked value
# would hide inside a region); the ASan runs cover the regions.
memcheck_wrapper() {
    cat > "$1" <<SH
#!/bin/sh
GITSYNCD_JSON_REGIONS=0 exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --error-exitcode=99 --track-origins=yes \\
    --num-callers=30 --suppressions="$top_srcdir/tests/valgrind.supp" \\
    --log-file="$2" "$3" "\$@"
SH
    chmod +x "$1"
}

# done_testing: exit non-zero when a test failed.
done_testing() {
    [ "$_tap_failed" -eq 0 ]
}
