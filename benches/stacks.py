#!/usr/bin/env python3
"""The README's stack tables: squared error per test image (MSE x 784), mean +- sd over
seeds, and training seconds, for PCA, layer-wise, layer-wise + fine-tune, and end-to-end
at equal epochs and at equal seconds; for the 2006 paper's 784-1000-500-250-30 stack
(preset hinton2006, and the recipe's settings on it) and for the recipe's 150-wide code.

    benches/stacks.py [--seeds 1,2,3] [--only deep|wide] [--cache] [--raw DIR] > table.md

The layer-wise runs recompute each phase's input (as the README's table); `--cache`
trains phases k >= 2 from their caches instead (same numbers, fewer seconds). `--raw`
keeps every run's JSON.

Drives a release binary ($LAYERWISE_BIN, else target/release/layerwise); standard
library only. Runs take ~25 min on 2 cores (deep stack ~8 min a seed)."""

import argparse, json, os, statistics, subprocess, sys

BIN = os.environ.get("LAYERWISE_BIN", "target/release/layerwise")


RAW = None
CACHE = []


def train(*args):
    out = subprocess.run([BIN, "train", "--json", *args], check=True,
                         capture_output=True, text=True).stdout
    if RAW:
        name = "_".join(a.strip("-").replace(",", "+") for a in args) or "recipe"
        with open(os.path.join(RAW, name + ".json"), "w") as f:
            f.write(out)
    return json.loads(out)


def per_image(mse):
    return mse * 784


def at_epochs(run, n):
    """Test MSE and seconds after the first n end-to-end epochs."""
    eps = run["phases"][0]["epochs"]
    e = eps[n - 1]
    return e["test_mse"], e["elapsed_seconds"]


def at_seconds(run, budget):
    """Test MSE after the last end-to-end epoch that ended within `budget` seconds."""
    eps = run["phases"][0]["epochs"]
    within = [e for e in eps if e["elapsed_seconds"] <= budget] or eps[:1]
    e = within[-1]
    return e["test_mse"], e["elapsed_seconds"], len(within)


def stack(name, base, layerwise, finetune, e2e_epochs_flag, total_epochs, seeds, extra_rows):
    rows = {}
    def add(row, mse, secs, note=""):
        rows.setdefault(row, []).append((per_image(mse), secs, note))
    pca = None
    for s in seeds:
        seed = ["--seed", str(s)]
        lw = train(*base, *seed, *CACHE, "--phases", layerwise)
        pca = lw["pca"]
        add("layer-wise", lw["test_mse"], lw["train_seconds"])
        ft = train(*base, *seed, *CACHE, "--phases", finetune)
        add("layer-wise + fine-tune", ft["test_mse"], ft["train_seconds"])
        e2e = train(*base, *seed, "--end-to-end", "--epochs", e2e_epochs_flag, "--test-each-epoch")
        mse, secs = at_epochs(e2e, total_epochs)
        add(f"end-to-end, equal epochs ({total_epochs})", mse, secs)
        mse, secs, n = at_seconds(e2e, ft["train_seconds"])
        add("end-to-end, equal seconds", mse, secs, f"{n} epochs")
        for label, args in extra_rows:
            r = train(*args, *seed)
            add(label, r["test_mse"], r["train_seconds"])
        print(f"  {name}: seed {s} done", file=sys.stderr)
    print(f"\n### {name}\n")
    print("| | squared error per test image | test MSE | training seconds |")
    print("|---|---|---|---|")
    print(f"| PCA-{pca['components']} | {pca['per_image']:.2f} | {pca['test_mse']:.6f} | {pca['seconds']:.1f} (eigen-decomposition) |")
    for row, vals in rows.items():
        errs = [v[0] for v in vals]
        secs = [v[1] for v in vals]
        sd = statistics.stdev(errs) if len(errs) > 1 else 0.0
        ssd = statistics.stdev(secs) if len(secs) > 1 else 0.0
        notes = ", ".join(sorted({v[2] for v in vals if v[2]}))
        notes = f" ({notes})" if notes else ""
        print(f"| {row}{notes} | {statistics.mean(errs):.2f} ± {sd:.2f} | {statistics.mean(errs) / 784:.6f} | {statistics.mean(secs):.0f} ± {ssd:.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--only", choices=["deep", "wide"])
    ap.add_argument("--cache", action="store_true")
    ap.add_argument("--raw")
    a = ap.parse_args()
    global RAW, CACHE
    RAW = a.raw
    if RAW:
        os.makedirs(RAW, exist_ok=True)
    CACHE = ["--cache"] if a.cache else []
    seeds = [int(s) for s in a.seeds.split(",")]
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(l.split(":", 1) for l in cpu.splitlines() if ":" in l)
    print(f"Machine: {fields.get('Model name', '?').strip()}, family {fields.get('CPU family', '?').strip()} "
          f"model {fields.get('Model', '?').strip()}, {os.cpu_count()} threads. Seeds {a.seeds}.")
    if a.only in (None, "deep"):
        deep = ["--preset", "hinton2006"]
        recipe_on_deep = ["--layers", "1000,500,250,30", "--phases", "1,2,3,4,fine-tune"]
        # 4 epochs for each of 4 phases, 8 of fine-tuning: 24; e2e runs K x 6 = 24.
        stack("784-1000-500-250-30 (preset hinton2006)", deep, "1,2,3,4", "1,2,3,4,fine-tune",
              "6", 24, seeds, [("the recipe's settings, layer-wise + fine-tune", recipe_on_deep)])
    if a.only in (None, "wide"):
        # The recipe: 4 + 4 epochs layer-wise, 4 of fine-tuning: 12; e2e runs 2 x 6 = 12.
        stack("784-300-150-300-784 (the recipe)", [], "1,2", "1,2,fine-tune", "6", 12, seeds, [])


if __name__ == "__main__":
    main()
