#!/usr/bin/env bash
# CTest entry of the openai client test: skipped (77) when node or the openai
# package (scripts/setup_node.sh) is missing, or node is older than 20.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node not found: run scripts/setup_node.sh"; exit 77; }
[ -f "$HERE/node_modules/openai/package.json" ] || { echo "openai package not installed: run scripts/setup_node.sh"; exit 77; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "node $(node --version) < 20: openai@6 needs 20"; exit 77; }
exec node "$HERE/openai_client.test.mjs" "$@"
