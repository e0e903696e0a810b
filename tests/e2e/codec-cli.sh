#!/bin/sh
# gitsyncd validate and fmt on real files.
. "$top_srcdir/tests/e2e/lib.sh"
plan 22
tree=$FIXTURES/resources/tree

out=$(cd "$tree" && "$GITSYNCD" validate 2>&1 >"$T/validate.out"); rc=$?
is "validate exits 1 on a tree with errors" "$rc" 1
is "validate prints exactly the two errors, compiler style, on stderr" "$out" \
"models/churn.yaml:4:10: error: did not find expected ',' or ']' while parsing a flow sequence
syncs/to-crm.yaml:2:8: error: model: no model \"weekly-users\" in this tree
gitsyncd validate: 3 resource files, 2 errors"
is "validate writes nothing to standard output" "$(cat "$T/validate.out")" ""

mkdir -p "$T/ok/models"
cp "$FIXTURES/resources/golden/model.yaml" "$T/ok/models/daily-users.yaml"
echo "not a resource" > "$T/ok/models/notes.txt"
out=$("$GITSYNCD" validate "$T/ok" 2>&1); rc=$?
is "validate exits 0 on a good tree" "$rc" 0
like "validate counts the files it read" "$out" '1 resource file, 0 errors'

# Run from the build tree with no GITSYNCD_PROFILE_PATH: the source tree's
# profiles are found; a copy of the binary elsewhere does not look there.
out=$(env -u GITSYNCD_PROFILE_PATH "$GITSYNCD" validate "$T/ok" 2>&1); rc=$?
is "validate from the build tree finds the source tree's profiles" "$rc:$out" \
    "0:gitsyncd validate: 1 resource file, 0 errors"
out=$(env -u GITSYNCD_PROFILE_PATH "$GITSYNCD" validate --profile nosuch "$T/ok" 2>&1); rc=$?
is "an unknown profile exits 2" "$rc" 2
like "the error lists the source tree's profiles" "$out" "looked in: $top_srcdir/etc/profiles "
like "and says how to point at profiles" "$out" 'set GITSYNCD_PROFILE_PATH to a directory of profiles, or give the profile file.s path \(\./nosuch\.yaml\)'
cp "$GITSYNCD" "$T/gitsyncd-copy"
out=$(env -u GITSYNCD_PROFILE_PATH "$T/gitsyncd-copy" validate --profile nosuch "$T/ok" 2>&1)
unlike "a copy outside the build tree does not look in the source tree" "$out" "$top_srcdir/etc/profiles"

out=$("$GITSYNCD" fmt --check "$T/ok" 2>&1); rc=$?
is "fmt --check on canonical files exits 0" "$rc" 0
is "fmt --check on canonical files prints nothing" "$out" ""

printf '{name: Daily active users, slug: daily-users, sourceId: 12, queryType: raw_sql, extra: yes}\n' > "$T/ok/models/messy.yaml"
out=$("$GITSYNCD" fmt --check "$T/ok" 2>&1); rc=$?
is "fmt --check lists a file that would change and exits 1" "$rc:$out" "1:$T/ok/models/messy.yaml"
out=$("$GITSYNCD" fmt "$T/ok" 2>&1); rc=$?
is "fmt rewrites it" "$rc" 0
is "in canonical form, profile order first" "$(cat "$T/ok/models/messy.yaml")" \
"slug: daily-users
name: Daily active users
sourceId: 12
queryType: raw_sql
extra: 'yes'"

out=$(printf 'b: 2\na: |\n  x\n' | "$GITSYNCD" fmt - 2>&1)
is "fmt - formats standard input" "$out" "a: |
  x
b: 2"

# Diagnostics go to stderr: "fmt - < in > out" never writes an error into out.
printf 'slug: a\nname: !!int "3"\n' | "$GITSYNCD" fmt - >"$T/fmt.out" 2>"$T/fmt.err"; rc=$?
is "fmt - exits 1 on input it refuses" "$rc" 1
is "fmt - writes nothing to standard output then" "$(cat "$T/fmt.out")" ""
is "fmt - names the line and column on standard error" "$(cat "$T/fmt.err")" \
"-:2:7: error: tags are not allowed"
printf 'b: 2\na: 1\n' | "$GITSYNCD" fmt - >"$T/fmt.out" 2>"$T/fmt.err"
is "fmt - on good input: only the formatted text on stdout, nothing on stderr" \
"$(cat "$T/fmt.out")|$(cat "$T/fmt.err")" "a: 1
b: 2|"

printf 'a: [1\n' > "$T/bad.yaml"
out=$("$GITSYNCD" fmt "$T/bad.yaml" 2>&1); rc=$?
is "fmt refuses a file that does not parse" "$rc" 1
is "and leaves it alone" "$(cat "$T/bad.yaml")" "a: [1"
done_testing
