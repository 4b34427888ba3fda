# Sourced by the screenshot scripts: a fresh Xvfb screen (1600x1000) and fresh settings
# (the recipe's defaults, the default layout) in $tmp, removed on exit, and helpers to
# wait on the app's window title, which says what the app is doing.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
cd "$(dirname "$0")/.."
out=screenshots
bin=target/release/layerwise
[ -x "$bin" ] || cargo build --release
display=:$((70 + RANDOM % 29))
export DISPLAY=$display
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
tmp=$(mktemp -d)
export XDG_DATA_HOME=$tmp
trap 'kill $xvfb 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1

title() { xdotool search --name '^layerwise' getwindowname 2>/dev/null | head -1 || true; }
# Waits (up to $2 seconds) until the window title matches the regex $1.
wait_title() {
  local deadline=$((SECONDS + $2))
  until [[ "$(title)" =~ $1 ]]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for a title matching '$1'"; exit 1; }
    sleep 0.05
  done
}
# Waits for the app's window and prints its id.
window() {
  until xdotool search --name '^layerwise' >/dev/null 2>&1; do sleep 0.2; done
  xdotool search --name '^layerwise' | head -1
}
# Saves the app's window as $out/$1 (the seconds since launch, when the script set $start).
shot() {
  local win
  win=$(xdotool search --name '^layerwise' | head -1)
  import -window "$win" "$out/$1"
  echo "saved $out/$1${start:+ at $((SECONDS - start)) s}"
}
# Closes the app $app (window $win) with ctrl+q, as a user would; kills it after 10 s.
quit_app() {
  xdotool windowfocus --sync "$win" 2>/dev/null || true
  xdotool key --window "$win" ctrl+q
  for _ in $(seq 100); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
  kill "$app" 2>/dev/null && echo "the app had not closed on ctrl+q within 10 s" || true
  wait "$app" || true
}
# Clicks (button ${3:-1}) at window coordinates ($1, $2) of window $win.
click() { xdotool mousemove --window "$win" "$1" "$2" click "${3:-1}"; sleep 0.5; }
# Replaces the text of the field at ($1, $2) with $3.
type_in() {
  click "$1" "$2"
  xdotool key --window "$win" ctrl+a
  xdotool type --window "$win" --delay 20 "$3"
  sleep 0.3
}
# Brings the Experiments view to the front and drags the divider under it down, so that
# the chart and the table's first rows fit (the default layout of a 1500x950 window).
experiments_view() {
  xdotool windowfocus --sync "$win" 2>/dev/null || true
  click 547 68
  xdotool mousemove --window "$win" 760 477 mousedown 1
  for y in $(seq 490 20 790); do xdotool mousemove --window "$win" 760 "$y"; sleep 0.05; done
  xdotool mouseup 1
  sleep 0.5
}
# Saves the Experiments view as $out/$1, the pointer off the chart.
shoot_experiments() {
  xdotool mousemove --window "$win" 1300 900
  sleep 1
  import -window root "$tmp/screen.png"
  convert "$tmp/screen.png" -crop 748x730+405+58 +repage "$out/$1"
  echo "saved $out/$1"
}
