#!/usr/bin/env bash
# Install every Debian 12 package gpt2 needs to build, test and run.
# Idempotent: packages already present are skipped by apt. Works as root or via sudo.
# Extra package names given as arguments are installed too (scripts/fuzz.sh uses this).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libtorch-dev                # libtorch 1.13 (CPU)
  libgloo-dev                 # headers of Gloo, which libtorch's c10d ProcessGroupGloo (data-parallel finetune) uses
  libopenblas0-openmp         # fast BLAS for libtorch (reference BLAS is ~50x slower)
  nlohmann-json3-dev libcli11-dev libcurl4-openssl-dev libre2-dev
  libsnappy-dev               # Snappy-compressed TensorFlow index blocks
  libgtest-dev libgmock-dev   # tests
  libcpp-httplib-dev          # HTTP/1.1 server of `gpt2 serve` (and the clients of its tests)
  python3                     # local HTTP fault-injection server used by the downloader tests; PNG check
  chromium fonts-dejavu-core  # headless rendering of `gpt2 score --html` reports (scripts/check_html.sh)
  man-db zsh                  # tests of the generated man page (man -l, groff) and zsh completion
  "$@"
)

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present" >&2
fi

# Make sure libtorch picks up OpenBLAS (OpenMP build) rather than the reference BLAS.
if command -v update-alternatives >/dev/null; then
  cand=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp || true)
  if [ -n "$cand" ]; then
    $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$cand" >/dev/null
  fi
  cand=$(update-alternatives --list liblapack.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp || true)
  if [ -n "$cand" ]; then
    $SUDO update-alternatives --set liblapack.so.3-x86_64-linux-gnu "$cand" >/dev/null
  fi
fi

# Node + the official openai npm package for the client test of `gpt2 serve`.
"$(dirname "$0")/setup_node.sh"
