#!/usr/bin/env bash
# Two of the chapter's variants in the real app under Xvfb: a denoising run
# (`--noise mask:0.25`, Vincent's masking, both phases) with the shown test images
# corrupted in Reconstructions, and the linear autoencoder (`--preset linear`) ending on
# PCA-150's line, its subspace overlap beside the progress.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

# run NAME LAST-PHASE ARGS...: waits for phase LAST-PHASE to start, then to end (the
# title is bare between autostarted phases too).
run() {
  local name=$1 last=$2
  shift 2
  # Fresh settings and no kept session to offer: each run starts clean.
  rm -rf "${XDG_DATA_HOME:?}"/*
  start=$SECONDS
  "$bin" "$@" 2> "$tmp/stderr" &
  app=$!
  win=$(window)
  wait_title '^layerwise$' 5
  wait_title "phase $last" 120
  wait_title '^layerwise$' 600
  echo "$name: done $((SECONDS - start)) s after launch"
  # 2 s once caught the window still drawing phase 2 at 94% under its bare title.
  sleep 4
  shot "$name"
  quit_app
  cat "$tmp/stderr"
}

run denoising.png 2 --noise mask:0.25 --autostart 1,2
run linear-pca.png 1 --preset linear --autostart 1
