#!/usr/bin/env bash
# `gpt2 score` over a large text file in bounded memory: scores a SIZE_MB file
# (default 200) and a smaller one (SMALL_MB, default a tenth of it), sampling RSS
# every few seconds; the big run's
# peak RssAnon (heap; the mapped weights are file pages) must not exceed the small
# run's by more than RSS_SLACK_MB (default 64):
# memory must not grow with the input's size.
#   scripts/soak/score.sh [SIZE_MB=200]
# Env: GPT2 (binary, default build/gpt2), MODEL (default tests/data/tiny-ref: the
# point is memory, not the model; any model directory works), SOAK_DIR (default
# build/soak), INTERVAL (default 5), THREADS (default 1), NICE (default 19),
# INPUT: file (default: the text as one document, `--file`: streamed in 64 KiB
# pieces, docs/score.md) or jsonl (the same text as JSONL records of about 16 KiB,
# `--jsonl --format jsonl`: read one line at a time).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/scripts/soak/lib.sh"
SIZE_MB=${1:-200}
GPT2=${GPT2:-$ROOT/build/gpt2}
MODEL=${MODEL:-$ROOT/tests/data/tiny-ref}
SOAK_DIR=${SOAK_DIR:-$ROOT/build/soak}
INTERVAL=${INTERVAL:-5}
THREADS=${THREADS:-1}
NICE=${NICE:-19}
RSS_SLACK_MB=${RSS_SLACK_MB:-64}
INPUT=${INPUT:-file}
case "$INPUT" in file|jsonl) ;; *) echo "soak score: INPUT must be file or jsonl, got '$INPUT'" >&2; exit 2 ;; esac
if ! "$GPT2" score --help >/dev/null 2>&1; then
  echo "soak score: $GPT2 has no 'score' subcommand" >&2
  exit 2
fi
mkdir -p "$SOAK_DIR"

# Text: the repository's documents and sources repeated until SIZE_MB (real
# English and code, so the tokenizer sees ordinary text).
make_text() {  # make_text FILE MB
  local file=$1 mb=$2 seed="$SOAK_DIR/score_seed.txt"
  cat "$ROOT"/README.md "$ROOT"/docs/*.md "$ROOT"/src/*/*.cpp >"$seed"
  : >"$file.partial"
  while [ "$(stat -c %s "$file.partial")" -lt $((mb * 1048576)) ]; do cat "$seed" >>"$file.partial"; done
  truncate -s $((mb * 1048576)) "$file.partial"
  mv "$file.partial" "$file"
}

# The text of FILE as JSONL records {"id": n, "text": ...} of whole lines, about 16 KiB each.
make_jsonl() {  # make_jsonl TEXT_FILE JSONL_FILE
  python3 - "$1" "$2.partial" <<'EOF'
import json, sys
with open(sys.argv[1], encoding="utf-8", errors="replace") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
    n, chunk, size = 0, [], 0
    for line in f:
        chunk.append(line); size += len(line)
        if size >= 16384:
            out.write(json.dumps({"id": n, "text": "".join(chunk)}) + "\n"); n += 1; chunk, size = [], 0
    if chunk:
        out.write(json.dumps({"id": n, "text": "".join(chunk)}) + "\n")
EOF
  mv "$2.partial" "$2"
}

run() {  # run MB -> "peak_rss_kb seconds exit"
  local mb=$1 text="$SOAK_DIR/score_${1}MB.txt" tag="score_${INPUT}_${1}MB" t0 rc=0 peak input
  [ -f "$text" ] || make_text "$text" "$mb"
  input=(--file "$text")
  if [ "$INPUT" = jsonl ]; then
    [ -f "$text.jsonl" ] || make_jsonl "$text" "$text.jsonl"
    input=(--jsonl "$text.jsonl" --format jsonl)
  fi
  local csv="$SOAK_DIR/$tag.csv"
  t0=$(date +%s)
  nice -n "$NICE" "$GPT2" score --model "$MODEL" "${input[@]}" --threads "$THREADS" \
    >"$SOAK_DIR/$tag.out" 2>"$SOAK_DIR/$tag.err" &
  local pid=$!
  monitor "$pid" 1000000000 "$INTERVAL" "$csv"
  wait "$pid" || rc=$?
  peak=$(awk -F, 'NR > 1 && $3 > m {m = $3} END {print m + 0}' "$csv")  # peak RssAnon
  echo "$peak $(( $(date +%s) - t0 )) $rc"
}

small_mb=${SMALL_MB:-$(( SIZE_MB / 10 > 0 ? SIZE_MB / 10 : 1 ))}
read -r small_peak small_s small_rc <<<"$(run "$small_mb")"
read -r big_peak big_s big_rc <<<"$(run "$SIZE_MB")"
verdict=PASS
[ "$small_rc" -eq 0 ] && [ "$big_rc" -eq 0 ] || verdict="FAIL(exit $small_rc/$big_rc)"
[ $(( big_peak - small_peak )) -le $(( RSS_SLACK_MB * 1024 )) ] || verdict="FAIL(peak RSS grew $(( (big_peak - small_peak) / 1024 )) MiB)"
echo "soak score model=$(basename "$MODEL") input=$INPUT ${small_mb}MB: peak_rss_kb=$small_peak seconds=$small_s exit=$small_rc;" \
     "${SIZE_MB}MB: peak_rss_kb=$big_peak seconds=$big_s exit=$big_rc -> $verdict"
[ "$verdict" = PASS ]
