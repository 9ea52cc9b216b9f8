#!/usr/bin/env bash
# Serving speed of `gpt2 serve` next to llama.cpp's llama-server on the same random
# weights (../shared/peers/README.md, item 5): aggregate generated tokens/s and median
# time to first token at 1, 4, 8 and 16 concurrent streamed requests (greedy,
# MAX_TOKENS each, ignore_eos on both), the two servers interleaved round by round
# (gpt2 f32, llama-server f32, gpt2 int8, llama-server q8_0, then the next round).
# Prints every measurement as a JSON line, then a table of medians [min-max] over the
# rounds and the ratios: gpt2 / llama-server at each concurrency, and each server's
# aggregate at N streams / at 1 stream.
#
#   scripts/serve_bench.sh GPT2_BINARY MODEL_DIR [ROUNDS]
# MODEL_DIR: a model directory gpt2 loads, e.g. $PEERS_DIR/perf/124M (random 124M,
# written by the peers' setup.sh); llama-server gets the same weights as GGUF:
# $GGUF_PREFIX-f32.gguf next to gpt2's float32 and $GGUF_PREFIX-q8_0.gguf next to int8
# (bfloat16: -f16, int4: -q4_0), default GGUF_PREFIX=$PEERS_DIR/gguf/gpt2-<basename of
# MODEL_DIR>. Without llama-server or a GGUF only gpt2 runs.
# Env: DTYPES (float32,int8), PARALLEL (8: slots of both servers: gpt2 --parallel,
# llama-server -np, each slot 1024 positions), MAX_TOKENS (64), LEVELS (1,4,8,16),
# PER_CLIENT (requests each client sends one after the other, 2), THREADS (2),
# PEERS_DIR (~/.cache/gpt2-peers), OUT (also write the JSON lines to this file).
set -euo pipefail
BIN=${1:?usage: serve_bench.sh GPT2_BINARY MODEL_DIR [ROUNDS]}
MODEL=${2:?model directory}
ROUNDS=${3:-3}
DTYPES=${DTYPES:-float32,int8}
PARALLEL=${PARALLEL:-8}
MAX_TOKENS=${MAX_TOKENS:-64}
LEVELS=${LEVELS:-1,4,8,16}
PER_CLIENT=${PER_CLIENT:-2}
THREADS=${THREADS:-2}
PEERS_DIR=${PEERS_DIR:-$HOME/.cache/gpt2-peers}
GGUF_PREFIX=${GGUF_PREFIX:-$PEERS_DIR/gguf/gpt2-$(basename "$MODEL")}
LLAMA_SERVER=$PEERS_DIR/llama.cpp/build/bin/llama-server
HERE=$(cd "$(dirname "$0")" && pwd)
PORT_GPT2=${PORT_GPT2:-18181}
PORT_LLAMA=${PORT_LLAMA:-18182}
[ -x "$BIN" ] || { echo "serve_bench.sh: $BIN is not an executable" >&2; exit 2; }
[ -d "$MODEL" ] || { echo "serve_bench.sh: $MODEL is not a directory" >&2; exit 2; }
RESULTS=$(mktemp)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
  rm -f "$RESULTS"
}
trap cleanup EXIT

gguf_for() {  # gpt2 dtype -> the llama.cpp file of the same precision
  case $1 in
    float32) echo "$GGUF_PREFIX-f32.gguf" ;;
    bfloat16) echo "$GGUF_PREFIX-f16.gguf" ;;
    int8) echo "$GGUF_PREFIX-q8_0.gguf" ;;
    int4) echo "$GGUF_PREFIX-q4_0.gguf" ;;
    *) echo "" ;;
  esac
}

wait_health() {  # port pid
  for _ in $(seq 1 1500); do
    kill -0 "$2" 2>/dev/null || { echo "serve_bench.sh: the server on port $1 exited" >&2; return 1; }
    if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$1/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "serve_bench.sh: the server on port $1 did not become healthy" >&2
  return 1
}

measure() {  # label weights round port: one warm-up request, then every level
  python3 "$HERE/serve_bench.py" "http://127.0.0.1:$4" "$LEVELS" "$MAX_TOKENS" "$PER_CLIENT" |
    python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    r.update({"server": sys.argv[1], "weights": sys.argv[2], "round": int(sys.argv[3])})
    print(json.dumps(r), flush=True)
' "$1" "$2" "$3" | tee -a "$RESULTS"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

for r in $(seq 1 "$ROUNDS"); do
  for d in ${DTYPES//,/ }; do
    "$BIN" serve --model "$MODEL" --dtype "$d" --threads "$THREADS" --parallel "$PARALLEL" --port $PORT_GPT2 \
      --queue 256 2>/dev/null &
    SERVER_PID=$!
    wait_health $PORT_GPT2 "$SERVER_PID"
    measure gpt2 "$d" "$r" $PORT_GPT2
    stop_server
    g=$(gguf_for "$d")
    if [ -n "$g" ] && [ -f "$g" ] && [ -x "$LLAMA_SERVER" ]; then
      "$LLAMA_SERVER" -m "$g" -t "$THREADS" -np "$PARALLEL" -c $((PARALLEL * 1024)) --host 127.0.0.1 \
        --port $PORT_LLAMA >/dev/null 2>&1 &
      SERVER_PID=$!
      wait_health $PORT_LLAMA "$SERVER_PID"
      measure llama-server "$(basename "$g" .gguf | sed 's/.*-//')" "$r" $PORT_LLAMA
      stop_server
    fi
  done
done
[ -z "${OUT:-}" ] || cp "$RESULTS" "$OUT"
echo
echo "serve_bench: $ROUNDS rounds, $MAX_TOKENS tokens per request, $PER_CLIENT requests per client," \
  "$PARALLEL slots, $THREADS threads; medians [min-max] over the rounds"
python3 "$HERE/serve_bench.py" --summary "$RESULTS"
