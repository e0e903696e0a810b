#!/bin/sh
# The operations files: the systemd unit passes systemd-analyze verify, the
# alert rules pass promtool check rules and promtool test rules fed with
# series the real daemon exports, and every metric that the rules and the
# dashboard use is one the daemon really has.
. "$top_srcdir/tests/e2e/lib.sh"
DEMO_PLATFORM=$top_builddir/contrib/demo-platform/demo-platform
plan 5
RULES=$top_srcdir/contrib/prometheus/gitsyncd-rules.yml
DASH=$top_srcdir/contrib/grafana/gitsyncd-dashboard.json

if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s#/usr/local/bin/gitsyncd#$GITSYNCD#" "$top_srcdir/contrib/systemd/gitsyncd.service" > "$T/gitsyncd.service"
    out=$(systemd-analyze verify --man=no "$T/gitsyncd.service" 2>&1); rc=$?
    is "systemd-analyze verify accepts the unit" "$rc:$out" "0:"
else
    skip "systemd-analyze verify accepts the unit" "systemd-analyze not installed"
fi
command -v promtool >/dev/null 2>&1 || { for i in 2 3 4 5; do skip "promtool" "not installed"; done; done_testing; exit; }
out=$(promtool check rules "$RULES" 2>&1); rc=$?
is "promtool check rules accepts the alert rules" "$rc:$(printf '%s' "$out" | grep -c 'SUCCESS: 6 rules found')" "0:1"

# The real daemon's metrics, after a sync and a refused webhook.
PPORT=$(free_port); GPORT=$(free_port)
git init -q --bare -b main "$T/remote.git"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GPORT
state_dir: $T/state
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:$PPORT/api/v1", token: tok, insecure_no_signature: true}
    git: {url: "file://$T/remote.git", webhook_secret: ops-secret}
YAML
spawn "$T/p.log" "$DEMO_PLATFORM" --listen "127.0.0.1:$PPORT" --token tok --seed 2
wait_port "$PPORT" || bail "no platform"
spawn "$T/g.log" "$GITSYNCD" --allow-root -c "$T/g.yaml" serve
wait_port "$GPORT" || bail "no gitsyncd"
synced() { curl -s "http://127.0.0.1:$GPORT/metrics" | grep -q '^gitsyncd_last_sync_timestamp_seconds{workspace="w"}'; }
wait_for 20 synced || bail "no sync: $(tail -n 5 "$T/g.log")"
curl -s -o /dev/null -X POST -H 'X-GitHub-Event: push' -d '{}' "http://127.0.0.1:$GPORT/hooks/w/git"
curl -s "http://127.0.0.1:$GPORT/metrics" > "$T/metrics"

used=$( (grep -o 'gitsyncd_[a-z_]*' "$RULES"; grep -o 'gitsyncd_[a-z_]*' "$DASH" | sed 's/_bucket$//') | sort -u)
missing=""
for m in $used; do grep -q "^# TYPE $m " "$T/metrics" || missing="$missing $m"; done
is "every metric the rules and the dashboard use is exported" "$missing" ""
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$DASH" && pass "the dashboard is valid JSON" || fail "the dashboard is valid JSON"

# promtool test rules on series named and labelled as the daemon exports
# them (checked above): a sync that stopped 40 minutes ago, and a burst of
# signature failures.
ts=$(sed -n 's/^gitsyncd_last_sync_timestamp_seconds{workspace="w"} \([0-9]*\).*/\1/p' "$T/metrics")
series401=$(grep -c '^gitsyncd_webhook_requests_total{workspace="w",source="git",code="401"}' "$T/metrics")
cat > "$T/test.yml" <<YAML
rule_files: ["$RULES"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gitsyncd_last_sync_timestamp_seconds{instance="i",workspace="w"}'
        values: '0x60'
      - series: 'gitsyncd_webhook_requests_total{instance="i",workspace="w",source="git",code="401"}'
        values: '1+1x20'
    alert_rule_test:
      - eval_time: 40m
        alertname: GitsyncdNoSuccessfulSync
        exp_alerts:
          - exp_labels: {severity: critical, instance: i, workspace: w}
            exp_annotations:
              summary: "gitsyncd: no successful sync of w for 30 minutes"
              description: "The last successful sync of workspace w was 40m 0s ago."
      - eval_time: 10m
        alertname: GitsyncdWebhookSignatureFailures
        exp_alerts:
          - exp_labels: {severity: warning, instance: i, workspace: w}
            exp_annotations:
              summary: "gitsyncd: webhooks with bad signatures for w"
              description: "10 webhook requests for workspace w were refused with 401 in 10 minutes: a secret is out of step with the Git host or platform, or someone is probing the endpoint."
YAML
diag "the daemon's last sync was at $ts; it counted $series401 series of 401s"
out=$(cd "$T" && promtool test rules test.yml 2>&1); rc=$?
is "promtool test rules: the alerts fire on the daemon's series" "$rc" 0
[ "$rc" = 0 ] || diag "$out"
done_testing
