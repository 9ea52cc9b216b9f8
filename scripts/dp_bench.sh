#!/usr/bin/env bash
# Data-parallel `gpt2 finetune` on one machine (docs/finetune.md, "Data-parallel"):
# 1 process x T threads x --batch 2B against 2 processes x T/2 threads x --batch B
# (the same global batch, so the same training), in interleaved rounds, on random
# 124M weights (`gpt2 bench --random 124M --save-random`). Reports tokens/s of
# each (median over the steps after the first) and the all-reduce seconds per step
# of the 2-process run (gradient averaging, including waiting for the slower rank).
# Usage: scripts/dp_bench.sh [path/to/gpt2]   Env: THREADS (default nproc), STEPS (default 6),
#        BATCH (per process, default 2), SEQ (default 64), ROUNDS (default 2), WORK (default /tmp/gpt2-dpbench)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../build/gpt2}"
threads="${THREADS:-$(nproc)}"
half=$(( threads / 2 > 0 ? threads / 2 : 1 ))
steps="${STEPS:-6}"; batch="${BATCH:-2}"; seq="${SEQ:-64}"; rounds="${ROUNDS:-2}"
work="${WORK:-/tmp/gpt2-dpbench}"
[[ -x "$bin" ]] || { echo "dp_bench.sh: no gpt2 binary at $bin" >&2; exit 2; }
mkdir -p "$work/models"
corpus="$work/corpus.txt"
if [[ ! -s "$corpus" ]]; then
  : > "$corpus"
  while [[ $(stat -c %s "$corpus") -lt 262144 ]]; do
    cat "$here"/../README.md "$here"/../docs/*.md >> "$corpus"; printf '<|endoftext|>' >> "$corpus"
  done
fi
[[ -s "$work/random-124M/hparams.json" ]] || "$bin" bench --random 124M --seed 1 --save-random "$work/random-124M" >/dev/null
common=(finetune --model "$work/random-124M" --models-dir "$work/models" --data "$corpus" --seq "$seq"
        --steps "$steps" --device cpu --seed 1 --eval-every 0 --val-fraction 0 --sample-every 0
        --save-every 0 --format jsonl)
median() { python3 -c 'import json,sys; r=[json.loads(l)["tokens_per_s"] for l in open(sys.argv[1])][1:]; r.sort(); print(f"{r[len(r)//2]:.1f}")' "$1"; }
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; 124M, seq $seq, global batch $((2 * batch)), $steps steps, $(date -u +%Y-%m-%dT%H:%MZ)"
port=$(( 29600 + RANDOM % 1000 ))
for round in $(seq "$rounds"); do
  rm -rf "$work/models/one"
  "$bin" "${common[@]}" --run one --batch $((2 * batch)) --threads "$threads" > "$work/one.jsonl" 2> "$work/one.err"
  echo "round $round: 1 process  x $threads threads x batch $((2 * batch)): $(median "$work/one.jsonl") tokens/s"
  rm -rf "$work/models/two"; port=$((port + 1))
  env RANK=1 LOCAL_RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$bin" "${common[@]}" --run two --batch "$batch" --threads "$half" > /dev/null 2> "$work/two-1.err" &
  pid=$!
  env RANK=0 LOCAL_RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$bin" "${common[@]}" --run two --batch "$batch" --threads "$half" > "$work/two.jsonl" 2> "$work/two-0.err"
  wait "$pid"
  ar=$(sed -n 's/.*all-reduce \([0-9.]*\) s in all.*/\1/p' "$work/two-0.err")
  echo "round $round: 2 processes x $half thread(s) x batch $batch: $(median "$work/two.jsonl") tokens/s;" \
       "all-reduce $(python3 -c "print(f'{$ar / $steps:.3f}')") s per step (497 MB of float32 gradients)"
done
