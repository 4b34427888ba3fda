#!/usr/bin/env bash
# Runs the real app under Xvfb, drives it like a person (autostart for phase 1, the "2"
# key for phase 2, Ctrl+Q to quit) and saves screenshots of the whole screen here.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
cd "$(dirname "$0")/.."
out=screenshots
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
display=:$((90 + RANDOM % 9))
export DISPLAY=$display
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
tmp=$(mktemp -d)
export XDG_DATA_HOME=$tmp   # fresh settings: the recipe's defaults
trap 'kill $xvfb 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1

"$bin" --autostart 1 --frame-stats 2> "$tmp/stderr" &
app=$!

title() { xdotool search --name '^layerwise' getwindowname 2>/dev/null | head -1; }
# Waits until the title says that phase $1 is running, then until it does no longer.
wait_phase() {
  local t=0
  until title | grep -q "phase $1"; do sleep 0.2; t=$((t + 1)); [ $t -lt 300 ] || { echo "phase $1 never started"; exit 1; }; done
  until [ "$(title)" = "layerwise" ]; do sleep 0.5; t=$((t + 1)); [ $t -lt 900 ] || { echo "phase $1 never ended"; exit 1; }; done
  sleep 1   # the last snapshot's redraw
}

shot() {
  local win
  win=$(xdotool search --name '^layerwise' | head -1)
  import -window "$win" "$out/$1"
  echo "saved $out/$1"
}

until xdotool search --name '^layerwise' >/dev/null 2>&1; do sleep 0.2; done
win=$(xdotool search --name '^layerwise' | head -1)
# Rest the pointer on the loss curve, so the hover read-out shows.
xdotool mousemove --window "$win" 520 250
sleep 4
shot training-phase1.png
wait_phase 1
shot after-phase1.png

xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" 2
wait_phase 2
shot after-phase2.png

# Close the window in the middle of another phase 1: the process must end at once
# and keep the model for the next launch.
xdotool key --window "$win" 1
until title | grep -q "phase 1"; do sleep 0.2; done
sleep 1
xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app 2>/dev/null || break; sleep 0.1; done
if kill -0 $app 2>/dev/null; then echo "the app did not exit within 5 s of closing"; exit 1; fi
wait $app
ls "$tmp/layerwise/autosave.safetensors" >/dev/null && echo "closed mid-phase: exited, model kept"
cat "$tmp/stderr"
