#!/bin/sh
# The README's live demo, run once: both directions must work.
. "$top_srcdir/tests/e2e/lib.sh"
[ -x "$top_builddir/contrib/demo-platform/demo-platform" ] || skip_all "demo platform not built"
plan 5
DEMO_PLATFORM_PORT=$(free_port) DEMO_GITSYNCD_PORT=$(free_port)
export DEMO_PLATFORM_PORT DEMO_GITSYNCD_PORT
mkdir -p "$T/build/contrib/demo-platform"
ln -s "$top_builddir/gitsyncd" "$T/build/gitsyncd"
ln -s "$top_builddir/contrib/demo-platform/demo-platform" "$T/build/contrib/demo-platform/demo-platform"
out=$("$top_srcdir/contrib/demo.sh" "$T/build" --once 2>&1); rc=$?
is "contrib/demo.sh --once exits 0" "$rc" 0
like "a platform change arrives as a commit by its author" "$out" 'by Ada Lovelace <ada@example.com>'
like "a pushed change arrives on the platform" "$out" 'Active users \(renamed in Git\)'
like "it shows the plan of the rename before the push" "$out" 'update +model/users-1 \(.*models/users-1.yaml\): name'
like "it says where to look" "$out" 'curl http://127.0.0.1:[0-9]+/metrics'
[ "$rc" = 0 ] || diag "$out"
done_testing
