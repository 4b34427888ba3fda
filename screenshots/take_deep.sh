#!/usr/bin/env bash
# The deep preset live in the real app under Xvfb: `--preset hinton2006 --autostart
# 1,2,3,4,5` (four layer-wise phases, then fine-tuning), the cache switched on with its
# key before phase 2, screenshots while phase 2 and fine-tuning run and at the end, and
# the seconds from launch to the last phase's end.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

start=$SECONDS
"$bin" --preset hinton2006 --autostart 1,2,3,4,5 --frame-stats 2> "$tmp/stderr" &
app=$!


win=$(window)
sleep 1   # the first frames, before keys count
xdotool windowfocus --sync "$win" 2>/dev/null || true
# Every phase k >= 2 from its cache.
xdotool key --window "$win" c
wait_title 'phase 2 · [4-9][0-9]%' 600
shot deep-phase2.png
wait_title 'fine-tune · [4-9][0-9]%' 600
shot deep-fine-tune.png
wait_title '^layerwise$' 600
echo "all five phases done $((SECONDS - start)) s after launch"
sleep 1
shot deep-done.png
quit_app
cat "$tmp/stderr"
