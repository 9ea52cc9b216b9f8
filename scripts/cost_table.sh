#!/usr/bin/env bash
# How decode cost grows (docs/performance.md, "How cost grows"): `gpt2 bench` on
# random weights of each released size, at each precision — decode tokens/s at
# context 128, 512 and 1000 (batch 1), at batch 1, 8 and 32 (context 128), and
# the peak RSS of the batch-32 run. Prints one markdown row per size and precision.
#   scripts/cost_table.sh [SIZE...]        (default: 124M 355M 774M 1558M)
# Env: GPT2 (binary, default build/gpt2), DTYPES (default "float32 bfloat16 int8 int4"),
# THREADS (default nproc), REPS (default 3), TOKENS (decode steps per run, default 16),
# DIR (where the random model directories are written once, default ~/.cache/gpt2-bench).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GPT2=${GPT2:-$ROOT/build/gpt2}
DTYPES=${DTYPES:-float32 bfloat16 int8 int4}
THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-3}
TOKENS=${TOKENS:-16}
DIR=${DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpt2-bench}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(124M 355M 774M 1558M)
[ -x "$GPT2" ] || { echo "cost_table.sh: no gpt2 binary at $GPT2" >&2; exit 2; }
mkdir -p "$DIR"

echo "| model | weights | ctx 128 | ctx 512 | ctx 1000 | 1000 vs 128 | batch 8 | batch 32 | peak RSS (batch 32) |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
  model="$DIR/random-$size"
  [ -f "$model/model.safetensors" ] || "$GPT2" bench --random "$size" --seed 1 --save-random "$model" -q >&2
  for dt in $DTYPES; do
    run() { "$GPT2" bench --model "$model" --dtype "$dt" --threads "$THREADS" --reps "$REPS" --tokens "$TOKENS" \
              --prompt 8 --json -q "$@"; }
    a=$(run --context 128 --batch 1,8,32)
    b=$(run --context 512 --batch 1)
    c=$(run --context 1000 --batch 1)
    python3 - "$size" "$dt" "$a" "$b" "$c" <<'PY'
import json, sys
size, dt = sys.argv[1], sys.argv[2]
a, b, c = (json.loads(x) for x in sys.argv[3:6])
tps = {d["batch"]: d["tokens_per_s"]["median"] for d in a["decode"]}
t512 = b["decode"][0]["tokens_per_s"]["median"]
t1000 = c["decode"][0]["tokens_per_s"]["median"]
print(f"| {size} | {dt} | {tps[1]:.1f} | {t512:.1f} | {t1000:.1f} | {100 * (t1000 / tps[1] - 1):+.0f}% | "
      f"{tps[8]:.1f} | {tps[32]:.1f} | {a['peak_rss_bytes'] / 2**20:,.0f} MiB |")
PY
  done
done
