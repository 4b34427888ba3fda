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
experiments_view
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
click 470 142 # Run experiments
wait_title 'phase 1|experiment' 10
# The recipe's phases first (the title is bare between them), then the sweep.
wait_title 'experiment' 120
wait_title '^layerwise$' 600
end=$(date +%s.%N)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "print(f'recipe + default sweep in the window: {$end - $start:.1f} s')"
shoot_experiments experiments.png
quit_app
