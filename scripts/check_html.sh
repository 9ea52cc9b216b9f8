#!/usr/bin/env bash
# Renders an HTML page in headless Chromium (no network, fresh profile) and
# checks the screenshot: not blank, and (optionally) showing each given colour.
#   scripts/check_html.sh PAGE.html OUT.png [RRGGBB ...]
# Exit 0: rendered and every colour is present (at least 50 pixels each);
# 1: blank or a colour missing; 2: usage / no Chromium.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 PAGE.html OUT.png [RRGGBB ...]" >&2; exit 2; fi
page=$(readlink -f "$1"); out=$2; shift 2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "check_html: chromium not installed (scripts/setup.sh installs it)" >&2; exit 2; fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$out" --window-size=1200,900 "file://$page" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then echo "check_html: no screenshot written for $page" >&2; exit 1; fi
here=$(dirname "$(readlink -f "$0")")
stats=$(/usr/bin/python3 "$here/../tests/tools/png_colours.py" "$out" "$@")
echo "$stats"
/usr/bin/python3 - "$stats" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
if s["distinct"] < 8:
    sys.exit("check_html: the screenshot is blank (%d distinct colours)" % s["distinct"])
missing = [c for c, n in s["counts"].items() if n < 50]
if missing:
    sys.exit("check_html: colour(s) %s not on the screenshot" % ", ".join(missing))
PY
