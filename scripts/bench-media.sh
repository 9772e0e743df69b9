#!/usr/bin/env bash
# bench-media.sh: time `relais media render` against the ffmpeg CLI doing the same work the best way it
# can (one loudness-measuring pass, then one run writing the three renditions with the same encoder
# settings), alternately, ROUNDS times, on a 60 s 1080p25 source. Prints wall times, the ratio
# ffmpeg/Relais, each one's realtime factor, and the EBU R 128 loudness of every rendition.
#
# Usage: scripts/bench-media.sh            (from the repository root; ROUNDS=2 SECONDS_SRC=60 by default)
set -euo pipefail

ROUNDS=${ROUNDS:-2}
SRC_SECONDS=${SECONDS_SRC:-60}
PRESET=${PRESET:-veryfast}
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/relais-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "building relais..."
go build -o "$work/relais" ./cmd/relais

src="$work/source.mp4"
echo "generating a ${SRC_SECONDS} s 1080p25 source..."
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=s=1920x1080:r=25:d=${SRC_SECONDS}" \
  -f lavfi -i "sine=f=220:d=${SRC_SECONDS}:sample_rate=48000" \
  -f lavfi -i "anoisesrc=c=pink:a=0.05:d=${SRC_SECONDS}:r=48000" \
  -filter_complex "[1:a][2:a]amix=inputs=2:normalize=0,tremolo=f=0.5:d=0.6,volume=-6dB,aformat=channel_layouts=stereo[a]" \
  -map 0:v -map "[a]" -c:v libx264 -preset veryfast -b:v 10M -c:a aac -b:a 192k "$src"

now() { date +%s.%N; }

# Same settings as ingest: 1080i25 H.264 High CBR 8 Mb/s, GOP 12, BT.709, MP2 256k, TS muxrate; radio MP2
# 256k; mono Opus 20k; loudnorm second pass (linear) from a first, measuring pass.
# loudnorm_args turns loudnorm's first-pass JSON (in a log file) into its second-pass options.
loudnorm_args() {
  python3 - "$1" <<'PY'
import json, re, sys
j = json.loads(re.findall(r"\{[^{}]*\}", open(sys.argv[1]).read())[-1])
print("measured_I=%s:measured_TP=%s:measured_LRA=%s:measured_thresh=%s:offset=%s" % (
    j["input_i"], j["input_tp"], max(float(j["input_lra"]), 0.01), j["input_thresh"], j["target_offset"]))
PY
}

ffmpeg_render() {
  local out=$1
  mkdir -p "$out"
  # Pass 1, audio only: loudnorm measures the stereo mix and its mono downmix (two runs side by side,
  # because loudnorm prints its JSON when freed and the order of two in one graph is not defined).
  local conform="asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
  ffmpeg -hide_banner -nostats -i "$src" -vn -af "$conform,loudnorm=I=-23:TP=-2:LRA=20:print_format=json" -f null - 2>"$out/st.json" &
  ffmpeg -hide_banner -nostats -i "$src" -vn -af "$conform,pan=mono|c0=0.5*c0+0.5*c1,loudnorm=I=-23:TP=-2:LRA=20:print_format=json" -f null - 2>"$out/mo.json"
  wait
  local st mo
  st=$(loudnorm_args "$out/st.json") mo=$(loudnorm_args "$out/mo.json")
  rm -f "$out/st.json" "$out/mo.json"
  ffmpeg -hide_banner -loglevel error -y -i "$src" -filter_complex \
    "[0:v]setpts=PTS-STARTPTS,scale=w=1920:h=1080:force_original_aspect_ratio=decrease:force_divisible_by=2:out_color_matrix=bt709:out_range=tv,pad=w=1920:h=1080:x=(ow-iw)/2:y=(oh-ih)/2,setsar=1,fps=50,format=yuv420p,tinterlace=mode=interleave_top:flags=cvlpf[v];
     [0:a]asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=2[st][mo];
     [st]loudnorm=I=-23:TP=-2:LRA=20:$st:linear=true:print_format=none,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,asplit=2[a0][a1];
     [a0]aformat=sample_fmts=s16[tv];[a1]aformat=sample_fmts=s16[radio];
     [mo]pan=mono|c0=0.5*c0+0.5*c1,loudnorm=I=-23:TP=-2:LRA=20:$mo:linear=true:print_format=none,aresample=48000,aformat=sample_fmts=flt:channel_layouts=mono[low]" \
    -map "[v]" -map "[tv]" -c:v libx264 -preset "$PRESET" -profile:v high -b:v 8000000 -maxrate 8000000 -minrate 8000000 -bufsize 4000000 \
      -g 12 -flags +ildct+ilme -field_order tt -x264-params nal-hrd=cbr:force-cfr=1:scenecut=0 \
      -color_primaries bt709 -color_trc bt709 -colorspace bt709 -color_range tv \
      -c:a mp2 -b:a 256k -f mpegts -muxrate 9221600 -max_delay 700000 -pcr_period 20 \
      -metadata service_name=Relais -metadata service_provider=Relais "$out/tv.ts" \
    -map "[radio]" -c:a mp2 -b:a 256k "$out/radio.mp2" \
    -map "[low]" -c:a libopus -b:a 20k -vbr constrained -application audio -frame_duration 20 "$out/lowband.opus"
}

declare -a tr tf
for i in $(seq 1 "$ROUNDS"); do
  rm -rf "$work/relais-out" "$work/ffmpeg-out"
  t0=$(now)
  "$work/relais" media render "$src" --out "$work/relais-out" --title "Bench" --preset "$PRESET" >"$work/relais.txt" 2>"$work/relais.err"
  t1=$(now)
  ffmpeg_render "$work/ffmpeg-out"
  t2=$(now)
  tr[$i]=$(echo "$t1 - $t0" | bc -l)
  tf[$i]=$(echo "$t2 - $t1" | bc -l)
  printf 'round %d: relais %.1f s, ffmpeg %.1f s\n' "$i" "${tr[$i]}" "${tf[$i]}"
done

sum_r=0 sum_f=0
for i in $(seq 1 "$ROUNDS"); do sum_r=$(echo "$sum_r + ${tr[$i]}" | bc -l); sum_f=$(echo "$sum_f + ${tf[$i]}" | bc -l); done
avg_r=$(echo "$sum_r / $ROUNDS" | bc -l) avg_f=$(echo "$sum_f / $ROUNDS" | bc -l)
echo
printf 'mean wall time: relais %.1f s, ffmpeg %.1f s; ratio ffmpeg/relais %.2f\n' "$avg_r" "$avg_f" "$(echo "$avg_f / $avg_r" | bc -l)"
printf 'realtime factor (source seconds per wall second): relais %.2fx, ffmpeg %.2fx\n' \
  "$(echo "$SRC_SECONDS / $avg_r" | bc -l)" "$(echo "$SRC_SECONDS / $avg_f" | bc -l)"
echo
echo "relais' own report:"
cat "$work/relais.txt"
echo
echo "loudness (ffmpeg ebur128, peak=true):"
for f in "$work"/relais-out/* "$work"/ffmpeg-out/*; do
  s=$(ffmpeg -hide_banner -nostats -i "$f" -map 0:a:0 -af ebur128=peak=true -f null - 2>&1 | sed -n '/Summary:/,$p')
  i=$(echo "$s" | awk '/ I:/{print $2}') lra=$(echo "$s" | awk '/ LRA:/{print $2}') tp=$(echo "$s" | awk '/Peak:/{print $2}')
  printf '  %-7s %-13s I %6s LUFS  TP %6s dBTP  LRA %5s LU  %s bytes\n' "$(basename "$(dirname "$f")" | cut -d- -f1)" "$(basename "$f")" "$i" "$tp" "$lra" "$(stat -c %s "$f")"
done
