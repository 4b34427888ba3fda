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
# Waits (up to $2 seconds) until the window title matches the regex $1.
wait_title() {
  local deadline=$((SECONDS + $2))
  until title | grep -Eq "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for a title matching '$1'"; exit 1; }
    sleep 0.05
  done
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
wait_title 'phase 1 · [4-9][0-9]%' 60
shot training-phase1.png
wait_title '^layerwise$' 120
sleep 1   # the last snapshot's redraw
shot after-phase1.png

xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" 2
wait_title 'phase 2' 10
wait_title '^layerwise$' 120
sleep 1
shot after-phase2.png

# Close the window in the middle of another phase 1: the process must end at once
# and keep the model for the next launch.
xdotool key --window "$win" 1
wait_title 'phase 1' 10
sleep 0.5
xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app 2>/dev/null || break; sleep 0.1; done
if kill -0 $app 2>/dev/null; then echo "the app did not exit within 5 s of closing"; exit 1; fi
wait $app
ls "$tmp/layerwise/autosave.safetensors" >/dev/null && echo "closed mid-phase: exited, model kept"
cat "$tmp/stderr"
