#!/bin/sh
# What Git may hold under a kind's folder: a huge blob is refused from its
# header (never inflated, not even at later syncs), a symbolic link (or any
# entry that is not a file) is reported as invalid and never applied, and a
# file that starts with a UTF-8 byte order mark is valid.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
[ -w /proc/self/clear_refs ] || skip_all "cannot reset the peak RSS (/proc/PID/clear_refs)"
plan 8
sync_setup platform 10

plat_post models '{"slug":"base","name":"Base","sourceId":1,"queryType":"raw_sql"}' >/dev/null
wait_commits 1 || bail "the first platform change never arrived"
clone_pull
mkdir -p "$T/clone/models"
# 96 MiB of zeros: about 100 KB in a pack.
head -c $((96 * 1024 * 1024)) /dev/zero > "$T/clone/models/zero.yaml"
ln -s '{slug: evil, name: Evil, sourceId: 6, queryType: raw_sql}' "$T/clone/models/evil.yaml"
printf '\357\273\277slug: bom\nname: Bom\nsourceId: 4\nqueryType: raw_sql\n' > "$T/clone/models/bom.yaml"
clone_push "a huge file, a symlink, a BOM" || bail "push failed: $(cat "$T/push.err")"
has_id() { [ -n "$(plat_id "$1" "$2")" ]; }
status_has() { gitsyncd_status | grep -q "$1"; }
if wait_for 30 has_id models bom; then pass "a file with a UTF-8 BOM is applied"; else fail "a file with a UTF-8 BOM is applied" "$(gitsyncd_status)"; fi
wait_for 10 status_has 'symbolic link'
st=$(gitsyncd_status | tr -d '\n')
is "the symlink's target text is not applied" "$(plat_id models evil)" ""
like "/status reports the symlink as invalid" "$st" '"message": "a symbolic link, not a regular file", *"path": "models/evil.yaml"'
like "/status reports the huge file with its size" "$st" '"message": "file of 100663296 bytes, over the limit of 8388608 bytes \(not read\)", *"path": "models/zero.yaml"'

# Later syncs do not read the huge blob again: the peak RSS stays flat.
sleep 1
echo 5 > "/proc/$GPID/clear_refs"
hwm0=$(awk '/VmHWM/ { print $2 }' "/proc/$GPID/status")
clone_pull
printf 'slug: later\nname: Later\nsourceId: 5\nqueryType: raw_sql\n' > "$T/clone/models/later.yaml"
clone_push "a later change"
wait_for 20 has_id models later
hwm1=$(awk '/VmHWM/ { print $2 }' "/proc/$GPID/status")
is "a later push is applied" "$(plat_field models later name)" '"Later"'
grow=$(( (hwm1 - hwm0) / 1024 ))
if [ "$grow" -lt 48 ]; then pass "a later sync did not inflate the huge blob (peak RSS +$grow MB)"; else fail "a later sync did not inflate the huge blob (peak RSS +$grow MB)"; fi
is "the refused blob was logged once" "$(grep -c 'blob over the size limit' "$T/gitsyncd.log")" 1
unlike "nothing was applied from the symlink or the huge file" "$(plat "$PURL/api/v1/audit")" '"slug": "(evil|zero)"'
done_testing
