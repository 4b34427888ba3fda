#!/usr/bin/env bash
# What the live map costs: the recipe (phase 1, cached phase 2) in the app under Xvfb
# with the Losses tab in front ("losses") and with the Map in front, its PCA following
# every snapshot ("map"), alternately, ROUNDS times; each run's phase seconds and UI
# frame times (CPU time per frame while training, p50 and p95), and the load.
#
#   benches/map_frames.sh [ROUNDS]      (default 2; needs xvfb xdotool imagemagick)
#   SHOT_DIR=DIR keeps a screenshot of each map run there, to check the map was in front
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
out=$(mktemp -d)
display=:$((60 + RANDOM % 30))
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null; rm -rf "$out"' EXIT
sleep 1
export DISPLAY=$display

run() {
  XDG_DATA_HOME="$out/$1-$2" "$bin" --autostart 1,2 --exit-when-done 2> "$out/$1-$2.txt" >/dev/null &
  local app=$!
  if [ "$1" = map ]; then
    until xdotool search --name '^layerwise' >/dev/null 2>&1; do sleep 0.1; done
    # The Map tab of the default layout, left in the top-middle tab bar.
    sleep 0.5
    xdotool mousemove 411 68 click 1
    # What was on screen, to check that the map was in front.
    (sleep 3; import -window root "${SHOT_DIR:-$out}/map-$2.png") &
  fi
  wait $app
  local t
  t=$(tr '\n' ' ' < "$out/$1-$2.txt" | sed -E 's/ +/ /g')
  printf '%-6s %s| load %s\n' "$1" "$t" "$(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq "$rounds"); do
  run losses "$r"
  run map "$r"
done
