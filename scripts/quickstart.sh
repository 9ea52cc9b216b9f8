#!/usr/bin/env bash
# The main job in one command: set up, build, fetch 124M on first use (verified;
# skipped when already complete), then generate text from a prompt.
#   bash scripts/quickstart.sh "Your prompt here" [more gpt2 generate options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
MODEL=${GPT2_MODEL:-124M}
PROMPT=${1:-"In a shocking finding, scientist discovered a herd of unicorns living in a remote, previously unexplored valley, in the Andes Mountains."}
shift || true
./build/gpt2 download "$MODEL"
exec ./build/gpt2 generate --model "$MODEL" --top-k 40 --prompt "$PROMPT" "$@"
