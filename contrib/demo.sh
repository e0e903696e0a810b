#!/bin/sh
# contrib/demo.sh BUILDDIR: the live demo started by `contrib/quickstart.sh demo`.
# Until the two-way sync lands this runs the daemon on the example
# configuration (etc/gitsyncd.yaml) with throwaway secrets.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
state=$build/demo-state
mkdir -p "$state"
chmod 700 "$state"
export GITSYNCD_STATE_DIR="$state"
export DEMO_TOKEN=demo-token
export DEMO_WEBHOOK_SECRET=whsec_ZGVtby13ZWJob29rLXNlY3JldC0xMjM0NTY=
export GITHUB_WEBHOOK_SECRET=demo-github-secret
export GITHUB_TOKEN=demo-github-token
echo "demo: gitsyncd serving $top/etc/gitsyncd.yaml; Ctrl-C to stop" >&2
exec "$build/gitsyncd" -c "$top/etc/gitsyncd.yaml" serve
