#!/usr/bin/env bash
# Runs the Experiments view's default sweep in the real app under Xvfb (fresh settings:
# the recipe is trained first, then 4 budgets x 4 arms x 3 seeds), prints how long the
# whole run took from the click, and saves the finished view as experiments.png.
# Needs: xvfb xdotool imagemagick.
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

"$bin" 2> "$tmp/stderr" &
app=$!
win=$(window)
sleep 1
# The Experiments tab, then its Run button (the default layout of a 1500x950 window).
xdotool mousemove --window "$win" "${TAB_X:-436}" "${TAB_Y:-68}" click 1
sleep 0.5
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
xdotool mousemove --window "$win" "${RUN_X:-400}" "${RUN_Y:-118}" click 1
wait_title 'phase 1|experiment' 10
# The recipe's phases first (the title is bare between them), then the sweep.
wait_title 'experiment' 120
wait_title '^layerwise$' 600
end=$(date +%s.%N)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "print(f'recipe + default sweep in the window: {$end - $start:.1f} s')"
xdotool mousemove --window "$win" 900 500
sleep 1
# The Experiments view alone: its controls, the chart and the table's first rows.
import -window root "$tmp/screen.png"
convert "$tmp/screen.png" -crop 792x414+337+58 +repage "$out/experiments.png"
echo "saved $out/experiments.png"
xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" ctrl+q
wait $app || true
