#!/usr/bin/env bash
# bench-chunks.sh: chunk-parallel transcoding (issue 17). A SECONDS_SRC-second 1080p25 lesson goes from
# upload to ready through the real queue on a private Redis: rendered whole by one media worker (the
# baseline), then in parts of CHUNK by 1, 2 and 4 media workers (WORKERS), each part in its own media
# child process as in production. Prints each wall time, the speed-up against the whole-file render and
# against one worker in parts (and per added worker), the split/join overhead (in parts with one worker
# against whole), and where a chunked run's time went (plan, sound, picture parts, join). All in one run.
#
#   scripts/bench-chunks.sh                                  # 600 s source, parts of 60 s, workers 1,2,4
#   SECONDS_SRC=90 CHUNK=15s WORKERS=1,2,4 scripts/bench-chunks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
apt_install ca-certificates git redis-server ffmpeg
ensure_go
SRC_SECONDS=${SECONDS_SRC:-600}
work=$(mktemp -d /tmp/relais-bench-chunks.XXXXXX)
trap 'rm -rf "$work"' EXIT

log "generating a ${SRC_SECONDS} s 1080p25 source (10 s of moving pattern and sound, looped)"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=s=1920x1080:r=25:d=10" \
  -f lavfi -i "sine=f=220:d=10:sample_rate=48000" \
  -f lavfi -i "anoisesrc=c=pink:a=0.05:d=10:r=48000" \
  -filter_complex "[1:a][2:a]amix=inputs=2:normalize=0,tremolo=f=0.5:d=0.6,volume=-6dB,aformat=channel_layouts=stereo[a]" \
  -map 0:v -map "[a]" -c:v libx264 -preset ultrafast -b:v 10M -g 50 -c:a aac -b:a 192k "$work/ten.mp4"
loops=$(( (SRC_SECONDS + 9) / 10 - 1 ))
ffmpeg -hide_banner -loglevel error -y -stream_loop "$loops" -i "$work/ten.mp4" -t "$SRC_SECONDS" -c copy "$work/source.mp4"

go test -c -o "$work/pipeline.test" ./pipeline
log "transcoding (load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
(cd pipeline && RELAIS_BENCH_CHUNKS_SRC="$work/source.mp4" RELAIS_BENCH_CHUNKS_CHUNK="${CHUNK:-60s}" \
  RELAIS_BENCH_CHUNKS_WORKERS="${WORKERS:-1,2,4}" RELAIS_BENCH_CHUNKS_PRESET="${PRESET:-veryfast}" \
  "$work/pipeline.test" -test.run '^$' -test.bench 'BenchmarkChunkedTranscode$' -test.benchtime 1x -test.timeout 4h)
log "done (load: $(cut -d' ' -f1-3 /proc/loadavg))"
