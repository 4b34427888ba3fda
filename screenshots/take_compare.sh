#!/usr/bin/env bash
# Two encoders in the Experiments view, under Xvfb: encoder B is a denoising stack
# (`layerwise train --noise mask:0.25`, seed 42) loaded with "Load encoder B…"; the
# model (A) is the recipe, trained by the sweep itself. Labels 100, 1,000 and 10,000;
# scratch, frozen and fine-tuned; 3 seeds. Saves the finished view as compare.png and
# prints the sweep's seconds from the click.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

b="$tmp/denoising.safetensors"
"$bin" train --noise mask:0.25 --save "$b" > /dev/null
"$bin" 2> "$tmp/stderr" &
app=$!
win=$(window)
sleep 1
experiments_view
type_in 541 96 "100, 1000, 10000"  # Labels
click 861 96                       # unfreeze off
click 669 119                      # Load encoder B…
type_in 765 323 "$b"               # the dialog's Path
click 491 649                      # Load
sleep 1
start=$(date +%s.%N)
click 470 157                      # Run experiments (under B's name, two lines)
wait_title 'phase 1|experiment' 10
wait_title 'experiment' 120
wait_title '^layerwise$' 1200
end=$(date +%s.%N)
python3 -c "print(f'recipe + sweep against B in the window: {$end - $start:.1f} s')"
shoot_experiments compare.png
quit_app
cat "$tmp/stderr"
