#!/usr/bin/env bash
# The standard benchmark set of docs/performance.md: memory bandwidth, then
# `gpt2 bench` on random weights (no downloads needed) for each target.
# Usage: scripts/bench.sh [path/to/gpt2 (default: build/gpt2)] [--json]
# Env: THREADS (default: nproc), REPS (default 5), TOKENS (default 128),
#      MODEL (a model name/dir to use instead of random 124M weights).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../build/gpt2}"
shift || true
extra=("$@")
threads="${THREADS:-$(nproc)}"
reps="${REPS:-5}"
tokens="${TOKENS:-128}"
[[ -x "$bin" ]] || { echo "bench.sh: no gpt2 binary at $bin (build it first, or pass its path)" >&2; exit 2; }

echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== memory read bandwidth ($threads threads)"
"$here/membw.sh" "$threads"

common=(--threads "$threads" --reps "$reps" --tokens "$tokens" -q "${extra[@]}")
if [[ -n "${MODEL:-}" ]]; then src124=(--model "$MODEL"); else src124=(--random 124M); fi

echo "== 124M float32: prompts 8/512, decode batch 1/8/32"
"$bin" bench "${src124[@]}" --dtype float32 --prompt 8,512 --batch 1,8,32 "${common[@]}"
echo "== 124M bfloat16: decode batch 1/8"
"$bin" bench "${src124[@]}" --dtype bfloat16 --prompt 8 --batch 1,8 "${common[@]}"
echo "== 124M int8: decode batch 1/8"
"$bin" bench "${src124[@]}" --dtype int8 --prompt 8 --batch 1,8 "${common[@]}"
echo "== 355M float32 / bfloat16: decode batch 1"
"$bin" bench --random 355M --dtype float32 --prompt 8 --batch 1 "${common[@]}"
"$bin" bench --random 355M --dtype bfloat16 --prompt 8 --batch 1 "${common[@]}"
