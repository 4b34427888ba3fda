#!/usr/bin/env bash
# Layer-wise against end-to-end, seed by seed: the recipe (phases 1 and 2, hidden1
# cached) then phase 3, against end-to-end training of the whole stack for as many
# epochs as phases 1 and 2 together. Prints the test MSE at equal epochs (8), at equal
# seconds (end-to-end's last epoch that ended within the layer-wise run's seconds), and
# after phase 3; mean ± sd over seeds, and each seed's figures.
#
#   benches/race.sh [SEEDS]          (default 3: seeds 1 to 3)
#
# Seconds are training seconds (evaluations left out) and drift on a shared machine:
# the load is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $(seq "$seeds"); do
  "$bin" train --seed "$s" --phases 1,2,3 --cache-hidden1 --test-each-epoch --json > "$out/lw_$s.json"
  "$bin" train --seed "$s" --end-to-end --test-each-epoch --json > "$out/e2e_$s.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$seeds" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], int(sys.argv[2])
rows = {k: [] for k in ["lw12", "lw123", "e2e_epochs", "e2e_seconds", "e2e_best"]}
secs = {k: [] for k in ["lw12", "lw123", "e2e", "e2e_at"]}
print("seed  layer-wise 1+2 (s)      + phase 3 (s)        end-to-end 8 ep (s)   e2e at equal s (epoch)  e2e best (epoch)")
for s in range(1, seeds + 1):
    lw = json.load(open(f"{out}/lw_{s}.json"))
    e2e = json.load(open(f"{out}/e2e_{s}.json"))
    ep = lambda ph: [e for p in ph for e in p["epochs"]]
    lw_ep = ep(lw["phases"][:2]); p3 = ep(lw["phases"][2:]); e_ep = ep(e2e["phases"])
    t12 = lw_ep[-1]["elapsed_seconds"]
    within = [e for e in e_ep if e["elapsed_seconds"] <= t12] or e_ep[:1]
    best = min(e_ep, key=lambda e: e["test_mse"])
    r = dict(lw12=lw_ep[-1]["test_mse"], lw123=p3[-1]["test_mse"], e2e_epochs=e_ep[-1]["test_mse"],
             e2e_seconds=within[-1]["test_mse"], e2e_best=best["test_mse"])
    for k, v in r.items(): rows[k].append(v)
    t = dict(lw12=t12, lw123=p3[-1]["elapsed_seconds"], e2e=e_ep[-1]["elapsed_seconds"],
             e2e_at=within[-1]["elapsed_seconds"])
    for k, v in t.items(): secs[k].append(v)
    print(f"{s:>4}  {r['lw12']:.6f} ({t12:5.2f})    {r['lw123']:.6f} ({t['lw123']:5.2f})   "
          f"{r['e2e_epochs']:.6f} ({t['e2e']:5.2f})    {r['e2e_seconds']:.6f} ({within[-1]['epoch']})"
          f"              {r['e2e_best']:.6f} ({best['epoch']})")
def ms(v):
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.5f} ± {sd:.5f}"
def mt(v): return f"{statistics.mean(v):.2f} s"
print()
print("test MSE, mean ± sd over seeds (training seconds, mean)")
print(f"layer-wise, phases 1+2 (8 epochs)          {ms(rows['lw12'])}   ({mt(secs['lw12'])})")
print(f"layer-wise + phase 3 (12 epochs)           {ms(rows['lw123'])}   ({mt(secs['lw123'])})")
print(f"end-to-end, equal epochs (8)               {ms(rows['e2e_epochs'])}   ({mt(secs['e2e'])})")
print(f"end-to-end, equal seconds                  {ms(rows['e2e_seconds'])}   ({mt(secs['e2e_at'])})")
print(f"end-to-end, its best epoch of 8            {ms(rows['e2e_best'])}")
PY
