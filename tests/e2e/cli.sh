#!/bin/sh
# The command line: help, version, exit codes, the man page.
. "$top_srcdir/tests/e2e/lib.sh"
plan 10

out=$("$GITSYNCD" --help 2>&1); rc=$?
is "--help exits 0" "$rc" 0
missing=""
for c in serve sync validate fmt check-config; do
    printf '%s\n' "$out" | grep -q "^  $c " || missing="$missing $c"
done
is "--help lists every command" "$missing" ""

out=$("$GITSYNCD" --version 2>&1)
like "--version prints the version" "$out" '^gitsyncd [0-9]+\.[0-9]+\.[0-9]+$'

out=$("$GITSYNCD" frobnicate 2>&1); rc=$?
is "an unknown command exits 2" "$rc" 2
like "an unknown command is named" "$out" 'unknown command "frobnicate"'

out=$("$GITSYNCD" --bogus 2>&1); rc=$?
is "an unknown option exits 2" "$rc" 2

out=$("$GITSYNCD" --log-level loud check-config /dev/null 2>&1); rc=$?
is "a bad --log-level exits 2" "$rc" 2
like "a bad --log-level is named" "$out" 'unknown level "loud"'

rcs=""
for c in serve sync validate fmt check-config; do
    "$GITSYNCD" "$c" --help >/dev/null 2>&1; rcs="$rcs$?"
done
is "every command has --help" "$rcs" "00000"

if command -v man >/dev/null 2>&1; then
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$top_srcdir/doc/gitsyncd.8" 2>&1 >/dev/null)
    if [ -z "$w" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$top_srcdir/doc/gitsyncd.8" 2>/dev/null | grep -q 'check-config'; then
        pass "man -l doc/gitsyncd.8 renders without warnings"
    else
        fail "man -l doc/gitsyncd.8 renders without warnings" "$w"
    fi
else
    skip "man -l doc/gitsyncd.8 renders" "man not installed"
fi
done_testing
