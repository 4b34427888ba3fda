#!/usr/bin/env bash
# The code-space screenshots: runs the real app under Xvfb (as take.sh does), shows the
# Map during phase 1, takes the PCA map and a t-SNE after phase 1 and after phase 2
# (the second warm-started from the first), then draws a digit on the Draw pad.
# Coordinates are those of the default layout (a 1500x950 window at the screen's corner).
# Needs: xvfb xdotool imagemagick.
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

"$bin" --autostart 1 2> "$tmp/stderr" &
app=$!

# Saves the region WxH+X+Y of the screen as $1.
shot() {
  import -window root "$tmp/screen.png"
  convert "$tmp/screen.png" -crop "$2" +repage "$out/$1"
  echo "saved $out/$1"
}
# The colour of one pixel of the screen.
pixel() {
  import -window root "$tmp/pixel.png"
  convert "$tmp/pixel.png" -crop "1x1+$1+$2" txt:- | tail -1 | grep -o '#[0-9A-F]*'
}
# Runs a t-SNE and waits (up to 5 minutes) until its progress bar is gone.
tsne() {
  xdotool mousemove 566 142 click 1   # Run t-SNE
  sleep 2
  local deadline=$((SECONDS + 300))
  until [ "$(pixel 771 142)" = "#1B1B1B" ]; do
    [ $SECONDS -lt $deadline ] || { echo "t-SNE did not finish"; exit 1; }
    sleep 1
  done
  sleep 1
}

MAP=745x420+405+50        # the top-middle pane: Losses | Map
win=$(window)
sleep 0.5
xdotool mousemove 482 68 click 1   # the Map tab
wait_title 'phase 1' 30
wait_title '^layerwise$' 180
sleep 1.5
shot map-pca-phase1.png "$MAP"
xdotool mousemove 809 96 click 1   # t-SNE
sleep 0.5
tsne
shot map-phase1.png "$MAP"

xdotool windowfocus --sync "$win" 2>/dev/null || true
xdotool key --window "$win" 2
wait_title 'phase 2' 10
wait_title '^layerwise$' 180
sleep 1.5
tsne
shot map-phase2.png "$MAP"
xdotool mousemove 731 96 click 1   # PCA (live)
sleep 1.5
shot map-pca-phase2.png "$MAP"

# Draw a 4 on the pad (the Draw tab, bottom middle), slowly enough for every frame.
xdotool mousemove 586 489 click 1
sleep 0.5
stroke() {  # x0 y0 x1 y1: press, move in 12 steps, release
  xdotool mousemove "$1" "$2" mousedown 1
  for k in $(seq 12); do
    xdotool mousemove $(($1 + ($3 - $1) * k / 12)) $(($2 + ($4 - $2) * k / 12))
    sleep 0.02
  done
  xdotool mouseup 1
}
stroke 491 545 466 660
stroke 466 660 571 655
stroke 541 560 551 735
sleep 2
shot draw.png 745x870+405+50

xdotool key --window "$win" ctrl+q
for _ in $(seq 50); do kill -0 $app 2>/dev/null || break; sleep 0.1; done
cat "$tmp/stderr"
