#!/usr/bin/env bash
# Speed and memory of `gpt2 finetune` (docs/finetune.md): random 124M / 355M
# weights (`gpt2 bench --random SIZE --save-random DIR`; an existing
# $WORK/random-SIZE model directory is used as it is), a ~1 MB corpus made from this repo's
# text, a few optimizer steps per setting; tokens/s from the JSONL records
# (the first step, which warms up, is left out) and peak RSS from GNU time.
# Usage: scripts/finetune_bench.sh [path/to/gpt2]   Env: THREADS (default nproc), STEPS (default 4),
#        SETS (default "124M:256 124M:1024 355M:256"), WORK (scratch dir, default /tmp/gpt2-ftbench)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../build/gpt2}"
threads="${THREADS:-$(nproc)}"
steps="${STEPS:-4}"
work="${WORK:-/tmp/gpt2-ftbench}"
[[ -x "$bin" ]] || { echo "finetune_bench.sh: no gpt2 binary at $bin" >&2; exit 2; }
mkdir -p "$work/models"
corpus="$work/corpus.txt"
if [[ ! -s "$corpus" ]]; then
  : > "$corpus"
  while [[ $(stat -c %s "$corpus") -lt 1048576 ]]; do
    cat "$here"/../README.md "$here"/../docs/*.md >> "$corpus"; printf '<|endoftext|>' >> "$corpus"
  done
fi
corpus_tokens=$("$bin" encode --file "$corpus" --count)
echo "== machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $threads threads, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== corpus: $(stat -c %s "$corpus") bytes, $corpus_tokens tokens (ordinary encoding)"
for set in ${SETS:-124M:256 124M:1024 355M:256}; do
  size=${set%%:*}; seq=${set##*:}
  [[ -s "$work/random-$size/hparams.json" ]] || "$bin" bench --random "$size" --seed 1 --save-random "$work/random-$size"
  rm -rf "$work/models/bench-$size-$seq"
  log="$work/bench-$size-$seq.jsonl"
  /usr/bin/time -f "%M %U %S" -o "$work/rss" "$bin" finetune --model "$work/random-$size" --models-dir "$work/models" \
    --run "bench-$size-$seq" --data "$corpus" --seq "$seq" --batch 1 --steps "$steps" --threads "$threads" \
    --device cpu --seed 1 --eval-every 0 --val-fraction 0 --sample-every 0 --format jsonl > "$log"
  python3 - "$log" "$size" "$seq" "$corpus_tokens" $(cat "$work/rss") <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rates = [r["tokens_per_s"] for r in recs[1:]] or [recs[0]["tokens_per_s"]]
rate = sorted(rates)[len(rates) // 2]
rss_mib, cpu_s = int(sys.argv[5]) / 1024, float(sys.argv[6]) + float(sys.argv[7])
tokens = int(sys.argv[3]) * len(recs)
epoch = int(sys.argv[4]) / rate
print(f"{sys.argv[2]} seq {sys.argv[3]} batch 1: {rate:.1f} tokens/s wall (median of {len(rates)} steps after the first), "
      f"peak RSS {rss_mib:.0f} MiB, {cpu_s:.0f} CPU s for the whole run ({tokens} tokens, load and save included), "
      f"1 MB corpus epoch at this rate {epoch/3600:.1f} h")
PY
done
