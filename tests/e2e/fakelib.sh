# tests/e2e/fakelib.sh: the set-up of synclib.sh with the scriptable fake
# platform (tests/e2e/fake-platform.py) in place of the demo platform, for
# platform misbehaviour the demo platform cannot produce.  Source after
# lib.sh and synclib.sh.
#
#   fake_write PY         -> change the platform's data: PY is Python that
#                            edits `d` (the data file's JSON), written back
#                            atomically; e.g. fake_write 'd["models"].append(...)'
#   fake_setup [policy] [max-deletes]
#                         -> sync_setup over the fake platform (no change
#                            events: a push or a restart makes a sync)
#   fake_writes           -> the platform's log of writes, one JSON per line
#   syncs_done            -> how many syncs gitsyncd has finished (done or failed)
#   wait_syncs N          -> wait until N syncs are done

FAKE_PLATFORM="$top_srcdir/tests/e2e/fake-platform.py"

fake_write() {
    python3 - "$T/platform.json" "$1" <<'PY'
import json, os, sys
path, code = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except FileNotFoundError:
    d = {}
for k in ("models", "syncs", "audit", "writes"):
    d.setdefault(k, [])
exec(code)
json.dump(d, open(path + ".new", "w"))
os.replace(path + ".new", path)
PY
}

# Replaces synclib.sh's: the fake platform on the same port and data file.
start_platform() {
    [ -f "$T/platform.json" ] || fake_write 'pass'
    spawn "$T/platform.log" python3 "$FAKE_PLATFORM" --listen "127.0.0.1:$PPORT" \
        --token "$PTOKEN" --data "$T/platform.json"
    PPID_=$!
    wait_port "$PPORT" 10 || bail "the fake platform did not start: $(cat "$T/platform.log")"
}

fake_setup() {
    sync_setup "${1:-platform}" "${2:-10}" 0 off
}

fake_writes() {
    python3 -c 'import json,sys; [print(json.dumps(w)) for w in json.load(open(sys.argv[1]))["writes"]]' \
        "$T/platform.json"
}

syncs_done() {
    grep -cE 'msg="sync (done|failed)"' "$T/gitsyncd.log" 2>/dev/null || echo 0
}

wait_syncs() {
    wait_for "${2:-30}" sh -c "[ \$(grep -cE 'msg=\"sync (done|failed)\"' '$T/gitsyncd.log') -ge $1 ]"
}
