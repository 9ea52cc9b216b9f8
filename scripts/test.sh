#!/usr/bin/env bash
# Set up (Debian packages), build, and run the whole GoogleTest suite through CTest;
# then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (scripts/sanitize.sh, build-asan/). This is the README's test command and what CI
# runs (.ci/run). GPT2_SKIP_SANITIZE=1 skips the sanitizer pass (quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/setup.sh
start=$(date +%s)
bash scripts/build.sh
built=$(date +%s)
echo "test: build took $((built - start)) s" >&2
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" "$@"
echo "test: tests took $(( $(date +%s) - built )) s" >&2
if [ "${GPT2_SKIP_SANITIZE:-0}" != "1" ]; then
  bash scripts/sanitize.sh "$@"
fi
