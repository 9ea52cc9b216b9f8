#!/usr/bin/env bash
# N back-to-back `gpt2 encode` processes (default 1000), each given random bytes on
# stdin (0..64 KiB, from /dev/urandom: mostly invalid UTF-8) with random output
# flags. Every run must exit 0, print only ids, and warn on stderr when the input
# was not UTF-8; no crash, no signal, no sanitizer report (run it with an ASan
# build's binary through GPT2=build-asan/gpt2 too).
#   scripts/soak/encode.sh [N=1000]
# Env: GPT2 (binary, default build/gpt2), SOAK_DIR (default build/soak), NICE (default 10).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
N=${1:-1000}
GPT2=${GPT2:-$ROOT/build/gpt2}
SOAK_DIR=${SOAK_DIR:-$ROOT/build/soak}
NICE=${NICE:-10}
mkdir -p "$SOAK_DIR"
work=$(mktemp -d "$SOAK_DIR/encode.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0 bytes=0 tokens=0
flags=("" "--json" "--count" "--allow-special")
start=$(date +%s.%N)
for ((i = 0; i < N; i++)); do
  size=$(( (RANDOM * 32768 + RANDOM) % 65537 ))
  head -c "$size" /dev/urandom >"$work/in"
  flag=${flags[$(( RANDOM % ${#flags[@]} ))]}
  rc=0
  nice -n "$NICE" "$GPT2" encode $flag <"$work/in" >"$work/out" 2>"$work/err" || rc=$?
  ok=1
  if [ "$rc" -ne 0 ]; then ok=0
  elif [ "$flag" = "--json" ]; then grep -Eq '^\[([0-9]+(,[0-9]+)*)?\]$' "$work/out" || ok=0
  else [ "$size" -eq 0 ] || grep -Eqv '[^0-9 ]' <(tr -d '\n' <"$work/out") || ok=0
  fi
  if [ "$ok" -eq 0 ]; then
    failures=$((failures + 1))
    cp "$work/in" "$SOAK_DIR/encode_failure_$i.bin"
    echo "encode soak: run $i ($size bytes, flag '$flag') exit $rc; input kept as encode_failure_$i.bin" >&2
    head -5 "$work/err" >&2
  fi
  bytes=$((bytes + size))
  if (( (i + 1) % 100 == 0 )); then echo "encode soak: $((i + 1))/$N runs, $failures failures" >&2; fi
done
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
verdict=PASS; [ "$failures" -eq 0 ] || verdict=FAIL
echo "soak encode processes=$N bytes=$bytes failures=$failures seconds=$secs -> $verdict"
[ "$failures" -eq 0 ]
