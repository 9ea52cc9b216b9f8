#!/usr/bin/env bash
# The playground page of `gpt2 serve` in headless Chromium: starts the server on a
# free loopback port, opens /?prompt=...&run=1 (generate, greedy) and
# /?...&mode=evaluate&run=1, and checks each screenshot shows the rank colours
# (generate on a model's greedy tokens: green, rank 1; evaluate on tiny-ref's random
# weights: violet, rank > 1000).
#   scripts/check_playground.sh GPT2_BINARY MODEL_DIR OUT_DIR
# Exit 0: both pages rendered with their colours; 1: not; 2: usage / no Chromium.
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 GPT2_BINARY MODEL_DIR OUT_DIR" >&2; exit 2; fi
bin=$1; model=$2; out=$3
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "check_playground: chromium not installed (scripts/setup.sh installs it)" >&2; exit 2; fi
here=$(dirname "$(readlink -f "$0")")
mkdir -p "$out"
profile=$(mktemp -d)
log="$out/serve.log"
"$bin" serve --model "$model" --host 127.0.0.1 --port 0 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$profile"' EXIT
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
  if [ -n "$port" ] && grep -q "gpt2 serve: loaded" "$log"; then break; fi
  sleep 0.1
done
[ -n "$port" ] || { echo "check_playground: the server did not start: $(cat "$log")" >&2; exit 1; }
shot() {  # url png colour...
  local url=$1 png=$2; shift 2
  rm -f "$png"
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
    --virtual-time-budget=15000 --screenshot="$png" --window-size=1100,700 "$url" >/dev/null 2>&1 || true
  [ -s "$png" ] || { echo "check_playground: no screenshot for $url" >&2; return 1; }
  local stats
  stats=$(/usr/bin/python3 "$here/../tests/tools/png_colours.py" "$png" "$@")
  echo "$png: $stats"
  /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])
missing = [c for c, n in s["counts"].items() if n < 50]
sys.exit("check_playground: colour(s) %s not on the screenshot" % ", ".join(missing) if missing else 0)' "$stats"
}
base="http://127.0.0.1:$port/?prompt=Hello%2C%20my%20dog%20is%20cute&max_tokens=40&temperature=0"
shot "$base&run=1" "$out/playground_generate.png" ADFF80
shot "$base&mode=evaluate&run=1" "$out/playground_evaluate.png" E5B0FF
grep -q "POST /v1/completions 200" "$log" || { echo "check_playground: the page made no completion request" >&2; exit 1; }
echo "check_playground: ok"
