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
