#!/usr/bin/env bash
# Accuracy of the reduced precisions next to llama.cpp's (docs/performance.md,
# "4-bit weights"): KL(P_float32 || P_reduced) per scored token, top-1 agreement
# and the perplexity change, for gpt2 bfloat16/int8/int4 and llama.cpp
# f16/q8_0/q4_0, on the same random weights and the same text.
#   scripts/kl_vs_llamacpp.sh [SIZE=124M]
# Needs the peers built by ../shared/peers/setup.sh (llama.cpp source tree and
# build under PEERS_DIR; this script builds its llama-perplexity target).
# Weights: `gpt2 bench --random SIZE --seed 1` (normal(0, 0.02) everywhere, the
# same weights scripts/cost_table.sh measures), written once as safetensors,
# then as a TF bundle with ../shared/peers/ref_gpt2.py and converted by
# ../shared/peers/tf_to_gguf.py. (The peers' own random weights, `ref_gpt2.py
# make`, scale the attention projection by 10: sharp, chaotic attention where
# any rounding changes every distribution — KL 0.16-0.26 nats for every
# 16/8/4-bit variant of both engines — so they cannot rank precisions.)
# Both engines score windows of 1024 tokens: llama-perplexity the second half
# of each non-overlapping 1024-token chunk, gpt2 score every token
# (--window 1024 --stride 512).
# Env: GPT2 (default build/gpt2), PEERS_DIR (default ~/.cache/gpt2-peers),
# TEXT (default: the first 24,000 bytes of README.md and docs/*.md), THREADS (2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZE=${1:-124M}
GPT2=${GPT2:-$ROOT/build/gpt2}
PEERS_DIR=${PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gpt2-peers}
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/peers}
THREADS=${THREADS:-2}
WORK=$PEERS_DIR/kl/$SIZE
LLAMA=$PEERS_DIR/llama.cpp
[ -x "$GPT2" ] || { echo "kl_vs_llamacpp.sh: no gpt2 binary at $GPT2" >&2; exit 2; }
[ -d "$LLAMA/build" ] || { echo "kl_vs_llamacpp.sh: no llama.cpp build in $LLAMA (run ../shared/peers/setup.sh)" >&2; exit 2; }
mkdir -p "$WORK"
cmake --build "$LLAMA/build" -j1 --target llama-perplexity llama-quantize >/dev/null
PPL=$LLAMA/build/bin/llama-perplexity

text=$WORK/text.txt
if [ -n "${TEXT:-}" ]; then cp "$TEXT" "$text"; else
  cat "$ROOT"/README.md "$ROOT"/docs/*.md >"$text.all"  # (not piped into head: pipefail would see cat's SIGPIPE)
  head -c 24000 "$text.all" >"$text"; rm "$text.all"
fi

model=$WORK/model
if [ ! -f "$model/model.ckpt.index" ]; then
  "$GPT2" bench --random "$SIZE" --seed 1 --save-random "$model" -q >&2
  # The same tensors as a released TF bundle (HF names back to TF names).
  /usr/bin/python3 - "$PEERS_SRC" "$model" <<'PY'
import json, struct, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from ref_gpt2 import write_tf_bundle
d = sys.argv[2]
raw = open(d + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
tf = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    assert e["dtype"] == "F32", (name, e["dtype"])
    a, b = e["data_offsets"]
    t = np.frombuffer(raw, "<f4", (b - a) // 4, 8 + n + a).reshape(e["shape"])
    parts = name.split(".")
    if parts[0] == "transformer":
        parts = parts[1:]
    if parts[0] == "lm_head":  # tied to wte in GPT-2
        continue
    if parts[0] == "h":
        parts = ["h" + parts[1]] + parts[2:]
    leaf = {"weight": "w", "bias": "b"}[parts[-1]]
    if parts[-2].startswith("ln_"):
        leaf = {"w": "g", "b": "b"}[leaf]
    key = "model/" + "/".join(parts[:-1]) + ("/" + leaf if parts[-2] not in ("wte", "wpe") else "")
    if key.endswith("/w"):
        t = t.reshape((1,) + t.shape)
    tf[key] = t
write_tf_bundle(d + "/model.ckpt", tf)
open(d + "/model.ckpt.meta", "wb").close()
open(d + "/checkpoint", "w").write('model_checkpoint_path: "model.ckpt"\n')
PY
fi
g=$WORK/gpt2-$SIZE
[ -f "$g-f32.gguf" ] || /usr/bin/python3 "$PEERS_SRC/tf_to_gguf.py" "$model" f32 "$g-f32.gguf" >&2
[ -f "$g-f16.gguf" ] || /usr/bin/python3 "$PEERS_SRC/tf_to_gguf.py" "$model" f16 "$g-f16.gguf" >&2
for q in q8_0 q4_0; do
  [ -f "$g-$q.gguf" ] || "$LLAMA/build/bin/llama-quantize" "$g-f32.gguf" "$g-$q.gguf" $q 1 >/dev/null 2>&1
done
# llama-quantize's q4_0 keeps the tied embedding/output matrix in q6_K (its default
# for the output tensor); --pure makes every matrix q4_0, the layout of gpt2's int4.
[ -f "$g-q4_0-pure.gguf" ] || "$LLAMA/build/bin/llama-quantize" --pure "$g-f32.gguf" "$g-q4_0-pure.gguf" q4_0 1 >/dev/null 2>&1

echo "| engine | weights | KL vs float32 (nats/token) | top-1 agreement | perplexity, float32 → reduced | tokens scored |"
echo "|---|---|---|---|---|---|"
"$PPL" -m "$g-f32.gguf" -f "$text" -c 1024 -t "$THREADS" --kl-divergence-base "$WORK/base.kld" >"$WORK/base.log" 2>&1
base_ppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$WORK/base.log")
for q in f16 q8_0 q4_0 q4_0-pure; do
  "$PPL" -m "$g-$q.gguf" -c 1024 -t "$THREADS" --kl-divergence-base "$WORK/base.kld" --kl-divergence >"$WORK/$q.log" 2>&1
  kl=$(sed -n 's/.*Mean *KLD: *\([0-9.e-]*\).*/\1/p' "$WORK/$q.log")
  top=$(sed -n 's/.*Same top p: *\([0-9.]*\).*/\1/p' "$WORK/$q.log")
  qppl=$(sed -n 's/.*Mean PPL(Q) *: *\([0-9.]*\).*/\1/p' "$WORK/$q.log")
  chunks=$(sed -n 's/.*computing over \([0-9]*\) chunks.*/\1/p' "$WORK/$q.log")
  echo "| llama.cpp | $q ($(( $(stat -c %s "$g-$q.gguf") / 1048576 )) MiB file) | $kl | $top% | $base_ppl → $qppl | $((chunks * 512)) |"
done
for dt in bfloat16 int8 int4; do
  out=$("$GPT2" score --model "$model" --file "$text" --dtype "$dt" --compare-dtype float32 \
        --window 1024 --stride 512 --threads "$THREADS" --format jsonl)
  mib=$(( $(stat -c %s "$model/model.$dt.gpt2cache") / 1048576 ))
  /usr/bin/python3 - "$dt ($mib MiB weight cache)" "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print(f"| gpt2 | {sys.argv[1]} | {r['kl_divergence']:.6g} | {100 * r['top1_agreement']:.3f}% | "
      f"{r['reference_perplexity']:.4f} → {r['perplexity']:.4f} | {r['tokens_scored']} |")
PY
done
