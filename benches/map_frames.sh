#!/usr/bin/env bash
# UI frame times (--frame-stats: CPU time per frame, p50 and p95) while the recipe
# trains (phases 1 and 2) under Xvfb, with the Losses tab in front ("losses") and with
# the Map in front, its PCA following every snapshot ("map"); the two runs alternate
# ROUNDS times so that the machine's load hits both alike.
# Usage: benches/map_frames.sh [ROUNDS]   (default 2; needs xvfb xdotool)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
display=:$((80 + RANDOM % 9))
export DISPLAY=$display
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
tmp=$(mktemp -d)
trap 'kill $xvfb 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1

title() { xdotool search --name '^layerwise' getwindowname 2>/dev/null | head -1; }
run() {
  export XDG_DATA_HOME=$tmp/$1-$2   # fresh settings and layout each time
  "$bin" --autostart 1,2 --frame-stats 2> "$tmp/stderr" &
  local app=$!
  until xdotool search --name '^layerwise' >/dev/null 2>&1; do sleep 0.2; done
  local win
  win=$(xdotool search --name '^layerwise' | head -1)
  # The Map tab of the default layout, at the left of the top-middle tab bar.
  [ "$1" = map ] && xdotool mousemove --window "$win" 411 68 click 1
  until title | grep -q 'phase 2'; do sleep 0.2; done
  until [ "$(title)" = layerwise ]; do sleep 0.2; done
  xdotool key --window "$win" ctrl+q
  wait $app
  echo "$1: $(grep -o 'frame time.*' "$tmp/stderr") · load $(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq "$rounds"); do
  run losses "$r"
  run map "$r"
done
