#!/usr/bin/env bash
# Build the libFuzzer targets of the checkpoint parsers (clang, ASan + UBSan) and
# run each for N seconds (default 60) on a copy of the seed corpus.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   targets: fuzz_tf_index fuzz_safetensors fuzz_safetensors_roundtrip fuzz_prompt_file
#            fuzz_score_record fuzz_train_documents fuzz_serve_request
# Crashes are written to tests/fuzz/out/<target>/ (git-ignored) and make the script fail.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS="${1:-60}"
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(fuzz_tf_index fuzz_safetensors fuzz_safetensors_roundtrip fuzz_prompt_file
                                   fuzz_score_record fuzz_train_documents fuzz_serve_request)
BUILD="${GPT2_FUZZ_BUILD:-$ROOT/build-fuzz}"
OUT="$ROOT/tests/fuzz/out"

# clang and its runtime libraries (libFuzzer, sanitizers) on top of the project's packages.
bash "$ROOT/scripts/setup.sh" clang libclang-rt-14-dev

cmake -S "$ROOT/tests/fuzz" -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$BUILD" -j2 --target "${TARGETS[@]}"

status=0
for t in "${TARGETS[@]}"; do
  case "$t" in
    fuzz_tf_index) seeds="$ROOT/tests/fuzz/corpus/tf_index"; extra=(-max_len=16384) ;;
    fuzz_safetensors|fuzz_safetensors_roundtrip) seeds="$ROOT/tests/fuzz/corpus/safetensors"
      extra=(-max_len=16384 "-dict=$ROOT/tests/fuzz/safetensors.dict") ;;
    fuzz_prompt_file) seeds="$ROOT/tests/fuzz/corpus/prompt_file"; extra=(-max_len=4096) ;;
    fuzz_score_record) seeds="$ROOT/tests/fuzz/corpus/score_record"
      extra=(-max_len=4096 "-dict=$ROOT/tests/fuzz/jsonl.dict") ;;
    fuzz_train_documents) seeds="$ROOT/tests/fuzz/corpus/train_documents"
      extra=(-max_len=4096 "-dict=$ROOT/tests/fuzz/jsonl.dict") ;;
    fuzz_serve_request) seeds="$ROOT/tests/fuzz/corpus/serve_request"
      extra=(-max_len=4096 "-dict=$ROOT/tests/fuzz/serve.dict") ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  work="$OUT/$t"
  mkdir -p "$work/corpus" "$work/crashes"
  cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
  echo "fuzz: running $t for ${SECS}s" >&2
  if ! "$BUILD/$t" "$work/corpus" "$seeds" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -artifact_prefix="$work/crashes/" -print_final_stats=1 "${extra[@]}" \
        2> "$work/log.txt"; then
    echo "fuzz: $t FAILED; see $work/log.txt and $work/crashes/" >&2
    tail -30 "$work/log.txt" >&2
    status=1
  else
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|cov:" "$work/log.txt" | tail -3 >&2 || true
  fi
done
exit $status
