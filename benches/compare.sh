#!/usr/bin/env bash
# layerwise against the reference peers of ../shared/bench (numpy, PyTorch), run
# alternately in one session, several rounds, reported as medians and ratios.
#
#   benches/compare.sh [ROUNDS]          (default 3)
#   LAYERWISE_ISA=avx2 benches/compare.sh   both sides on AVX2 (OpenBLAS's Haswell kernels)
#
# Peers: PEERS_DIR (default ../shared/bench) and PEERS_PYTHON (default
# /tmp/peers/bin/python, see the peers' README for the venv); PyTorch is skipped when
# the venv lacks it. OpenBLAS is run without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which
# slow a current numpy (peers' README). Timings on shared machines drift: compare the
# ratios, and mind the load printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
peers=${PEERS_DIR:-../shared/bench}
py=${PEERS_PYTHON:-/tmp/peers/bin/python}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
have_torch=0
"$py" -c 'import torch' 2>/dev/null && have_torch=1
if [ "${LAYERWISE_ISA:-}" = avx2 ]; then
  # Both sides on AVX2: OpenBLAS's Haswell kernels against our AVX2 path.
  blas() { env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Haswell "$@"; }
else
  blas() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs)), $("$bin" bench --json | sed -n 's/.*"isa":"\([^"]*\)".*/\1/p')${LAYERWISE_ISA:+ (LAYERWISE_ISA=$LAYERWISE_ISA)}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

cat > "$out/sgemm.py" <<'PY'
import json, time, numpy as np
rng = np.random.default_rng(0)
b, i, h = 150, 784, 300
mats = [((b, i), (i, h), 0, 0), ((b, h), (h, i), 0, 0), ((b, h), (b, i), 1, 0),
        ((b, i), (h, i), 0, 1), ((b, i), (b, h), 1, 0)]
ops = []
for sa, sb, ta, tb in mats:
    a = rng.standard_normal(sa, dtype=np.float32); c = rng.standard_normal(sb, dtype=np.float32)
    ops.append((a.T if ta else a, c.T if tb else c))
def run():
    for a, c in ops: a @ c
for _ in range(30): run()
ts = []
for _ in range(9):
    t = time.perf_counter()
    for _ in range(50): run()
    ts.append((time.perf_counter() - t) / 50)
recipe = 5 * 2 * b * i * h / sorted(ts)[4] / 1e9
# One core on one big square product: twice this is what two cores could reach.
from threadpoolctl import threadpool_limits
n = 2048
x = rng.standard_normal((n, n), dtype=np.float32); y = rng.standard_normal((n, n), dtype=np.float32)
with threadpool_limits(1):
    x @ y
    big = []
    for _ in range(3):
        t = time.perf_counter(); x @ y; big.append(time.perf_counter() - t)
print(json.dumps({"gemm_gflops": recipe, "big_one_core_gflops": 2 * n**3 / sorted(big)[1] / 1e9}))
PY

for r in $(seq "$rounds"); do
  echo "round $r/$rounds"
  "$bin" train --cache-hidden1 --json > "$out/lw_cached_$r.json"
  "$bin" train --json > "$out/lw_uncached_$r.json"
  "$bin" bench --json > "$out/lw_bench_$r.json"
  blas "$py" "$out/sgemm.py" > "$out/blas_$r.json"
  blas "$py" "$peers/seed_numpy.py" --seed 1 --cached-sampling epoch | sed -n 's/^RESULT_JSON //p' > "$out/numpy_$r.json"
  if [ $have_torch = 1 ]; then
    "$py" "$peers/seed_torch.py" --seed 1 --threads 2 --cached-sampling epoch | sed -n 's/^RESULT_JSON //p' > "$out/torch_$r.json"
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys, os
d, n = sys.argv[1], int(sys.argv[2])
def load(name):
    return [json.load(open(f"{d}/{name}_{r}.json")) for r in range(1, n + 1) if os.path.getsize(f"{d}/{name}_{r}.json") > 0] if os.path.exists(f"{d}/{name}_1.json") else []
med = lambda xs: statistics.median(xs) if xs else float("nan")
lc, lu, lb, blas = load("lw_cached"), load("lw_uncached"), load("lw_bench"), load("blas")
rows = {}
rows["layerwise"] = dict(
    phase1=med([j["phases"][0]["seconds"] for j in lc + lu]),
    phase2_uncached=med([j["phases"][1]["seconds"] for j in lu]),
    cache_build=med([j["phases"][1]["cache"]["seconds"] for j in lc]),
    phase2_cached=med([j["phases"][1]["seconds"] for j in lc]),
    test_mse=med([j["test_mse"] for j in lc]),
)
for peer in ("numpy", "torch"):
    js = load(peer)
    if js:
        rows[peer] = dict(
            phase1=med([v for j in js for v in (j["phase1_s"], j["cachedrun_phase1_s"])]),
            phase2_uncached=med([j["phase2_uncached_s"] for j in js]),
            cache_build=med([j["cache_build_s"] for j in js]),
            phase2_cached=med([j["phase2_cached_epoch_s"] for j in js]),
            test_mse=med([j["test_mse_cached_epoch"] for j in js]),
        )
for r in rows.values():
    r["full_cached"] = r["phase1"] + r["cache_build"] + r["phase2_cached"]
ceiling_lw = med([j["gemm_gflops"] for j in lb])
ceiling_blas = med([j["gemm_gflops"] for j in blas])
ceiling = max(ceiling_lw, ceiling_blas)
print()
print(f"two-core SGEMM on the recipe's shapes: layerwise/faer {ceiling_lw:.0f} GFLOP/s, numpy/OpenBLAS {ceiling_blas:.0f} GFLOP/s")
cols = ["phase1", "phase2_uncached", "cache_build", "phase2_cached", "full_cached", "test_mse"]
print(f"{'median seconds':16}" + "".join(f"{c:>17}" for c in cols))
for name, r in rows.items():
    print(f"{name:16}" + "".join(f"{r[c]:>17.4f}" if c == "test_mse" else f"{r[c]:>17.3f}" for c in cols))
lw = rows["layerwise"]
for name, r in rows.items():
    if name != "layerwise":
        print(f"{name + ' / layerwise':16}" + "".join(f"{r[c] / lw[c]:>16.2f}x" for c in cols[:-1]))
p1 = 516 / lw["phase1"]
print()
print(f"layerwise phase 1: {p1:.0f} GFLOP/s effective = {p1 / ceiling:.2f} of the ceiling ({ceiling:.0f})")
big = med([j["big_one_core_gflops"] for j in blas])
print(f"numpy/OpenBLAS one core, 2048^3 SGEMM: {big:.0f} GFLOP/s; phase 1 = {p1 / (2 * big):.2f} of twice that")
b = med([j["cache_build_ms"] for j in lb]) / 1e3
print(f"cache build: {26.0 / b:.0f} GFLOP/s = {26.0 / b / ceiling:.2f} of the ceiling")
print(f"phase 2 step, uncached / cached: {med([j['phase2_uncached_step_ms'] / j['phase2_cached_step_ms'] for j in lb]):.2f}x "
      f"({med([j['phase2_cached_step_ms'] for j in lb]):.3f} ms vs {med([j['phase2_uncached_step_ms'] for j in lb]):.3f} ms)")
print(f"test evaluation: {med([j['test_eval_ms'] for j in lb]):.1f} ms")
PY
