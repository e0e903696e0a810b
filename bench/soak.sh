#!/bin/bash
# Soak: SOAK_SECONDS (default 600) of everything at once against one
# daemon, then check that nothing was lost.  Not part of `make check` or
# `make bench` (it takes ten minutes); run it by hand:
#
#   top_builddir=build bench/soak.sh          # writes the "soak" section
#   SOAK_SECONDS=120 bench/soak.sh            # a shorter run
#
# During the run:
#   - wrk posts signed GitHub push webhooks (for another branch, so each is
#     verified, parsed and answered 200 without queueing a job);
#   - the platform gets creates, updates and deletes of models, with
#     --fail-rate making 5% of all its answers 503 or 429;
#   - a clone pushes new and changed model files to the branch;
#   - in the first 40%, gitsyncd is killed with SIGKILL and restarted
#     every 40-80 s; after that creates and deletes balance (the data set
#     keeps its size) so that memory can be judged.
# At the end (load stopped, one settling period): the platform's models
# and the branch's files are equal, every file was added by exactly one
# commit and every deleted one removed by exactly one, every model was
# created on the platform exactly once, and the last process's anonymous
# memory between jobs (sampled each second; a sample counts when
# /metrics shows no job running or queued) and its peak of open
# descriptors grew less than 10% from a 90 s window after a 120 s warm-up
# to the last 90 s.  Exit 1 if any of that fails.
set -u
. "$(dirname "$0")/lib.sh"
SECONDS_TOTAL=${SOAK_SECONDS:-600}
command -v wrk >/dev/null || { echo "soak: wrk is needed (apt install wrk)" >&2; exit 2; }
T=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids $(cat "$T/gitsyncd.pid" 2>/dev/null); do kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in $pids $(cat "$T/gitsyncd.pid" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    [ -n "${SOAK_KEEP:-}" ] && echo "soak: kept $T" || rm -rf "$T"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
PP=$(port); GP=$(port)
TOKEN=soak-token
PSECRET=whsec_$(printf 'soak-platform-secret' | base64)
GSECRET=soak-git-secret
export GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles

"$top_builddir/contrib/demo-platform/demo-platform" --listen "127.0.0.1:$PP" --token "$TOKEN" \
    --webhook-url "http://127.0.0.1:$GP/hooks/w/platform" --webhook-secret "$PSECRET" \
    --fail-rate 0.05 --data "$T/platform.json" > "$T/p.log" 2>&1 &
pids="$pids $!"
bench_remote "$T/remote.git" "http://127.0.0.1:$GP/hooks/w/git" "$GSECRET"
cat > "$T/g.yaml" <<YAML
listen: 127.0.0.1:$GP
workers: 2
state_dir: $T/state
rate_limit: 1000000
rate_burst: 1000000
log: {level: info}
workspaces:
  - name: w
    platform: {profile: demo, url: "http://127.0.0.1:$PP/api/v1", token: $TOKEN, webhook_secret: "$PSECRET"}
    git: {url: "file://$T/remote.git", host: github, webhook_secret: $GSECRET}
    sync: {interval: 30s, max_deletes: -1}
YAML
waitport "$PP" || { echo "soak: the demo platform did not start" >&2; exit 1; }

# The webhook load: a signed push to another branch of the same repository.
body='{"ref":"refs/heads/soak-other","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222","repository":{"full_name":"remote","clone_url":"file://'$T'/remote.git"},"commits":[{"id":"2222222222222222222222222222222222222222","added":["models/x.yaml"],"modified":[],"removed":[]}]}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$GSECRET" | sed 's/^.* //')
python3 - "$body" "$sig" > "$T/wrk.lua" <<'PY'
import json, sys
body, sig = sys.argv[1], sys.argv[2]
print('wrk.method = "POST"')
print('wrk.body = %s' % json.dumps(body))
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["X-GitHub-Event"] = "push"')
print('wrk.headers["X-Hub-Signature-256"] = "sha256=%s"' % sig)
PY

# wrk starts once the driver below has started gitsyncd, and runs as long.
(sleep 3; exec wrk -t 1 -c 4 -d "$((SECONDS_TOTAL - 3))s" --latency -s "$T/wrk.lua" \
    "http://127.0.0.1:$GP/hooks/w/git" > "$T/wrk.txt" 2>&1) &
wrkpid=$!
pids="$pids $wrkpid"

python3 - "$T" "$PP" "$GP" "$SECONDS_TOTAL" "$top_builddir/gitsyncd" "$TOKEN" > "$T/report.txt" <<'PY'
import http.client, json, os, random, re, subprocess, sys, threading, time
T, pport, gport, total, gitsyncd, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
random.seed(20261125)
calm = 0.4 * total  # kill -9 restarts before this, a steady data set after
WARM = 120          # seconds after the last start before memory is judged
remote = T + "/remote.git"
clone = T + "/clone"
stop = threading.Event()
lock = threading.Lock()
log = open(T + "/driver.log", "w")
def say(*a):
    with lock:
        print("%7.1f" % (time.time() - t0), *a, file=log, flush=True)

# --- gitsyncd, restarted after SIGKILL -----------------------------------
proc = None
def start():
    global proc
    proc = subprocess.Popen([gitsyncd, "--allow-root", "-c", T + "/g.yaml", "serve"],
                            stdout=subprocess.DEVNULL, stderr=open(T + "/g.log", "a"))
    open(T + "/gitsyncd.pid", "w").write(str(proc.pid))
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", gport, timeout=1); c.request("GET", "/healthz"); c.getresponse().read(); return
        except OSError:
            time.sleep(0.1)
t0 = time.time()
start()

# --- the platform API, retrying the injected faults ------------------------
def api(method, path, body=None, actor="Soak <soak@example.com>"):
    for attempt in range(50):
        try:
            c = http.client.HTTPConnection("127.0.0.1", pport, timeout=10)
            h = {"Authorization": "Bearer " + token, "Content-Type": "application/json", "X-Actor": actor}
            c.request(method, "/api/v1" + path, json.dumps(body) if body is not None else None, h)
            r = c.getresponse(); data = r.read(); c.close()
            if r.status in (429, 503):
                time.sleep(0.05 * (attempt + 1)); continue
            return r.status, (json.loads(data) if data else None)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("platform unreachable")

def all_models():
    out, off = {}, 0
    while True:
        s, d = api("GET", "/models?limit=100&offset=%d" % off)
        for m in d["data"]:
            out[m["slug"]] = m
        if not d.get("hasMore"):
            return out
        off += 100

stats = {"p_create": 0, "p_update": 0, "p_delete": 0, "g_create": 0, "g_update": 0, "g_push_retry": 0,
         "kills": 0, "errors": 0}
p_created = {}   # slug -> time created
p_deleted = set()

def model(slug, name):
    return {"slug": slug, "name": name, "sourceId": 1, "queryType": "raw_sql",
            "raw": {"sql": "select 1"}, "primaryKey": "id", "tags": {}}

def platform_changes():
    n = 0
    while not stop.is_set():
        try:
            r = random.random()
            old = [s for s, t in p_created.items() if s not in p_deleted and time.time() - t > 60]
            # After the restarts: as many deletes as creates, so that the
            # data set keeps its size and memory can be judged flat.
            if time.time() - t0 > calm:
                # 30% creates, 40% updates, 30% deletes
                r = r / 0.3 * 0.6 if r < 0.3 else 0.6 + (r - 0.3) / 0.4 * 0.3 if r < 0.7 else 0.9 + (r - 0.7) / 0.3 * 0.1
            if r < 0.6 or not old:
                n += 1
                slug = "soak-p-%d" % n
                s, d = api("POST", "/models", model(slug, "P %d" % n))
                if s == 201:
                    p_created[slug] = time.time(); stats["p_create"] += 1
                else:
                    say("create", slug, s, d); stats["errors"] += 1
            elif r < 0.9:
                slug = random.choice(old)
                s, d = api("GET", "/models?slug=" + slug)
                if d["data"]:
                    s, d = api("PATCH", "/models/%s" % d["data"][0]["id"], {"name": "P updated %d" % random.randrange(10**6)})
                    stats["p_update"] += 1
            else:
                slug = random.choice(old)
                s, d = api("GET", "/models?slug=" + slug)
                if d["data"]:
                    s, d = api("DELETE", "/models/%s" % d["data"][0]["id"])
                    if s == 204:
                        p_deleted.add(slug); stats["p_delete"] += 1
        except Exception as e:
            say("platform thread:", repr(e)); stats["errors"] += 1
        time.sleep(0.25)

def git(*args, check=True):
    return subprocess.run(["git", "-C", clone] + list(args), capture_output=True, text=True, check=check)

def git_changes():
    subprocess.run(["git", "clone", "-q", remote, clone], check=True, capture_output=True)
    git("config", "user.name", "Soak Pusher"); git("config", "user.email", "pusher@example.com")
    n = 0
    while not stop.is_set():
        try:
            git("pull", "-q", "--rebase", "origin", "main", check=False)
            os.makedirs(clone + "/models", exist_ok=True)
            mine = [f for f in os.listdir(clone + "/models") if f.startswith("soak-g-")]
            # After the restarts only changes: new files would grow the data set.
            if mine and (time.time() - t0 >= calm or random.random() < 0.3):
                f = clone + "/models/" + random.choice(mine)
                text = open(f).read()
                text = re.sub(r"^name: .*$", "name: G updated %d" % random.randrange(10**6), text, flags=re.M)
                open(f, "w").write(text); kind = "g_update"
            else:
                n += 1
                slug = "soak-g-%d" % n
                open(clone + "/models/%s.yaml" % slug, "w").write(
                    "slug: %s\nname: G %d\nsourceId: 1\nqueryType: raw_sql\nprimaryKey: id\ntags: {}\nraw:\n  sql: select 2\n" % (slug, n))
                kind = "g_create"
            git("add", "-A"); git("commit", "-qm", "soak change %d" % n, check=False)
            for attempt in range(10):
                if git("push", "-q", "origin", "HEAD:main", check=False).returncode == 0:
                    stats[kind] += 1; break
                stats["g_push_retry"] += 1
                git("pull", "-q", "--rebase", "origin", "main", check=False)
            else:
                say("push gave up"); stats["errors"] += 1
        except Exception as e:
            say("git thread:", repr(e)); stats["errors"] += 1
        time.sleep(2)

samples = []  # (t, pid, anonymous RSS kB, fds, RSS kB, idle)
csv = open(T + "/samples.csv", "w")
def busy():
    """Jobs running or queued, from gitsyncd's own /metrics (None: no answer)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", gport, timeout=2)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        return sum(float(m) for m in re.findall(r"^gitsyncd_(?:jobs_running|queue_depth) (\S+)$", text, re.M))
    except (OSError, http.client.HTTPException, ValueError):
        return None
def sampler():
    while not stop.is_set():
        try:
            pid = proc.pid
            b0 = busy()
            st = open("/proc/%d/status" % pid).read()
            fds = len(os.listdir("/proc/%d/fd" % pid))
            b1 = busy()
            anon = int(re.search(r"RssAnon:\s+(\d+)", st).group(1))
            rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
            # Idle: no job running or queued just before and just after.
            idle = b0 == 0 and b1 == 0 and proc.pid == pid
            samples.append((time.time() - t0, pid, anon, fds, rss, idle))
            print("%.1f,%d,%d,%d,%d,%d" % samples[-1], file=csv, flush=True)
        except (OSError, AttributeError):
            pass
        time.sleep(1)

threads = [threading.Thread(target=f, daemon=True) for f in (platform_changes, git_changes, sampler)]
for th in threads:
    th.start()
next_kill = random.uniform(40, 80)
while time.time() - t0 < total:
    time.sleep(1)
    el = time.time() - t0
    if el >= next_kill and el < calm:
        proc.kill(); proc.wait(); stats["kills"] += 1
        say("kill -9 gitsyncd (%d)" % stats["kills"])
        time.sleep(random.uniform(0.2, 2))
        start()
        next_kill = el + random.uniform(40, 80)
    if proc.poll() is not None:
        say("gitsyncd exited by itself: %s" % proc.returncode); stats["errors"] += 1; start()
stop.set()
for th in threads:
    th.join(timeout=60)
say("load stopped", stats)

# --- settle: the periodic reconcile (30 s) heals anything missed -----------
def branch_models():
    out = {}
    ls = subprocess.run(["git", "--git-dir", remote, "ls-tree", "--name-only", "main", "models/"],
                        capture_output=True, text=True).stdout.split()
    for path in ls:
        text = subprocess.run(["git", "--git-dir", remote, "show", "main:" + path], capture_output=True, text=True).stdout
        m = re.search(r"^name: (.*)$", text, re.M)
        out[path[len("models/"):-len(".yaml")]] = m.group(1).strip().strip("'\"") if m else None
    return out
deadline = time.time() + 150
while True:
    plat = {s: m["name"] for s, m in all_models().items()}
    br = branch_models()
    if plat == br or time.time() > deadline:
        break
    time.sleep(3)
settle = time.time() - t0 - total
equal = plat == br
diff = sorted(set(plat.items()) ^ set(br.items()))[:10]

# --- history: every file added once, every deletion once -------------------
def counts(flt):
    out = subprocess.run(["git", "--git-dir", remote, "log", "--format=", "--name-only", "--diff-filter=" + flt, "main", "--", "models"],
                         capture_output=True, text=True).stdout.split()
    c = {}
    for p in out:
        c[p] = c.get(p, 0) + 1
    return c
added, removed = counts("A"), counts("D")
added_twice = sorted(p for p, n in added.items() if n != 1)
removed_twice = sorted(p for p, n in removed.items() if n != 1)
ever = set(p[len("models/"):-len(".yaml")] for p in added)
lost = sorted(s for s in p_created if s not in ever)
# every model created on the platform once (audit log)
created = {}
after = 0
while True:
    s, d = api("GET", "/audit?after=%d" % after)
    if not d["data"]:
        break
    for e in d["data"]:
        after = max(after, e["seq"])
        if e["kind"] == "model" and e["action"] == "created":
            created[e["slug"]] = created.get(e["slug"], 0) + 1
created_twice = sorted(s for s, n in created.items() if n != 1)
commits = int(subprocess.run(["git", "--git-dir", remote, "rev-list", "--count", "main"], capture_output=True, text=True).stdout)

# --- flatness of the last process (no restarts after `calm`) --------------
# A job holds a whole listing and tree while it runs (and a repack the
# whole history), so a sample taken during one shows that job, not what
# the daemon keeps.  What it keeps is read between jobs: the median of the
# samples taken while /metrics showed no job running or queued, in a 90 s
# window WARM s after the last start and in the last 90 s.  (A new process
# fills what it keeps for a few minutes: the dedup table of 10,000
# delivery ids, connection caches, the allocator's arenas sized by its
# largest job; runs with a 60 s warm-up saw that filling as growth.)
# Descriptors: the highest count of any sample in the same windows.
last_pid = samples[-1][1] if samples else None
mine = [s for s in samples if s[1] == last_pid]
start_t = mine[0][0] if mine else 0
first = [s for s in mine if start_t + WARM <= s[0] < start_t + WARM + 90]
last = [s for s in mine if s[0] >= mine[-1][0] - 90] if mine else []
def median(v):
    v = sorted(v); return v[len(v) // 2] if v else 0
idle0 = [s for s in first if s[5]]; idle1 = [s for s in last if s[5]]
if idle0 and idle1 and last[0][0] >= first[-1][0]:
    rss0 = median(s[2] for s in idle0); rss1 = median(s[2] for s in idle1)
    fd0 = max(s[3] for s in first); fd1 = max(s[3] for s in last)
    vm0 = median(s[4] for s in idle0); vm1 = median(s[4] for s in idle1)
    rss_growth = rss1 / rss0 - 1; fd_growth = fd1 / fd0 - 1
    span = last[-1][0] - first[0][0]
else:
    rss0 = rss1 = fd0 = fd1 = vm0 = vm1 = 0; rss_growth = fd_growth = 0; span = 0
# For comparison, the lowest sample of each window, idle or not.
floor0 = min((s[2] for s in first), default=0); floor1 = min((s[2] for s in last), default=0)
flat = span > 0 and rss_growth < 0.10 and fd_growth < 0.10
peak = max((s[2] for s in mine), default=0)
proc.terminate()
proc.wait()
logsize = os.path.getsize(T + "/g.log")

ok = equal and not added_twice and not removed_twice and not lost and not created_twice and flat
print(json.dumps({
    "ok": ok, "seconds": total, "settle_seconds": round(settle, 1), "stats": stats, "commits": commits,
    "platform_models": len(plat), "branch_models": len(br), "equal": equal, "diff": diff,
    "added_twice": added_twice, "removed_twice": removed_twice, "lost": lost, "created_twice": created_twice,
    "files_added": len(added), "files_removed": len(removed),
    "rss_kb": [round(rss0), round(rss1)], "rss_growth": round(rss_growth, 4), "vmrss_kb": [round(vm0), round(vm1)], "anon_peak_kb": peak,
    "idle_samples": [len(idle0), len(idle1)], "warm_seconds": WARM, "window_samples": [len(first), len(last)], "anon_floor_kb": [floor0, floor1],
    "fds": [round(fd0, 1), round(fd1, 1)], "fd_growth": round(fd_growth, 4), "flat_span_seconds": round(span),
    "samples": len(samples), "log_bytes": logsize}))
PY
rc=$?
wait "$wrkpid"
[ $rc -eq 0 ] || { echo "soak: the driver failed:" >&2; tail -n 30 "$T/driver.log" >&2; exit 1; }
python3 - "$T/report.txt" "$T/wrk.txt" "$(machine_line)" > "$T/section.md" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
w = open(sys.argv[2]).read()
def grab(pat, default="?"):
    m = re.search(pat, w)
    return m.group(1) if m else default
st = r["stats"]
yes = lambda b: "yes" if b else "**NO**"
print("## Soak (`bench/soak.sh`, not in CI)")
print()
print("%s. %d s of everything at once against one daemon, then %.0f s to settle." % (sys.argv[3], r["seconds"], r["settle_seconds"]))
print()
print("| Load during the run | |")
print("|---|---|")
print("| webhooks (wrk, 4 connections, signed pushes to another branch) | %s requests, %s req/s, p99 %s; non-2xx %s; socket errors %s |" % (
    grab(r"(\d+) requests in"), grab(r"Requests/sec:\s+([\d.]+)"), grab(r"99%\s+(\S+)"),
    grab(r"Non-2xx or 3xx responses: (\d+)", "0"), grab(r"Socket errors: (.*)", "none")))
print("| platform changes (5%% of answers 503/429) | %d creates, %d updates, %d deletes |" % (st["p_create"], st["p_update"], st["p_delete"]))
print("| pushes to the branch | %d new files, %d changed files (%d pushes retried after a race) |" % (st["g_create"], st["g_update"], st["g_push_retry"]))
print("| `kill -9` of gitsyncd, restarted | %d (first 40%% of the run) |" % st["kills"])
print()
print("| Check at the end | Result |")
print("|---|---|")
print("| platform and branch hold the same models (slug and name) | %s (%d and %d) |" % (yes(r["equal"]), r["platform_models"], r["branch_models"]))
print("| every file added by exactly one commit | %s (%d files; twice: %s) |" % (yes(not r["added_twice"]), r["files_added"], r["added_twice"] or "none"))
print("| every deleted file removed by exactly one commit | %s (%d) |" % (yes(not r["removed_twice"]), r["files_removed"]))
print("| every platform create reached the branch | %s (lost: %s) |" % (yes(not r["lost"]), r["lost"] or "none"))
print("| every model created on the platform exactly once (audit log) | %s |" % yes(not r["created_twice"]))
print("| last process (no restarts): anonymous memory (RssAnon) between jobs, median of the samples with no job running or queued (%d and %d of %d and %d), 90 s window after a %d s warm-up vs the last 90 s (%d s span) | %d -> %d kB (%+.1f%%): %s |" % (r["idle_samples"][0], r["idle_samples"][1], r["window_samples"][0], r["window_samples"][1], r["warm_seconds"], r["flat_span_seconds"], r["rss_kb"][0], r["rss_kb"][1], 100 * r["rss_growth"], yes(r["rss_growth"] < 0.10)))
print("| open descriptors, highest in the same two windows | %.0f -> %.0f (%+.1f%%): %s |" % (r["fds"][0], r["fds"][1], 100 * r["fd_growth"], yes(r["fd_growth"] < 0.10)))
print("| VmRSS between jobs (includes mapped pack files), same windows; lowest RssAnon of any sample, same windows; highest RssAnon while jobs ran | %d -> %d kB; %d -> %d kB; %d kB |" % (r["vmrss_kb"][0], r["vmrss_kb"][1], r["anon_floor_kb"][0], r["anon_floor_kb"][1], r["anon_peak_kb"]))
print()
print("wrk's socket errors come from the `kill -9` restarts: while gitsyncd is down, each of its connections fails and is retried at once (without restarts, the same load gives none).")
print()
print("Commits on the branch: %d. gitsyncd's log: %.1f MB. Driver errors: %d. Verdict: %s." % (
    r["commits"], r["log_bytes"] / 1e6, st["errors"], "**nothing lost, flat**" if r["ok"] else "**FAILED**"))
PY
cat "$T/section.md"
if [ "${SOAK_SECONDS:-600}" -ge 600 ] || [ -n "${SOAK_WRITE:-}" ]; then
    results_section soak "$T/section.md"
fi
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["ok"] else 1)' "$T/report.txt"
