#!/bin/sh
# contrib/quickstart.sh: the README's two commands.
#
#   contrib/quickstart.sh demo   install what is needed, build, run the live demo
#                                (demo --pull-request: gitsyncd with git.write
#                                pull_request against the test Git host;
#                                demo --once: run the scenario and exit)
#   contrib/quickstart.sh test   install what is needed, build with -Werror and
#                                ASan+UBSan, run the whole test suite
#   contrib/quickstart.sh setup  only install the packages
#
# Runs as root on Debian 12 (it calls apt-get for missing packages); as
# another user it only checks and says what is missing.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)

# Everything the build, the tests, the benchmarks and the demo use.
PACKAGES="build-essential autoconf automake pkg-config git curl ca-certificates
libevent-dev libgit2-dev libyaml-dev libcurl4-openssl-dev libjansson-dev libyajl-dev
libssl-dev libcmocka-dev python3 python3-yaml man-db groff-base lighttpd
openssh-server openssh-client prometheus wrk webhook nginx-light valgrind clang
libclang-rt-14-dev procps iproute2 openssl systemd time
debhelper dh-autoreconf dpkg-dev lintian postgresql libpq-dev haproxy"

say() { printf 'quickstart: %s\n' "$*" >&2; }

missing_packages() {
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q 'install ok installed' || printf '%s ' "$p"
    done
}

install_packages() {
    missing=$(missing_packages)
    if ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        say "missing Debian packages: $missing"
        say "run this as root, or: apt-get install $missing"
        exit 2
    fi
    say "installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
    # Package scripts may start services we only use as programs.
    for s in nginx lighttpd prometheus ssh; do
        service "$s" stop >/dev/null 2>&1 || true
    done
}

# json-server (npm) is the third-party REST peer of the tests; Stoplight
# Prism (npm) judges the hightouch profile's requests by Hightouch's
# OpenAPI description (5.14.2: later versions need node 24), and GitHub's
# calls by GitHub's own description (@octokit/openapi).
NODE_TOOLS="json-server@0.17.4 @stoplight/prism-cli@5.14.2 @octokit/openapi@23.0.2"
install_node_tools() {
    node_dir=$1/node
    if [ ! -x "$node_dir/node_modules/.bin/json-server" ] ||
       [ ! -x "$node_dir/node_modules/.bin/prism" ] ||
       [ ! -f "$node_dir/node_modules/@octokit/openapi/generated/api.github.com.json" ]; then
        say "installing $NODE_TOOLS from npm into $node_dir"
        mkdir -p "$node_dir"
        # shellcheck disable=SC2086
        npm install --silent --no-audit --no-fund --prefix "$node_dir" $NODE_TOOLS >&2
    fi
}

# build DIR CONFIGURE-FLAGS...: an out-of-tree build in DIR.
build() {
    bdir=$1; shift
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        say "generating configure"
        ./autogen.sh >/dev/null 2>&1 || ./autogen.sh
    fi
    mkdir -p "$bdir"
    if [ ! -f "$bdir/config.status" ] ||
       [ "$(cat "$bdir/.flags" 2>/dev/null)" != "$*" ]; then
        (cd "$bdir" && "$top/configure" "$@" >/dev/null) || {
            say "configure failed: see $bdir/config.log"; return 1; }
        printf '%s' "$*" > "$bdir/.flags"
    fi
    make -C "$bdir" -j"$(nproc)" >/dev/null || make -C "$bdir"
}

run_tests() {
    dir=$top/build-test
    out=$dir/check-output.txt
    status=0
    install_node_tools "$dir"
    export PATH="$dir/node/node_modules/.bin:$PATH"
    if ! build "$dir" --enable-werror --enable-sanitizers; then
        echo "0 passed, 1 failed"
        exit 1
    fi
    say "running the test suite (logs in $dir)"
    # ASan: report leaks and stop on the first error; UBSan: print stacks.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export ASAN_OPTIONS UBSAN_OPTIONS
    make -C "$dir" -j"$(nproc)" check >"$out" 2>&1 || status=$?
    report "$dir" "$out"
    pass=$r_pass failed=$r_failed
    # valgrind and ASan do not mix: the daemon's valgrind run is made from a
    # plain build of its own.
    vdir=$top/build-valgrind
    vout=$vdir/check-output.txt
    if build "$vdir" --enable-werror CFLAGS="-g -O1"; then
        say "running the daemon under valgrind (logs in $vdir)"
        make -C "$vdir" check TESTS='tests/e2e/valgrind.sh tests/e2e/valgrind-cluster.sh' >"$vout" 2>&1 || status=$?
        report "$vdir" "$vout"
        pass=$((pass + r_pass)) failed=$((failed + r_failed))
    else
        failed=$((failed + 1)) status=1
    fi
    echo "$pass passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
}

# report DIR OUTPUT: show what did not pass in a make check run and set
# r_pass and r_failed from automake's summary (a missing summary is a
# failure).
report() {
    grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP|XFAIL):' "$2" | grep -v '^PASS' || true
    # Show the logs of whatever failed, so a red run explains itself.
    for log in $(grep -lE '^(FAIL|ERROR|XPASS):' $(find "$1/tests" -name '*.log') 2>/dev/null); do
        echo "---- $log (last 40 lines)"
        tail -n 40 "$log"
    done
    sed -n '/^# TOTAL:/,/^# ERROR:/p' "$2"
    r_pass=$(sed -n 's/^# PASS: *//p' "$2" | tail -n 1)
    nfail=$(sed -n 's/^# FAIL: *//p' "$2" | tail -n 1)
    nerror=$(sed -n 's/^# ERROR: *//p' "$2" | tail -n 1)
    nxpass=$(sed -n 's/^# XPASS: *//p' "$2" | tail -n 1)
    if [ -z "$r_pass" ]; then
        tail -n 60 "$2"
        r_pass=0 r_failed=1
        return
    fi
    r_failed=$(( ${nfail:-0} + ${nerror:-0} + ${nxpass:-0} ))
}

run_demo() {
    build "$top/build"
    exec "$top/contrib/demo.sh" "$top/build" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
setup) install_packages ;;
test) install_packages; run_tests ;;
demo) install_packages; run_demo "$@" ;;
*)
    echo "usage: contrib/quickstart.sh demo [--once] [--pull-request] | test | setup" >&2
    exit 2
    ;;
esac
