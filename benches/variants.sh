#!/usr/bin/env bash
# The chapter's variants on the recipe's 784-300-150-300-784, each over seeds 1-3:
# test MSE against PCA-150's, train seconds, and few-label test accuracy (100 and 1,000
# labels; the encoder frozen under a softmax, and fine-tuned) of the trained encoder.
# Prints one TSV row per variant and seed, then README's table (mean ± sd).
#   benches/variants.sh [target/release/layerwise] > variants.tsv
set -euo pipefail
bin=${1:-target/release/layerwise}
# VARIANTS="sigmoid bce,tied" benches/variants.sh: only the variants named (comma-separated).
only=${VARIANTS:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lscpu | grep -E '^(Model name|CPU family|Model):' >&2
declare -a names=(plain tied "denoising gaussian:1.0" "denoising mask:0.25" "sparse l1:1e-5"
  "sigmoid" "sigmoid bce" "sparse sigmoid kl:0.1:0.2" "linear")
declare -a flags=("" "--tied-weights" "--noise gaussian:1.0" "--noise mask:0.25"
  "--sparsity l1:0.00001" "--activation sigmoid" "--activation sigmoid --loss bce"
  "--activation sigmoid --sparsity kl:0.1:0.2"
  "--activation linear --l2 0 --init glorot --learning-rate 0.001 --epochs 8")
printf 'variant\tseed\ttest_mse\tpca_mse\ttrain_s\tfrozen100\tfrozen1000\tfine100\tfine1000\n'
for i in "${!names[@]}"; do
  if [ -n "$only" ] && [[ ",$only," != *",${names[$i]},"* ]]; then continue; fi
  for seed in 1 2 3; do
    # shellcheck disable=SC2086
    "$bin" train ${flags[$i]} --seed "$seed" --save "$out/m.safetensors" --json >"$out/t.json"
    "$bin" classify --load "$out/m.safetensors" --labels 100,1000 --seeds 1 \
      --arms frozen,fine-tuned --json >"$out/c.json"
    python3 - "${names[$i]}" "$seed" "$out/t.json" "$out/c.json" <<'PY'
import json, sys
name, seed, t, c = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
acc = {(r["arm"], r["labels"]): r["test_accuracy"] for r in c["results"]}
print("\t".join([name, seed, f'{t["test_mse"]:.6f}', f'{t["pca"]["test_mse"]:.6f}',
                 f'{t["train_seconds"]:.1f}'] +
                [f'{acc[(a, n)]:.4f}' for a in ("frozen", "fine-tuned") for n in (100, 1000)]))
PY
  done
done
