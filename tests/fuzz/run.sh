#!/bin/sh
# Build each libFuzzer target with clang (ASan + UBSan) and run it for a
# bounded time from its checked-in seed corpus; crashes found earlier are
# kept under tests/fuzz/regressions/<target>/ and replayed first.  TAP.
#
#   FUZZ_SECONDS=60 tests/fuzz/run.sh
#
# A target is one line of TARGETS: name, then the sources it needs.
. "$top_srcdir/tests/e2e/lib.sh"

TARGETS="resource_decode:src/resource.c src/profile.c src/ytree.c src/util.c"

ntargets=$(printf '%s\n' "$TARGETS" | grep -c .)
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null 2>&1 || skip_all "clang not installed"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$T/probe.c"
"$CLANG" -fsanitize=fuzzer "$T/probe.c" -o "$T/probe" 2>/dev/null ||
    skip_all "clang has no libFuzzer runtime (libclang-rt-dev)"
plan $((ntargets * 2))

out=${top_builddir}/tests/fuzz
mkdir -p "$out"
flags=$(pkg-config --cflags --libs yaml-0.1 jansson)
printf '%s\n' "$TARGETS" | while IFS=: read -r name sources; do
    [ -n "$name" ] || continue
    bin=$out/fuzz_$name
    srcs=""
    for s in $sources; do srcs="$srcs $top_srcdir/$s"; done
    # shellcheck disable=SC2086
    if "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -DGITSYNCD_PROFILES_DIR='"/nonexistent"' -I"$top_srcdir/include" -I"$top_builddir" \
        "$top_srcdir/tests/fuzz/fuzz_$name.c" $srcs $flags -lm -o "$bin" 2>"$T/build-$name.log"; then
        pass "fuzz_$name builds"
    else
        fail "fuzz_$name builds" "$(tail -n 20 "$T/build-$name.log")"
        fail "fuzz_$name runs clean"
        continue
    fi
    corpus=$T/corpus-$name
    mkdir -p "$corpus"
    cp "$top_srcdir/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null
    regress=$top_srcdir/tests/fuzz/regressions/$name
    if [ -d "$regress" ] && ! "$bin" $(ls -d "$regress"/* 2>/dev/null) >"$T/regress-$name.log" 2>&1; then
        fail "fuzz_$name runs clean" "a regression input crashes again:" "$(tail -n 30 "$T/regress-$name.log")"
        continue
    fi
    if "$bin" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$T/crash-$name-" "$corpus" \
        >"$T/fuzz-$name.log" 2>&1; then
        pass "fuzz_$name runs clean for ${FUZZ_SECONDS:-60} s ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$T/fuzz-$name.log" | cut -d' ' -f2) runs)"
    else
        crash=$(ls "$T"/crash-"$name"-* 2>/dev/null | head -n 1)
        if [ -n "$crash" ]; then
            mkdir -p "$top_builddir/tests/fuzz/crashes"
            cp "$crash" "$top_builddir/tests/fuzz/crashes/"
        fi
        fail "fuzz_$name runs clean" "crash input kept in $top_builddir/tests/fuzz/crashes" "$(grep -A 25 'ERROR' "$T/fuzz-$name.log" | head -n 40)"
    fi
done
