#!/usr/bin/env bash
# Build the libraries, gpt2 and the tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (-O1 -g1: line tables for the reports at about half the compile time of -O2 -g;
# -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
# in build-asan/, and run the whole CTest suite
# under them. Fails on any failing test and on any sanitizer report: every report,
# also one from a child process whose exit status a test expected to be non-zero,
# is written to build-asan/sanitizer-reports/ and makes this script fail.
#   scripts/sanitize.sh [ctest args]       (scripts/test.sh runs it after the normal suite)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
reports="$ROOT/$ASAN_BUILD_DIR/sanitizer-reports"

# Options for every instrumented process (the tests and the gpt2 processes they start):
#  exitcode=86          a sanitizer exit is never mistaken for one of gpt2's own exit codes
#  log_path             reports go to files, so none is lost in a subprocess's captured stderr
#  detect_leaks=1       LeakSanitizer on; suppressions in scripts/sanitizers/lsan.supp (each justified there)
#  halt_on_error        abort at the first report
# UBSan: print a stack trace; -fno-sanitize-recover makes every check fatal. (GCC 12's
# combined runtime writes UBSan reports to stderr, not log_path; they exit with 86.)
common="exitcode=86:log_path=$reports/report:abort_on_error=0"
export ASAN_OPTIONS="$common:detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="$common:print_stacktrace=1:halt_on_error=1"

start=$(date +%s)
GEN=(); if command -v ninja >/dev/null && [ ! -f "$ASAN_BUILD_DIR/Makefile" ]; then GEN=(-G Ninja); fi
cmake -S . -B "$ASAN_BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPT2_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" >/dev/null
rm -rf "$reports" && mkdir -p "$reports"
cmake --build "$ASAN_BUILD_DIR" -j "$JOBS"
built=$(date +%s)
echo "sanitize: build took $((built - start)) s" >&2

status=0
# package_deb is left out here: it packs these instrumented binaries and checks the
# package's files, which the normal pass does for the real ones.
ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$(nproc)" -LE '^package$' "$@" || status=1
echo "sanitize: tests took $(( $(date +%s) - built )) s" >&2

if compgen -G "$reports/report.*" >/dev/null; then
  echo "sanitize: FAILED: sanitizer reports:" >&2
  for f in "$reports"/report.*; do echo "---- $f" >&2; cat "$f" >&2; done
  status=1
fi
[ "$status" -eq 0 ] && echo "sanitize: OK (no sanitizer reports)" >&2
exit "$status"
