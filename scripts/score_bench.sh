#!/usr/bin/env bash
# Scoring throughput next to llama.cpp's perplexity tool (docs/performance.md,
# "Scoring"): scored tokens per second of
#   gpt2 score --window 1024 --stride 512        (every token, each with >= 512 tokens of context)
#   llama-perplexity -c 1024 -b 1024             (the second half of each 1,024-token chunk:
#                                                  1,023 - 512 = 511 tokens, >= 512 of context)
# on the same random 124M weights (the peers' TF bundle for gpt2, its GGUF
# conversions for llama.cpp) and the same text, at float32 and the reduced
# precisions: gpt2 --dtype bfloat16 / int8 / int4 beside GGUF f16 / q8_0 / q4_0.
# Rounds are interleaved (llama, gpt2, llama, gpt2, ... for each precision in
# turn); each figure is the whole process's wall time (loading included, both
# engines), and the table gives medians, ranges and gpt2 / llama-perplexity, and
# the same per CPU-second (user + system; on a shared machine the wall-clock
# figures swing with the load, CPU time less so).
#   scripts/score_bench.sh [ROUNDS=3]
# Env: GPT2 (default build/gpt2), PEERS_DIR (default ~/.cache/gpt2-peers; built
# by ../shared/peers/setup.sh), TEXT_BYTES (default 180000: the first bytes of
# README.md and docs/*.md), THREADS (2), PRECISIONS (default "f32 16 8 4"),
# OUT (directory for the logs; default a temporary one).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=${1:-3}
GPT2=${GPT2:-$ROOT/build/gpt2}
PEERS_DIR=${PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpt2-peers}
TEXT_BYTES=${TEXT_BYTES:-180000}
THREADS=${THREADS:-2}
PRECISIONS=${PRECISIONS:-f32 16 8 4}
PPL=$PEERS_DIR/llama.cpp/build/bin/llama-perplexity
MODEL=$PEERS_DIR/perf/124M
[ -x "$GPT2" ] || { echo "score_bench.sh: no gpt2 binary at $GPT2" >&2; exit 2; }
[ -x "$PPL" ] || { echo "score_bench.sh: no llama-perplexity at $PPL (run ../shared/peers/setup.sh)" >&2; exit 2; }
[ -d "$MODEL" ] || { echo "score_bench.sh: no random 124M weights in $MODEL (run ../shared/peers/setup.sh)" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

text=$OUT/text.txt
cat "$ROOT"/README.md "$ROOT"/docs/*.md >"$text.all"  # (not piped into head: pipefail would see cat's SIGPIPE)
head -c "$TEXT_BYTES" "$text.all" >"$text"
rm "$text.all"

gguf_of() { case $1 in f32) echo f32 ;; 16) echo f16 ;; 8) echo q8_0 ;; 4) echo q4_0 ;; esac; }
dtype_of() { case $1 in f32) echo float32 ;; 16) echo bfloat16 ;; 8) echo int8 ;; 4) echo int4 ;; esac; }

# Warm-up, untimed: gpt2 writes its weight cache for each reduced precision on first use.
for p in $PRECISIONS; do
  g=$PEERS_DIR/gguf/gpt2-124M-$(gguf_of "$p").gguf
  [ -f "$g" ] || { echo "score_bench.sh: no $g" >&2; exit 2; }
  head -c 2000 "$text" >"$OUT/warm.txt"
  "$GPT2" score --model "$MODEL" --file "$OUT/warm.txt" --dtype "$(dtype_of "$p")" --threads "$THREADS" \
    --window 1024 --stride 512 --format jsonl >/dev/null
done

results=$OUT/results.tsv  # precision engine round scored wall-seconds user-seconds system-seconds
: >"$results"
for r in $(seq 1 "$ROUNDS"); do
  for p in $PRECISIONS; do
    g=$PEERS_DIR/gguf/gpt2-124M-$(gguf_of "$p").gguf
    /usr/bin/time -f "%e %U %S" -o "$OUT/time" \
      "$PPL" -m "$g" -f "$text" -c 1024 -b 1024 -t "$THREADS" >"$OUT/llama-$p-$r.log" 2>&1
    chunks=$(sed -n 's/.*calculating perplexity over \([0-9]*\) chunks.*/\1/p' "$OUT/llama-$p-$r.log")
    [ -n "$chunks" ] || { echo "score_bench.sh: llama-perplexity failed, see $OUT/llama-$p-$r.log" >&2; exit 1; }
    echo -e "$p\tllama\t$r\t$((chunks * 511))\t$(tr ' ' '\t' <"$OUT/time")" >>"$results"
    /usr/bin/time -f "%e %U %S" -o "$OUT/time" \
      "$GPT2" score --model "$MODEL" --file "$text" --dtype "$(dtype_of "$p")" --threads "$THREADS" \
      --window 1024 --stride 512 --format jsonl >"$OUT/gpt2-$p-$r.json"
    scored=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens_scored"])' "$OUT/gpt2-$p-$r.json")
    echo -e "$p\tgpt2\t$r\t$scored\t$(tr ' ' '\t' <"$OUT/time")" >>"$results"
    echo "round $r $p: $(tail -2 "$results" | awk -F'\t' '{printf "%s %.1f tok/s (%.1f per CPU-s)  ", $2, $4 / $5, $4 / ($6 + $7)}')" >&2
  done
done

/usr/bin/python3 - "$results" "$TEXT_BYTES" "$ROUNDS" <<'PY'
import statistics, sys
from collections import defaultdict
wall, cpu = defaultdict(list), defaultdict(list)
scored = {}
for line in open(sys.argv[1]):
    p, engine, r, n, w, u, s = line.split()
    wall[(p, engine)].append(int(n) / float(w))
    cpu[(p, engine)].append(int(n) / (float(u) + float(s)))
    scored[(p, engine)] = int(n)
names = {"f32": ("float32", "f32"), "16": ("bfloat16", "f16"), "8": ("int8", "q8_0"), "4": ("int4", "q4_0")}
fmt = lambda v: f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})"
print(f"{sys.argv[2]} bytes of text, {sys.argv[3]} interleaved rounds; scored tokens per wall-clock second "
      "(and per CPU-second, user + system): median (min-max)")
print()
print("| precision (gpt2 / llama.cpp) | llama-perplexity -c 1024 -b 1024 | gpt2 score --window 1024 --stride 512 "
      "| gpt2 / llama (wall) | per CPU-s: llama | gpt2 | gpt2 / llama (CPU) |")
print("|---|---|---|---|---|---|---|")
for p in ["f32", "16", "8", "4"]:
    if (p, "gpt2") not in wall:
        continue
    lw, gw, lc, gc = wall[(p, "llama")], wall[(p, "gpt2")], cpu[(p, "llama")], cpu[(p, "gpt2")]
    print(f"| {names[p][0]} / {names[p][1]} | {fmt(lw)} [{scored[(p, 'llama')]} tok] | {fmt(gw)} [{scored[(p, 'gpt2')]} tok] "
          f"| **{statistics.median(gw) / statistics.median(lw):.2f}x** | {fmt(lc)} | {fmt(gc)} "
          f"| {statistics.median(gc) / statistics.median(lc):.2f}x |")
PY
echo "logs in $OUT" >&2
