#!/bin/sh
# The command line: help, version, exit codes, the man page.
. "$top_srcdir/tests/e2e/lib.sh"
plan 19

out=$("$GITSYNCD" --help 2>&1); rc=$?
is "--help exits 0" "$rc" 0
missing=""
for c in serve sync validate fmt check-config status; do
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

# The global options after the command, where people put them.
ex=$top_srcdir/etc/gitsyncd.yaml
out=$("$GITSYNCD" check-config -c "$ex" 2>&1); rc=$?
is "check-config -c FILE reads FILE" "$rc" 0
like "and summarises it" "$out" 'workspace demo'
out=$("$GITSYNCD" check-config --config="$ex" --log-level debug 2>&1); rc=$?
is "check-config --config=FILE --log-level debug" "$rc" 0
out=$("$GITSYNCD" serve --allow-root -c "$T/none.yaml" 2>&1); rc=$?
is "serve --allow-root -c FILE loads FILE (exit 2: it is missing)" "$rc" 2
is "serve -c FILE names FILE" "$out" "gitsyncd: $T/none.yaml: No such file or directory"
out=$("$GITSYNCD" sync --once -c "$ex" --allow-root nosuch 2>&1); rc=$?
is "sync --once -c FILE WS reads FILE and looks for WS" "$rc:$out" \
    "2:gitsyncd: $ex: no workspace named \"nosuch\""
out=$("$GITSYNCD" check-config --log-level loud "$ex" 2>&1); rc=$?
is "a bad --log-level after the command exits 2 and is named" \
    "$rc:$(printf '%s' "$out" | grep -c 'unknown level "loud"')" "2:1"
mkdir -p "$T/fmtc/models"
printf '{slug: a, name: A}\n' > "$T/fmtc/models/a.yaml"
out=$("$GITSYNCD" fmt -c "$T/fmtc" 2>&1); rc=$?
is "fmt -c is still fmt --check" "$rc:$out" "1:$T/fmtc/models/a.yaml"
is "and changes nothing" "$(cat "$T/fmtc/models/a.yaml")" "{slug: a, name: A}"

rcs=""
for c in serve sync validate fmt check-config status; do
    "$GITSYNCD" "$c" --help >/dev/null 2>&1; rcs="$rcs$?"
done
is "every command has --help" "$rcs" "000000"

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
