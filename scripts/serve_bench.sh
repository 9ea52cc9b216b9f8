#!/usr/bin/env bash
# Serving speed of `gpt2 serve` next to llama.cpp's llama-server on the same random
# weights (../shared/peers/README.md, item 5): aggregate generated tokens/s and median
# time to first token at 1, 4, 8 and 16 concurrent streamed requests (greedy,
# MAX_TOKENS each, ignore_eos), the servers interleaved round by round.
#
#   scripts/serve_bench.sh GPT2_BINARY MODEL_DIR [GGUF] [DTYPES] [ROUNDS]
# MODEL_DIR: a model directory (e.g. $PEERS_DIR/perf/124M, random 124M); GGUF: the same
# weights for llama-server (skipped when absent or llama-server is not built);
# DTYPES: comma list for gpt2 (default float32,int8). Env: PARALLEL (8), MAX_TOKENS (64),
# LEVELS (1,4,8,16), THREADS (2), PEERS_DIR (~/.cache/gpt2-peers).
set -euo pipefail
BIN=${1:?usage: serve_bench.sh GPT2_BINARY MODEL_DIR [GGUF] [DTYPES] [ROUNDS]}
MODEL=${2:?model directory}
GGUF=${3:-}
DTYPES=${4:-float32,int8}
ROUNDS=${5:-2}
PARALLEL=${PARALLEL:-8}
MAX_TOKENS=${MAX_TOKENS:-64}
LEVELS=${LEVELS:-1,4,8,16}
THREADS=${THREADS:-2}
PEERS_DIR=${PEERS_DIR:-$HOME/.cache/gpt2-peers}
LLAMA_SERVER=$PEERS_DIR/llama.cpp/build/bin/llama-server
HERE=$(cd "$(dirname "$0")" && pwd)
PORT_GPT2=18181
PORT_LLAMA=18182

wait_health() {  # port
  for _ in $(seq 1 600); do
    if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$1/health').status == 200 else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "server on port $1 did not become healthy" >&2
  return 1
}

bench_gpt2() {  # dtype round
  "$BIN" serve --model "$MODEL" --dtype "$1" --threads "$THREADS" --parallel "$PARALLEL" --port $PORT_GPT2 \
    --queue 256 2>/dev/null &
  local pid=$!
  wait_health $PORT_GPT2
  python3 "$HERE/serve_bench.py" "http://127.0.0.1:$PORT_GPT2" "$LEVELS" "$MAX_TOKENS" 2 |
    sed "s/^/{\"server\": \"gpt2 $1\", \"round\": $2, \"result\": /; s/\$/}/"
  kill -TERM $pid
  wait $pid || true
}

bench_llama() {  # round
  "$LLAMA_SERVER" -m "$GGUF" -t "$THREADS" -np "$PARALLEL" -c $((PARALLEL * 1024)) --host 127.0.0.1 \
    --port $PORT_LLAMA >/dev/null 2>&1 &
  local pid=$!
  wait_health $PORT_LLAMA
  python3 "$HERE/serve_bench.py" "http://127.0.0.1:$PORT_LLAMA" "$LEVELS" "$MAX_TOKENS" 2 |
    sed "s/^/{\"server\": \"llama-server\", \"round\": $1, \"result\": /; s/\$/}/"
  kill -TERM $pid
  wait $pid || true
}

for r in $(seq 1 "$ROUNDS"); do
  for d in ${DTYPES//,/ }; do
    bench_gpt2 "$d" "$r"
    if [ -n "$GGUF" ] && [ -x "$LLAMA_SERVER" ]; then bench_llama "$r"; fi
  done
done
