#!/bin/bash
# Codec throughput: decode and encode 10,000 realistic resources with
# gitsyncd's codec and, in the same run on the same files, with PyYAML's
# libyaml C loader and dumper (yaml.CSafeLoader, yaml.CSafeDumper).
set -eu
. "$(dirname "$0")/lib.sh"
N=${BENCH_RESOURCES:-10000}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
make -C "$top_builddir" -s bench/codec-bench >/dev/null
python3 - "$T/tree" "$N" <<'PY'
import json, os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
os.makedirs(root + "/models"); os.makedirs(root + "/syncs")
cols = ["id", "email", "plan", "country", "created_at", "last_seen", "revenue", "seats"]
for i in range(n):
    if i % 2 == 0:
        lines = ["-- model %d" % i, "select"] + ["    %s," % random.choice(cols) for _ in range(random.randint(8, 30))] + \
                ["    1 as one", "  from analytics.table_%d t" % i, " where t.deleted_at is null", "   and t.plan in ('pro', 'team')"]
        doc = {"slug": "model-%d" % i, "name": "Model %d: active users" % i, "sourceId": random.randint(1, 20),
               "queryType": "raw_sql", "primaryKey": "id", "tags": {"team": random.choice(["growth", "sales", "ops"]), "pii": "yes"},
               "raw": {"sql": "\n".join(lines) + "\n"}}
        kind = "models"
    else:
        doc = {"slug": "sync-%d" % i, "model": "model-%d" % (i - 1), "destinationId": random.randint(1, 9), "disabled": False,
               "schedule": {"type": "interval", "schedule": {"interval": {"unit": "minute", "quantity": random.randint(5, 60)}}},
               "configuration": {"object": "Contact", "mode": "upsert", "mappings": [{"from": c, "to": c.title() + "__c"} for c in cols[:5]],
                                 "externalIdMapping": {"from": "email", "to": "Email"}, "batchSize": 200, "sampleRate": 0.25}}
        kind = "syncs"
    json.dump(doc, open("%s/%s/%s.yaml" % (root, kind, doc["slug"]), "w"))
PY
# JSON is YAML: gitsyncd fmt turns the files into canonical YAML in place.
GITSYNCD_PROFILE_PATH=$top_srcdir/etc/profiles "$top_builddir/gitsyncd" fmt "$T/tree" >/dev/null
ours=$("$top_builddir/bench/codec-bench" "$T/tree")
theirs=$(python3 - "$T/tree" <<'PY'
import glob, sys, time, yaml
files = [open(p).read() for p in glob.glob(sys.argv[1] + "/models/*.yaml") + glob.glob(sys.argv[1] + "/syncs/*.yaml")]
t0 = time.monotonic()
docs = [yaml.load(f, Loader=yaml.CSafeLoader) for f in files]
t1 = time.monotonic()
out = [yaml.dump(d, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False, allow_unicode=True) for d in docs]
t2 = time.monotonic()
print("files %d bytes %d decode_s %.6f encode_s %.6f" % (len(files), sum(len(f.encode()) for f in files), t1 - t0, t2 - t1))
PY
)
echo "gitsyncd: $ours"
echo "PyYAML C: $theirs"
python3 - "$ours" "$theirs" > "$T/section.md" <<'PY'
import sys
def parse(s):
    w = s.split(); return {w[i]: float(w[i + 1]) for i in range(0, len(w) - 1, 2)}
o, t = parse(sys.argv[1]), parse(sys.argv[2])
mb = o["bytes"] / 1e6
def row(name, d):
    tot = d["decode_s"] + d["encode_s"]
    return "| %s | %.0f | %.1f | %.0f | %.1f | %.3f |" % (name, d["files"] / d["decode_s"], mb / d["decode_s"],
                                                     d["files"] / d["encode_s"], mb / d["encode_s"], tot)
print("## Codec: decode and encode %d resources (%.1f MB)\n" % (o["files"], mb))
print("| codec | decode resources/s | decode MB/s | encode resources/s | encode MB/s | decode + encode, s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
print(row("gitsyncd (libyaml + jansson)", o))
print(row("PyYAML CSafeLoader/CSafeDumper", t))
r = (t["decode_s"] + t["encode_s"]) / (o["decode_s"] + o["encode_s"])
print("\ngitsyncd is %.1fx PyYAML's C path on decode + encode (target: at least 3x); all %d resources in %.3f s (target: under 1 s)." % (r, o["files"], o["decode_s"] + o["encode_s"]))
PY
printf '\nMeasured %s by `bench/codec.sh`.\n' "$(machine_line)" >> "$T/section.md"
results_section codec "$T/section.md"
cat "$T/section.md"
