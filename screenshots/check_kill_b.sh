#!/usr/bin/env bash
# Encoder B survives kill -9 (under Xvfb): B loaded from a denoising checkpoint, the
# model's phase 1 trained, the app killed in phase 2; the relaunch's offer is saved as
# /tmp/kill-offer.png and, after Restore, /tmp/kill-restored.png.
# Needs: xvfb xdotool imagemagick.
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

b="$tmp/denoising.safetensors"
"$bin" train --noise mask:0.25 --epochs 1 --save "$b" > /dev/null
"$bin" 2> "$tmp/stderr" &
app=$!
win=$(window)
sleep 1
experiments_view
click 669 119                      # Load encoder B…
type_in 765 323 "$b"               # the dialog's Path
click 491 649                      # Load
sleep 1
xdotool key --window "$win" 1
wait_title 'phase 1' 10
wait_title '^layerwise$' 120
xdotool key --window "$win" 2
wait_title "phase 2" 10
sleep 0.5
kill -9 $app
wait $app || true
echo "killed in phase 2"
"$bin" 2>> "$tmp/stderr" &
app=$!
win=$(window)
sleep 3
import -window "$win" /tmp/kill-offer.png
echo "saved /tmp/kill-offer.png"
click 553 519                      # Restore
sleep 2
experiments_view
import -window "$win" /tmp/kill-restored.png
echo "saved /tmp/kill-restored.png"
quit_app
