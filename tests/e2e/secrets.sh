#!/bin/sh
# No secret leaves gitsyncd: with distinctive secrets (inline, from the
# environment and from a file), none appears in a log line (debug level),
# an error body, /status, /metrics, check-config or sync --once output,
# whether things go well or fail (a platform refusing the token, a Git
# remote that cannot be reached with a password in its configuration).
# Also: the state dir and mirrors are 0700, and a secret file readable by
# others is warned about.  (Every test built on synclib.sh also checks its
# own daemon log for its secrets at exit: see synclib.sh.)
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=$top_builddir/contrib/demo-platform/demo-platform
[ -x "$DEMO_PLATFORM" ] || skip_all "demo platform not built"
plan 16

TOKEN=tok-S3CRET-platform-9d41c7
WRONG_TOKEN=tok-S3CRET-wrong-11aa02
RAWKEY=pkey-S3CRET-whsec-5be0
PSECRET=whsec_$(printf '%s' "$RAWKEY" | base64)
GSECRET=gsec-S3CRET-github-77e3a1
GPASS=gpw-S3CRET-https-c0ffee42
FILE_SECRET=fsec-S3CRET-fromfile-3141
ENV_TOKEN=env-S3CRET-token-2718
SECRETS="$TOKEN $WRONG_TOKEN $RAWKEY ${PSECRET#whsec_} $GSECRET $GPASS $FILE_SECRET $ENV_TOKEN"

# secret_free NAME TEXT: no secret (nor its URL-encoded form) is in TEXT.
secret_free() {
    found=""
    for s in $SECRETS; do
        printf '%s' "$2" | grep -qF -- "$s" && found="$found $s"
    done
    if [ -z "$found" ]; then pass "$1"; else fail "$1" "leaked:$found"; fi
}

PPORT=$(free_port); GPORT=$(free_port); DEAD=$(free_port)
git init -q --bare -b main "$T/remote.git"
printf '%s\n' "$FILE_SECRET" > "$T/gsecret.txt"; chmod 600 "$T/gsecret.txt"
printf '%s\n' "$FILE_SECRET" > "$T/open-secret.txt"; chmod 644 "$T/open-secret.txt"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
log: { level: debug }
workspaces:
  - name: good
    platform: {profile: demo, url: "http://127.0.0.1:$PPORT/api/v1", token: $TOKEN, webhook_secret: $PSECRET}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $GSECRET}
    sync: {interval: 0}
  - name: refused
    platform: {profile: demo, url: "http://127.0.0.1:$PPORT/api/v1", token: $WRONG_TOKEN, webhook_secret_file: $T/gsecret.txt}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $GSECRET}
    sync: {interval: 0}
  - name: unreachable
    platform: {profile: demo, url: "http://127.0.0.1:$PPORT/api/v1", token: "\${SECRETS_ENV_TOKEN}"}
    git: {url: "http://x-access-token:$GPASS@127.0.0.1:$DEAD/o/r.git", username: x-access-token, password: $GPASS, webhook_secret_file: $T/open-secret.txt, timeout: 2s}
    sync: {interval: 0}
YAML
export SECRETS_ENV_TOKEN=$ENV_TOKEN

out=$("$GITSYNCD" check-config "$T/g.yaml" 2>&1); rc=$?
is "check-config accepts the configuration" "$rc" 0 || diag "$out"
secret_free "check-config prints no secret" "$out"
like "... it prints <redacted> in their place" "$out" '<redacted>'
like "a secret file readable by others is warned about, by name" "$out" "open-secret.txt.*(readable|mode)"

spawn "$T/p.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token "$TOKEN" --seed 3
wait_port "$PPORT" || bail "no platform"
spawn "$T/g.log" "$GITSYNCD" --allow-root --log-level debug -c "$T/g.yaml" serve
wait_port "$GPORT" || bail "no gitsyncd: $(cat "$T/g.log")"
synced() { curl -s "http://127.0.0.1:$GPORT/metrics" | grep -q '^gitsyncd_last_sync_timestamp_seconds{workspace="good"}'; }
wait_for 30 synced || bail "no sync: $(tail -n 20 "$T/g.log")"
# The other two workspaces fail their first sync: the platform refuses the
# token; the Git remote cannot be reached.
failed_both() { [ "$(curl -s "http://127.0.0.1:$GPORT/metrics" | grep -c '^gitsyncd_jobs_total{workspace="\(refused\|unreachable\)",result="error"}')" -eq 2 ]; }
wait_for 30 failed_both || diag "the failing workspaces did not fail yet: $(tail -n 5 "$T/g.log")"
bodies=""
# Error bodies of every kind of refusal.
bodies="$bodies $(curl -s -X POST -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: sha256=00' -d '{}' "http://127.0.0.1:$GPORT/hooks/good/git")"
sig=$(printf 'not json' | openssl dgst -sha256 -hmac "$GSECRET" | sed 's/^.* //')
bodies="$bodies $(curl -s -X POST -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$sig" -d 'not json' "http://127.0.0.1:$GPORT/hooks/good/git")"
bodies="$bodies $(curl -s -X POST -H 'webhook-id: m1' -H "webhook-timestamp: $(date +%s)" -H 'webhook-signature: v1,AAAA' -d '{}' "http://127.0.0.1:$GPORT/hooks/good/platform")"
bodies="$bodies $(curl -s -X POST -d '{}' "http://127.0.0.1:$GPORT/hooks/nope/git")"
like "the refusals were answered with JSON errors" "$bodies" '"error"'
secret_free "no error body holds a secret" "$bodies"

st=$(curl -s "http://127.0.0.1:$GPORT/status")
like "/status reports the failing workspaces' errors" "$st" '"last_error": ?"[^"]+'
secret_free "/status holds no secret" "$st"
m=$(curl -s "http://127.0.0.1:$GPORT/metrics")
secret_free "/metrics holds no secret" "$m"

# The daemon holds $T/state: sync --once gets a state_dir of its own.
sed "s|^state_dir: .*|state_dir: $T/state-once|" "$T/g.yaml" > "$T/g-once.yaml"
out=$("$GITSYNCD" --allow-root -c "$T/g-once.yaml" sync --once refused 2>&1); rc=$?
is "sync --once with a refused token fails (exit 1)" "$rc" 1
secret_free "... and its output holds no secret" "$out"
out=$("$GITSYNCD" --allow-root -c "$T/g-once.yaml" sync --once unreachable 2>&1)
like "sync --once names the unreachable remote, without credentials" "$out" "127.0.0.1:$DEAD/o/r.git"
secret_free "... and holds no secret" "$out"

log=$(cat "$T/g.log")
like "the daemon logged at debug level" "$log" 'level=debug'
secret_free "no daemon log line holds a secret" "$log"
perm=$(stat -c %a "$T/state" "$T/state/good.git" | tr "\n" " ")
is "the state dir and the mirror are 0700" "$perm" "700 700 "
done_testing
