#!/bin/sh
# Build every libFuzzer target with clang (ASan + UBSan) and run each for a
# bounded time from its seed corpus: the checked-in files under
# tests/fuzz/corpus/<target>/ plus the fixtures named below.  Crashes found
# earlier are kept under tests/fuzz/regressions/<target>/ and replayed
# first.  Two targets run at a time.  TAP.
#
#   FUZZ_SECONDS=30 tests/fuzz/run.sh            every target
#   FUZZ_TARGETS="config profile" tests/fuzz/run.sh
#
# A target is one line of TARGETS: its name, then the seeds (relative to
# the source tree) beside its own corpus directory.
. "$top_srcdir/tests/e2e/lib.sh"

TARGETS="resource_decode:
push_github:tests/fixtures/webhooks/github-*.json
push_gitlab:tests/fixtures/webhooks/gitlab-*.json
push_bitbucket:tests/fixtures/webhooks/bitbucket-cloud-*.json
push_bitbucket_server:tests/fixtures/webhooks/bitbucket-server-*.json
push_gitea:tests/fixtures/webhooks/gitea-*.json
form:
git_signature:
stdwebhooks:
platform_event:
config:etc/gitsyncd.yaml tests/fixtures/config/*.yaml
profile:etc/profiles/*.yaml
jload:tests/fixtures/webhooks/*.json"
SOURCES="util log ytree jload config profile resource hooks job"
SECONDS_EACH=${FUZZ_SECONDS:-30}

if [ -n "${FUZZ_TARGETS:-}" ]; then
    TARGETS=$(printf '%s\n' "$TARGETS" | while IFS=: read -r name seeds; do
        case " $FUZZ_TARGETS " in *" $name "*) printf '%s:%s\n' "$name" "$seeds" ;; esac
    done)
fi
ntargets=$(printf '%s\n' "$TARGETS" | grep -c .)
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null 2>&1 || skip_all "clang not installed"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$T/probe.c"
"$CLANG" -fsanitize=fuzzer "$T/probe.c" -o "$T/probe" 2>/dev/null ||
    skip_all "clang has no libFuzzer runtime (libclang-rt-dev)"
plan $((ntargets * 2 + 1))

out=${top_builddir}/tests/fuzz
mkdir -p "$out/obj"
CFLAGS_FUZZ="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
 -DGITSYNCD_PROFILES_DIR=\"/nonexistent\" -DFUZZ_PROFILES_DIR=\"$top_srcdir/etc/profiles\"
 -I$top_srcdir/include -I$top_builddir $(pkg-config --cflags yaml-0.1 jansson yajl libevent libcrypto libpq)"
LIBS_FUZZ="$(pkg-config --libs yaml-0.1 jansson yajl libevent libcrypto libpq) -lm -lpthread"

# The product's sources once, into one archive every target links against.
objs=""
buildlog=$T/build-sources.log
for s in $SOURCES; do
    # shellcheck disable=SC2086
    "$CLANG" $CFLAGS_FUZZ -c "$top_srcdir/src/$s.c" -o "$out/obj/$s.o" >>"$buildlog" 2>&1 || break
    objs="$objs $out/obj/$s.o"
done
rm -f "$out/libfuzzsrc.a"
# shellcheck disable=SC2086
if [ "$(echo $objs | wc -w)" -eq "$(echo $SOURCES | wc -w)" ] && ar rcs "$out/libfuzzsrc.a" $objs 2>>"$buildlog"; then
    pass "the sources build for fuzzing (clang, ASan + UBSan)"
else
    fail "the sources build for fuzzing (clang, ASan + UBSan)" "$(tail -n 20 "$buildlog")"
fi

# run_target name seeds: build, replay regressions, fuzz; writes the two
# TAP lines to $T/result-<name>.
run_target() {
    name=$1 seeds=$2 res=$T/result-$name bin=$out/fuzz_$name
    # shellcheck disable=SC2086
    if ! "$CLANG" $CFLAGS_FUZZ -fsanitize=fuzzer "$top_srcdir/tests/fuzz/fuzz_$name.c" "$out/libfuzzsrc.a" \
        $LIBS_FUZZ -o "$bin" >"$T/build-$name.log" 2>&1; then
        { echo "not ok - fuzz_$name builds"; tail -n 20 "$T/build-$name.log" | sed 's/^/# /'
          echo "not ok - fuzz_$name runs clean"; } >"$res"
        return
    fi
    echo "ok - fuzz_$name builds" >"$res"
    corpus=$T/corpus-$name
    mkdir -p "$corpus"
    cp "$top_srcdir/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null
    for g in $seeds; do
        # shellcheck disable=SC2086
        cp $top_srcdir/$g "$corpus/" 2>/dev/null
    done
    regress=$top_srcdir/tests/fuzz/regressions/$name
    if [ -d "$regress" ] && [ -n "$(ls "$regress")" ] &&
        ! "$bin" "$regress"/* >"$T/regress-$name.log" 2>&1; then
        { echo "not ok - fuzz_$name runs clean"; echo "# a regression input crashes again:"
          tail -n 30 "$T/regress-$name.log" | sed 's/^/# /'; } >>"$res"
        return
    fi
    if "$bin" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$T/crash-$name-" "$corpus" \
        >"$T/fuzz-$name.log" 2>&1; then
        echo "ok - fuzz_$name runs clean for $SECONDS_EACH s ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$T/fuzz-$name.log" | cut -d' ' -f2) runs, $(ls "$corpus" | wc -l) corpus entries)" >>"$res"
    else
        crash=$(ls "$T"/crash-"$name"-* 2>/dev/null | head -n 1)
        if [ -n "$crash" ]; then
            mkdir -p "$top_builddir/tests/fuzz/crashes"
            cp "$crash" "$top_builddir/tests/fuzz/crashes/"
        fi
        { echo "not ok - fuzz_$name runs clean"
          echo "# crash input kept in $top_builddir/tests/fuzz/crashes"
          grep -A 25 'ERROR\|SUMMARY' "$T/fuzz-$name.log" | head -n 40 | sed 's/^/# /'; } >>"$res"
    fi
}

jobs=${FUZZ_JOBS:-2}
running=0
names=""
while IFS=: read -r name seeds; do
    [ -n "$name" ] || continue
    names="$names $name"
    run_target "$name" "$seeds" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done <<TARGETS_EOF
$TARGETS
TARGETS_EOF
wait
for name in $names; do
    # The plan counts two lines per target; the helpers wrote them.
    while IFS= read -r line; do
        case $line in
        "ok - "*) pass "${line#ok - }" ;;
        "not ok - "*) fail "${line#not ok - }" ;;
        *) diag "${line#\# }" ;;
        esac
    done <"$T/result-$name"
done
