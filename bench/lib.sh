# bench/lib.sh: helpers for benchmark scripts (sourced, not run).
#
# Each benchmark owns one section of bench/RESULTS.md, between the lines
# "<!-- begin NAME -->" and "<!-- end NAME -->", and rewrites only it:
#
#   results_section codec "$T/section.md"

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
RESULTS=${RESULTS:-$top_srcdir/bench/RESULTS.md}

# machine_line: one line describing where a benchmark ran.
machine_line() {
    printf '%s, %s cores, %s, %s' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        "$(. /etc/os-release && echo "$PRETTY_NAME")"
}

# results_section NAME FILE: put FILE's text in RESULTS.md as section NAME.
results_section() {
    _name=$1 _file=$2
    [ -f "$RESULTS" ] || printf '# Benchmark results\n\nWritten by `make bench` (each script rewrites its own section).\n' > "$RESULTS"
    python3 - "$RESULTS" "$_name" "$_file" <<'PY'
import sys, re
path, name, src = sys.argv[1:4]
text = open(path).read()
body = open(src).read().rstrip("\n")
block = "<!-- begin %s -->\n%s\n<!-- end %s -->" % (name, body, name)
pat = re.compile(r"<!-- begin %s -->.*?<!-- end %s -->" % (re.escape(name), re.escape(name)), re.S)
if pat.search(text):
    text = pat.sub(lambda m: block, text)
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
}

# bench_remote DIR HOOK-URL SECRET: a bare repository whose post-receive
# hook (contrib/git-hooks/post-receive) tells gitsyncd about each push.
bench_remote() {
    git init -q --bare -b main "$1"
    cp "$top_srcdir/contrib/git-hooks/post-receive" "$1/hooks/"
    git --git-dir="$1" config gitsyncd.url "$2"
    git --git-dir="$1" config gitsyncd.secret "$3"
}
