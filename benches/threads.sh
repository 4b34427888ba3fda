#!/usr/bin/env bash
# How training scales with the number of threads: the cached recipe and `layerwise
# bench` at RAYON_NUM_THREADS = 1, 2, 4, ... up to the cores of this machine (or the
# list given), alternately, several rounds; medians, speed-up over one thread, and a
# check that every thread count gives the same test MSE to the bit.
#
#   benches/threads.sh [ROUNDS] [THREADS...]     (default 3 rounds; 1 2 4 8 12 16 up to nproc)
#
# Needs only the release binary (built if missing) and python3: it is meant to be
# carried to a many-core machine and run there in one go.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
bin=${LAYERWISE_BIN:-target/release/layerwise}
[ -x "$bin" ] || cargo build --release
cores=$(nproc)
if [ $# -gt 0 ]; then
  counts="$*"
else
  counts=""
  for t in 1 2 4 8 12 16 24 32; do
    if [ "$t" -le "$cores" ]; then counts="$counts $t"; fi
  done
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $("$bin" bench --json | sed -n 's/.*"isa":"\([^"]*\)".*/\1/p')"
echo "threads: $counts; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for t in $counts; do
    RAYON_NUM_THREADS=$t "$bin" train --cache-hidden1 --json > "$out/train_${t}_$r.json"
    RAYON_NUM_THREADS=$t "$bin" bench --json > "$out/bench_${t}_$r.json"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$rounds" $counts <<'PY'
import json, statistics, sys
d, n, counts = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3:]]
med = statistics.median
rows, mses = {}, set()
for t in counts:
    tr = [json.load(open(f"{d}/train_{t}_{r}.json")) for r in range(1, n + 1)]
    be = [json.load(open(f"{d}/bench_{t}_{r}.json")) for r in range(1, n + 1)]
    mses.update(j["test_mse"] for j in tr)
    p1 = med([j["phases"][0]["seconds"] for j in tr])
    full = med([j["phases"][0]["seconds"] + j["phases"][1]["cache"]["seconds"] + j["phases"][1]["seconds"] for j in tr])
    rows[t] = dict(p1=p1, full=full, step1=med([j["phase1_step_ms"] for j in be]),
                   step2=med([j["phase2_cached_step_ms"] for j in be]),
                   gemm=med([j["gemm_gflops"] for j in be]), ev=med([j["test_eval_ms"] for j in be]))
base = rows[counts[0]]
print(f"\nmedians of {n} rounds; speed-up against {counts[0]} thread(s)")
print(f"{'threads':>7} {'phase 1 s':>10} {'x':>6} {'full cached s':>14} {'x':>6} {'eff.':>5} "
      f"{'p1 step ms':>11} {'p2c step ms':>12} {'GEMM GF/s':>10} {'eval ms':>8}")
for t, r in rows.items():
    s = base["full"] / r["full"]
    print(f"{t:>7} {r['p1']:>10.3f} {base['p1'] / r['p1']:>5.2f}x {r['full']:>14.3f} {s:>5.2f}x "
          f"{s * counts[0] / t:>5.2f} {r['step1']:>11.3f} {r['step2']:>12.3f} {r['gemm']:>10.0f} {r['ev']:>8.1f}")
print("test MSE the same bits on every thread count:", "yes" if len(mses) == 1 else f"NO: {sorted(mses)}")
sys.exit(0 if len(mses) == 1 else 1)
PY
