#!/usr/bin/env bash
# Runs the real app under Xvfb, drives it like a person (autostart for phase 1, the "2"
# key for phase 2, Ctrl+Q to quit) and saves screenshots of the whole screen here.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

"$bin" --autostart 1 --frame-stats 2> "$tmp/stderr" &
app=$!


win=$(window)
# Rest the pointer on the loss curve, so the hover read-out shows.
xdotool mousemove --window "$win" 520 250
wait_title 'phase 1 · [4-9][0-9]%' 60
shot training-phase1.png
wait_title '^layerwise$' 120
sleep 4   # the last frame (1-2 s once showed an older one under a bare title)
shot after-phase1.png

xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" 2
wait_title 'phase 2' 10
wait_title '^layerwise$' 120
sleep 4
shot after-phase2.png

# Killed mid-phase (kill -9, as a crash or an OOM kill would): the next launch offers
# the session kept after phase 2, with both phases' curves.
xdotool key --window "$win" 1
wait_title 'phase 1' 10
sleep 1
kill -9 $app
wait $app 2>/dev/null || true
ls "$tmp/layerwise/session/CURRENT" >/dev/null && echo "killed mid-phase: a kept session is on disk"
"$bin" --frame-stats 2>> "$tmp/stderr" &
app=$!
win=$(window)
sleep 3
shot restore-offer.png
# Tab to the dialog's first button (Restore) and press it.
xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" Tab
sleep 0.3
xdotool key --window "$win" space
sleep 3
shot restored.png

# Close the window in the middle of another phase 1: the process must end at once
# and keep the model for the next launch.
xdotool key --window "$win" 1
wait_title 'phase 1' 10
sleep 0.5
xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app 2>/dev/null || break; sleep 0.1; done
if kill -0 $app 2>/dev/null; then echo "the app did not exit within 5 s of closing"; exit 1; fi
wait $app
ls "$tmp/layerwise/session/CURRENT" >/dev/null && echo "closed mid-phase: exited, session kept"
cat "$tmp/stderr"
