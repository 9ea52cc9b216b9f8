#!/usr/bin/env bash
# Node and the official `openai` npm package (v6) for the client test of `gpt2 serve`
# (tests/serve/node/openai_client.test.mjs), installed into tests/serve/node/node_modules
# from the committed package-lock.json. Called by scripts/setup.sh; idempotent.
# openai@6 wants Node >= 20; Debian 12's own nodejs is 18 (the test is skipped by CTest
# when node or the package is missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup_node: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup_node: node $(node --version) is older than 20: openai@6 may not run; the node client test will say so" >&2
fi
if [ -f "$ROOT/tests/serve/node/node_modules/openai/package.json" ]; then
  echo "setup_node: openai $(node -p "require('$ROOT/tests/serve/node/node_modules/openai/package.json').version") present" >&2
else
  echo "setup_node: npm ci in tests/serve/node" >&2
  npm ci --prefix "$ROOT/tests/serve/node" --no-audit --no-fund
fi
