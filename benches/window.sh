#!/usr/bin/env bash
# What the window costs training: phase 1 (and a cached phase 2) headless and in the
# app under Xvfb (Mesa's software GL), alternately, several rounds; medians, the
# window/headless ratio, and the UI's frame times while training.
#
#   benches/window.sh [ROUNDS]          (default 3; needs xvfb)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
out=$(mktemp -d)
display=:$((60 + RANDOM % 30))
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null; rm -rf "$out"' EXIT
sleep 1

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $("$bin" bench --json 2>/dev/null | sed -n 's/.*"isa":"\([^"]*\)".*/\1/p')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$bin" train --cache-hidden1 --json > "$out/headless_$r.json"
  XDG_DATA_HOME="$out/xdg$r" DISPLAY=$display "$bin" --autostart 1,2 --exit-when-done 2> "$out/window_$r.txt" >/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$rounds" <<'PY'
import json, re, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
med = statistics.median
head = [json.load(open(f"{d}/headless_{r}.json")) for r in range(1, n + 1)]
win = [open(f"{d}/window_{r}.txt").read() for r in range(1, n + 1)]
def phase(text, name):
    m = re.search(rf"^{re.escape(name)}: \d+ epochs in ([0-9.]+) s", text, re.M)
    return float(m.group(1))
frames = [re.search(r"p50 ([0-9.]+) ms, p95 ([0-9.]+) ms", t).groups() for t in win]
h1, h2 = med([j["phases"][0]["seconds"] for j in head]), med([j["phases"][1]["seconds"] for j in head])
w1, w2 = med([phase(t, "phase 1") for t in win]), med([phase(t, "phase 2 (cached)") for t in win])
print(f"median seconds       headless   window   window/headless")
print(f"phase 1              {h1:8.3f} {w1:8.3f}   {w1 / h1:.2f}x")
print(f"phase 2 (cached)     {h2:8.3f} {w2:8.3f}   {w2 / h2:.2f}x")
print(f"UI frames while training: p50 {med([float(f[0]) for f in frames]):.1f} ms, p95 {med([float(f[1]) for f in frames]):.1f} ms (medians of the rounds)")
PY
