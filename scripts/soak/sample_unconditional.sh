#!/usr/bin/env bash
# Soak run of `gpt2 sample-unconditional` (batch 8, --format jsonl, endless) on a
# random 124M model, once per dtype: samples RSS and open file descriptors every few
# seconds; after a warm-up both must stay flat. Ends each run with SIGINT (exit 0,
# whole lines only).
#   scripts/soak/sample_unconditional.sh [MINUTES=15] [DTYPE...=int8 float32]
# Env: GPT2 (binary, default build/gpt2), SOAK_DIR (default build/soak), INTERVAL
# (seconds between samples, default 5), THREADS (default 1), NICE (default 19),
# GROWTH_SLACK_KB (allowed climb of the RssAnon peaks after warm-up, default 8192), LENGTH (tokens per
# sample; default the released n_ctx/2 = 512; shorter samples cycle through more
# batches, i.e. more allocations and frees, in the same time).
# Writes SOAK_DIR/sample_unconditional_<dtype>.csv and prints one summary line per dtype.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/scripts/soak/lib.sh"
MINUTES=${1:-15}
shift || true
DTYPES=("$@")
[ "${#DTYPES[@]}" -gt 0 ] || DTYPES=(int8 float32)
GPT2=${GPT2:-$ROOT/build/gpt2}
SOAK_DIR=${SOAK_DIR:-$ROOT/build/soak}
INTERVAL=${INTERVAL:-5}
THREADS=${THREADS:-1}
NICE=${NICE:-19}
GROWTH_SLACK_KB=${GROWTH_SLACK_KB:-8192}
LENGTH=${LENGTH:-}
length_args=()
[ -z "$LENGTH" ] || length_args=(--length "$LENGTH")
secs=$(awk -v m="$MINUTES" 'BEGIN {printf "%d", m * 60}')
warm=$(( secs / 5 ))   # the first fifth of the run is warm-up (load, first batches, allocator growth)

mkdir -p "$SOAK_DIR"
model="$SOAK_DIR/random-124M"
[ -f "$model/model.safetensors" ] || "$GPT2" bench --random 124M --seed 1 --save-random "$model" 2>/dev/null

status=0
for dtype in "${DTYPES[@]}"; do
  out="$SOAK_DIR/sample_unconditional_$dtype.jsonl"
  csv="$SOAK_DIR/sample_unconditional_$dtype.csv"
  nice -n "$NICE" "$GPT2" sample-unconditional --model "$model" --batch-size 8 --top-k 40 --seed 1 \
    --dtype "$dtype" --threads "$THREADS" --format jsonl "${length_args[@]}" >"$out" 2>"$SOAK_DIR/sample_unconditional_$dtype.err" &
  pid=$!
  monitor "$pid" "$secs" "$INTERVAL" "$csv" "$out"
  kill -INT "$pid" 2>/dev/null || true
  rc=0; wait "$pid" || rc=$?
  summary=$(flatness "$csv" "$warm")
  samples=$(wc -l <"$out")
  bad_lines=$(python3 -c 'import json,sys
bad=0
for line in open(sys.argv[1], encoding="utf-8", errors="strict"):
    try: json.loads(line)
    except Exception: bad += 1
print(bad)' "$out")
  read -r _ n _ rmin _ rmax _ amin _ amax _ growth _ slope _ fmin _ fmax <<<"$summary"
  verdict=PASS
  [ "$rc" -eq 0 ] || verdict="FAIL(exit $rc)"
  [ "$bad_lines" -eq 0 ] || verdict="FAIL($bad_lines bad jsonl lines)"
  [ "${growth:-999999999}" -le "$GROWTH_SLACK_KB" ] || verdict="FAIL(RssAnon peaks grew ${growth:-?} KiB)"
  [ "${fmin:-0}" -eq "${fmax:-1}" ] || verdict="FAIL(fds $fmin..$fmax)"
  [ "$samples" -gt 0 ] || verdict="FAIL(no samples)"
  echo "soak sample-unconditional dtype=$dtype minutes=$MINUTES threads=$THREADS length=${LENGTH:-default} samples_written=$samples exit=$rc $summary -> $verdict"
  [ "$verdict" = PASS ] || status=1
done
exit $status
