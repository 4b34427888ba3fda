#!/usr/bin/env bash
# Times the code-space maps with the release binary on a trained model: PCA of the
# 10,000 test codes (and of hidden1 and the pixels), median of N runs, and one full
# t-SNE (1000 iterations) of the codes; prints the load average before and after,
# since on a shared machine the numbers move with it.
# Usage: benches/maps.sh [N]   (default 9)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-9}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" train --cache-hidden1 --save "$tmp/m.safetensors" >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for layer in code hidden1 pixels; do
  for _ in $(seq "$n"); do
    "$bin" map --load "$tmp/m.safetensors" --layer "$layer" --out "$tmp/map.csv" |
      sed -E 's/.*pca ([0-9.]+) s.*/\1/'
  done | median | awk -v l="$layer" '{printf "PCA of the %s: %.1f ms (median)\n", l, $1 * 1000}'
done
"$bin" map --load "$tmp/m.safetensors" --method tsne --out "$tmp/tsne.csv" |
  sed -E 's/.*(same digit for [0-9.]+%).*tsne ([0-9.]+) s.*/t-SNE of the codes: \2 s (\1)/'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
