#!/bin/bash
# Platform client: list 10,000 models (pages of 100) and make 1,000
# sequential updates against the demo platform, and, in the same run, the
# same requests from one curl process over one kept-alive connection.
set -eu
. "$(dirname "$0")/lib.sh"
M=${BENCH_MODELS:-10000}
U=${BENCH_UPDATES:-1000}
T=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$top_builddir/contrib/demo-platform/demo-platform" --listen "127.0.0.1:$PORT" --token tok --seed $((2 * M)) > "$T/p.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
make -C "$top_builddir" -s tests/platform-tool >/dev/null
for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
export PT_PROFILE=$top_srcdir/etc/profiles/demo.yaml PT_URL=http://127.0.0.1:$PORT/api/v1 PT_TOKEN=tok
B=http://127.0.0.1:$PORT/api/v1
# (date, not python: an interval must not include an interpreter's start)
now() { date +%s.%N; }

urls=$(python3 -c "import sys; print(' '.join('$B/models?limit=100&offset=%d' % o for o in range(0, $M, 100)))")
id=$(curl -s -H 'Authorization: Bearer tok' "$B/models?slug=users-1" | python3 -c 'import sys,json; print(json.load(sys.stdin)["data"][0]["id"])')
purls=$(python3 -c "print(' '.join(['$B/models/$id'] * $U))")
# Rounds (BENCH_ROUNDS, default 9), each side in turn; the medians are
# reported (two processes ping-ponging on two cores make single runs vary
# by 2x).
: > "$T/times"
for round in $(seq "${BENCH_ROUNDS:-9}"); do
    t0=$(now); "$top_builddir/tests/platform-tool" list model > "$T/list" 2> "$T/list.err"; t1=$(now)
    t2=$(now); curl -s -H 'Authorization: Bearer tok' $urls > /dev/null; t3=$(now)
    t4=$(now); "$top_builddir/tests/platform-tool" updates model users-1 "$U" 2> "$T/upd.err"; t5=$(now)
    t6=$(now); curl -s -X PATCH -H 'Authorization: Bearer tok' -H 'Content-Type: application/json' -d '{"name":"curl"}' $purls > /dev/null; t7=$(now)
    echo "$t0 $t1 $t2 $t3 $t4 $t5 $t6 $t7" >> "$T/times"
done
# The floor of any client that parses what it lists: the client's parser
# (jload: yajl into jansson values) alone on the same pages (fetched again,
# untimed), and jansson's own loader beside it.
curl -s -w '\n@@page@@\n' -H 'Authorization: Bearer tok' $urls > "$T/pages"
parse=$("$top_builddir/tests/platform-tool" parse "$T/pages")
jparse=$("$top_builddir/tests/platform-tool" parse "$T/pages" jansson)
python3 - "$T/times" "$(wc -l < "$T/list")" "$(tail -n 1 "$T/list.err")" "$(tail -n 1 "$T/upd.err")" "$U" "$parse" "$jparse" > "$T/section.md" <<'PY'
import sys
rounds = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
n, lst, upd, u = int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5])
pw = sys.argv[6].split(); parse_s, parse_b = float(pw[5]), int(pw[3])
jparse_s = float(sys.argv[7].split()[5])
def median(i):
    v = sorted(r[i + 1] - r[i] for r in rounds); return v[len(v) // 2]
ls, lc, us, uc = median(0), median(2), median(4), median(6)
print("## Platform client against the demo platform (median of %d rounds)\n" % len(rounds))
print("| | gitsyncd's client | one curl, one connection | ratio |")
print("| --- | ---: | ---: | ---: |")
print("| list %d models, pages of 100 (s) | %.3f | %.3f | %.2fx |" % (n, ls, lc, ls / lc))
print("| the client's parser (yajl into jansson values) on the same pages, nothing else: %.1f MB (s) | %.3f | | %.2fx |" % (parse_b / 1e6, parse_s, parse_s / lc))
print("| jansson's own loader on the same pages, nothing else (s) | %.3f | | %.2fx |" % (jparse_s, jparse_s / lc))
print("| %d sequential updates (s) | %.3f | %.3f | %.2fx |" % (u, us, uc, us / uc))
print("\nThe client made %s requests over %s connection(s) for the listing and %s requests over %s connection(s) for the updates (target: no slower than 1.2x curl, connections much fewer than requests). The client's time includes its process start and profile load."
      % (lst[1], lst[5], upd[1], upd[5]))
print("\nListing: %.2fx curl (target 1.2x: %s). curl parses nothing. The client parses each page on a second thread while it asks for the next ones (up to 4 ahead, so it may ask for a few pages beyond the end), with yajl into jansson's values (%.2fx curl's whole listing alone; jansson's own loader would take %.2fx), and keeps all %d objects; its time includes freeing them."
      % (ls / lc, "met" if ls / lc <= 1.2 else "missed", parse_s / lc, jparse_s / lc, n))
PY
printf '\nMeasured %s by `bench/platform.sh`.\n' "$(machine_line)" >> "$T/section.md"
results_section platform "$T/section.md"
cat "$T/section.md"
