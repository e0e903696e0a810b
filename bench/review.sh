#!/bin/bash
# Pull request checks: time from the request webhook reaching gitsyncd to
# the commit status posted on the Git host (p50/p99), for a request that
# changes BENCH_CHANGED files of a repository of BENCH_RESOURCES resources
# (demo platform, the repository over smart HTTP from the test Git host
# tests/e2e/forge-server.py, Gitea's API shapes).
set -eu
. "$(dirname "$0")/lib.sh"
N=${BENCH_CHECKS:-20}
BIG=${BENCH_RESOURCES:-10000}
CHANGED=${BENCH_CHANGED:-20}
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for i in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
PP=$(port); GP=$(port); SP=$(port)
SECRET=bench-git-secret
TOKEN=bench-api-token
export GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles

"$top_builddir/contrib/demo-platform/demo-platform" --listen "127.0.0.1:$PP" --token tok --seed "$BIG" > "$T/p.log" 2>&1 &
pids="$pids $!"
mkdir -p "$T/git/acme"
git init -q --bare -b main "$T/git/acme/cfg.git"
git --git-dir="$T/git/acme/cfg.git" config http.receivepack true
python3 "$top_srcdir/tests/e2e/forge-server.py" --port "$SP" --token "$TOKEN" --git-root "$T/git" > "$T/s.log" 2>&1 &
pids="$pids $!"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GP
workers: 2
state_dir: $T/state
log: {level: warn}
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:$PP/api/v1", token: tok}
    git:
      url: "http://127.0.0.1:$SP/acme/cfg.git"
      host: gitea
      webhook_secret: $SECRET
      api: {url: "http://127.0.0.1:$SP/gitea/api/v1", token: $TOKEN}
    sync: {interval: 0, max_deletes: 100000}
YAML
waitport "$PP"; waitport "$SP"
"$top_builddir/gitsyncd" --allow-root -c "$T/g.yaml" sync --once w > "$T/import.out" 2>&1
"$top_builddir/gitsyncd" --allow-root -c "$T/g.yaml" serve 2> "$T/g.log" &
pids="$pids $!"
waitport "$GP"
git clone -q "$T/git/acme/cfg.git" "$T/clone"
git -C "$T/clone" config user.name Bench; git -C "$T/clone" config user.email bench@example.com
files=$(git -C "$T/clone" ls-files | wc -l)

python3 - "$T" "$GP" "$SP" "$N" "$CHANGED" "$SECRET" "$top_srcdir" > "$T/latency.json" <<'PY'
import hashlib, hmac, json, subprocess, sys, time, urllib.request
T, gp, sp, n, changed, secret, top = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
clone = T + "/clone"
models = sorted(subprocess.run(["git", "-C", clone, "ls-files", "models/"], capture_output=True, text=True).stdout.split())[:changed]
base = json.load(open(top + "/tests/fixtures/webhooks/gitea-pull-request-opened.json"))
def state():
    return json.load(urllib.request.urlopen("http://127.0.0.1:%s/_control/state" % sp))
times = []
for i in range(n):
    for m in models:
        p = clone + "/" + m
        lines = open(p).read().splitlines()
        lines = [("name: Bench %d" % i) if l.startswith("name:") else l for l in lines]
        open(p, "w").write("\n".join(lines) + "\n")
    subprocess.run(["git", "-C", clone, "commit", "-qam", "round %d" % i], check=True)
    sha = subprocess.run(["git", "-C", clone, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "-C", clone, "push", "-qf", T + "/git/acme/cfg.git", "HEAD:refs/pull/1/head"], check=True)
    d = dict(base)
    d["action"] = "synchronized"
    d["number"] = 1
    d["pull_request"] = dict(base["pull_request"], head=dict(base["pull_request"]["head"], sha=sha),
                             base=dict(base["pull_request"]["base"], ref="main"))
    d["repository"] = dict(base["repository"], full_name="acme/cfg")
    body = json.dumps(d).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    req = urllib.request.Request("http://127.0.0.1:%s/hooks/w/git" % gp, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Gitea-Event": "pull_request",
                                          "X-Gitea-Signature": sig, "X-Gitea-Delivery": "bench-%d" % i})
    t0 = time.monotonic()
    urllib.request.urlopen(req).read()
    while not any(s["sha"] == sha for s in state()["statuses"]):
        time.sleep(0.005)
    times.append(time.monotonic() - t0)
st = [s for s in state()["statuses"] if s["host"] == "gitea"]
times.sort()
pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(json.dumps({"n": n, "p50": pct(50), "p99": pct(99), "last": st[-1]["description"], "state": st[-1]["state"]}))
PY
python3 - "$(cat "$T/latency.json")" "$files" "$CHANGED" > "$T/section.md" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); files = int(sys.argv[2]); changed = int(sys.argv[3])
ms = lambda s: "%.0f" % (s * 1000)
print("## Pull request checks: webhook -> commit status posted\n")
print("| request | checks | p50 ms | p99 ms |")
print("| --- | ---: | ---: | ---: |")
print("| %d files changed in a repository of %d resources | %d | %s | %s |" % (changed, files, d["n"], ms(d["p50"]), ms(d["p99"])))
print("\nThe last status: %s, \"%s\". Each check fetches the request's head over smart HTTP (git http-backend behind a Python server), lists the platform, plans, posts the status and then the comment." % (d["state"], d["last"]))
print("\nTarget: under 1 s for a 20-file request on a 10,000-resource repository.")
PY
printf '\nMeasured %s by `bench/review.sh`.\n' "$(machine_line)" >> "$T/section.md"
results_section review "$T/section.md"
cat "$T/section.md"
