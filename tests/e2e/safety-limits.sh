#!/bin/sh
# Issue 14, item 3: one platform object that Git cannot take stops only
# itself.  A number out of range (sourceId: 18446744073709551615) used to
# fail the whole listing ("too big integer"); an object whose file
# `gitsyncd validate` refuses (over 8 MiB, nested deeper than 64 levels, a
# field of the wrong type) was committed and could never come back.  Each
# is now skipped and reported (/status invalid_resources, the gauge), and
# everything else syncs; nothing on the branch fails validation.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/fakelib.sh"
plan 8

fake_write '
def m(i, slug, **kw):
    o = {"id": i, "slug": slug, "name": slug, "sourceId": 1, "queryType": "raw_sql"}
    o.update(kw)
    return o
deep = "bottom"
for _ in range(80):
    deep = {"x": deep}
d["models"] = [m(1, "fine"),
               m(2, "huge-id", sourceId=18446744073709551615),
               m(3, "too-negative", tags={"n": -18446744073709551615}),
               m(4, "huge-sql", raw={"sql": "select 1 -- " + "x" * (9 << 20)}),
               m(5, "too-deep", tags=deep),
               m(6, "wrong-type", sourceId="seven"),
               m(7, "fine-too")]
'
fake_setup
wait_syncs 1 60 || bail "no sync: $(tail -n 20 "$T/gitsyncd.log")"

files=$(git --git-dir="$T/remote.git" ls-tree -r --name-only main 2>/dev/null | tr '\n' ' ')
is "the fit objects are on the branch, the others are not" "$files" "models/fine-too.yaml models/fine.yaml "
reasons=$(gitsyncd_status | python3 -c '
import json, sys
w = json.load(sys.stdin)["workspaces"]["w"]
for i in sorted(w.get("invalid_resources", []), key=lambda i: i["slug"]):
    print(i["slug"] + "#" + i["id"] + ": " + i["message"][:60])')
like "an integer out of range is reported on its object, naming the field" "$reasons" \
    'huge-id#2: sourceId: 18446744073709551615 is out of range'
like "also deeper in the object" "$reasons" 'too-negative#3: n: -18446744073709551615 is out of range'
like "a file over 8 MiB is reported" "$reasons" 'huge-sql#4: .*larger than 8 MiB'
like "nesting past the limit is reported" "$reasons" 'too-deep#5: .*nesting deeper than 64'
like "a field of the wrong type is reported" "$reasons" 'wrong-type#6: .*sourceId: expected integer'
like "the gauge counts them" "$(curl -sS "http://127.0.0.1:$GPORT/metrics")" \
    'gitsyncd_invalid_platform_objects\{workspace="w"\} 5'
clone_pull
ok "gitsyncd validate accepts every file on the branch" \
    "$GITSYNCD" validate --profile demo "$T/clone"
done_testing
