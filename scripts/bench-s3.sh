#!/usr/bin/env bash
# bench-s3.sh: the transcode step of a 60 s 1080p25 lesson with its media on the local disk and in
# S3-compatible object storage (versitygw on loopback), alternately, ROUNDS times each: the source is
# staged from the store, rendered by the media child, and the renditions put back into the store.
# Prints each wall time and the ratio S3/local (goal <= 1.1x). Needs what scripts/test.sh installs
# (ffmpeg, versitygw).
#
# Usage: scripts/bench-s3.sh            (ROUNDS=3 SECONDS_SRC=60 PRESET=veryfast by default)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
ensure_versitygw

ROUNDS=${ROUNDS:-3}
SRC_SECONDS=${SECONDS_SRC:-60}
PRESET=${PRESET:-veryfast}
work=$(mktemp -d /tmp/relais-bench-s3.XXXXXX)
trap 'rm -rf "$work"' EXIT

build_relais
src="$work/source.mp4"
log "generating a ${SRC_SECONDS} s 1080p25 source"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=s=1920x1080:r=25:d=${SRC_SECONDS}" \
  -f lavfi -i "sine=f=220:d=${SRC_SECONDS}:sample_rate=48000" \
  -f lavfi -i "anoisesrc=c=pink:a=0.05:d=${SRC_SECONDS}:r=48000" \
  -filter_complex "[1:a][2:a]amix=inputs=2:normalize=0,tremolo=f=0.5:d=0.6,volume=-6dB,aformat=channel_layouts=stereo[a]" \
  -map 0:v -map "[a]" -c:v libx264 -preset veryfast -b:v 10M -c:a aac -b:a 192k "$src"
printf 'source: %s bytes\n' "$(stat -c %s "$src")"
go run ./scripts/benchs3 -relais bin/relais -source "$src" -rounds "$ROUNDS" -preset "$PRESET"
