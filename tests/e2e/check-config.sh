#!/bin/sh
# gitsyncd check-config: the example is valid, each broken file is named
# with file:line:col and exit 2, and no secret is ever printed.
. "$top_srcdir/tests/e2e/lib.sh"
cd "$FIXTURES/config" || bail "no fixtures"
n=$(ls *.yaml | wc -l)
plan $((4 + 2 * n))

unset GITSYNCD_STATE_DIR DEMO_TOKEN DEMO_WEBHOOK_SECRET GITHUB_WEBHOOK_SECRET GITHUB_TOKEN
out=$("$GITSYNCD" check-config "$top_srcdir/etc/gitsyncd.yaml" 2>&1); rc=$?
is "the example configuration is valid" "$rc" 0
like "check-config summarises the demo workspace" "$out" 'workspace demo'

secret=e2e-secret-value-1f2e3d
cat > "$T/secret.yaml" <<YAML
workspaces:
  - name: s
    platform:
      profile: demo
      url: http://127.0.0.1:1/api/v1
      token: \${E2E_TOKEN}
      webhook_secret: whsec_$secret
    git:
      url: https://user:$secret@git.example.com/r.git
      username: user
      password: $secret
      webhook_secret: $secret
YAML
out=$(E2E_TOKEN=$secret "$GITSYNCD" check-config "$T/secret.yaml" 2>&1); rc=$?
is "a configuration full of secrets is valid" "$rc" 0
unlike "check-config prints no secret" "$out" "$secret"

for f in *.yaml; do
    expect=$(sed -n '1s/^# expect: //p' "$f")
    out=$("$GITSYNCD" check-config "$f" 2>&1); rc=$?
    is "$f exits 2" "$rc" 2
    is "$f names file:line:col" "$out" "gitsyncd: $expect"
done
done_testing
