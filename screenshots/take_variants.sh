#!/usr/bin/env bash
# Two of the chapter's variants in the real app under Xvfb: a denoising run
# (`--noise mask:0.25`, Vincent's masking, both phases) with the shown test images
# corrupted in Reconstructions, and the linear autoencoder (`--preset linear`) ending on
# PCA-150's line, its subspace overlap beside the progress.
# Needs: xvfb xdotool imagemagick (apt-get install -y xvfb xdotool imagemagick).
set -euo pipefail
source "$(dirname "$0")/xvfb.sh"

run() {
  local name=$1
  shift
  # Fresh settings and no kept session to offer: each run starts clean.
  rm -rf "${XDG_DATA_HOME:?}"/*
  start=$SECONDS
  "$bin" "$@" 2> "$tmp/stderr" &
  app=$!
  win=$(window)
  wait_title '^layerwise$' 5
  wait_title 'phase' 60
  wait_title '^layerwise$' 600
  echo "$name: done $((SECONDS - start)) s after launch"
  sleep 2
  shot "$name"
  quit_app
  cat "$tmp/stderr"
}

run denoising.png --noise mask:0.25 --autostart 1,2
run linear-pca.png --preset linear --autostart 1
