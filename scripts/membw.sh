#!/usr/bin/env bash
# Measures this machine's memory read bandwidth (large array, OpenMP threads).
# Usage: scripts/membw.sh [threads (default: nproc)] [array MiB (default 1024)] [repetitions (default 10)]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
threads="${1:-$(nproc)}"
mib="${2:-1024}"
reps="${3:-10}"
bin="${TMPDIR:-/tmp}/gpt2-membw-$$"
trap 'rm -f "$bin"' EXIT
g++ -O3 -march=native -fopenmp -o "$bin" "$here/membw.cpp"
OMP_NUM_THREADS="$threads" OMP_PROC_BIND=close "$bin" "$mib" "$reps"
