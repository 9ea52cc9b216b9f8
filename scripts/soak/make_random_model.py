#!/usr/bin/env python3
"""Write a GPT-2 model directory with random weights (safetensors, Hugging Face
names) in a released size, for soak runs and benchmarks that need a model on
disk but no trained weights. Pure Python (no numpy).

    scripts/soak/make_random_model.py OUT_DIR [--size 124M] [--seed 1]

Weights are drawn from N(0, 0.02) (GPT-2's initialisation), layer norms are 1/0,
biases 0. To stay fast without numpy, each tensor is filled from a pool of 2^20
random values starting at a random offset (the values repeat across tensors;
for a soak run that does not matter, the model just has to sample varied tokens).
The vocabulary files are copied from src/data (the released encoder.json and vocab.bpe).
"""
import argparse
import json
import os
import random
import shutil
import struct
import sys

SIZES = {  # n_layer, n_embd, n_head (n_ctx 1024, n_vocab 50257)
    "124M": (12, 768, 12),
    "355M": (24, 1024, 16),
    "774M": (36, 1280, 20),
    "1558M": (48, 1600, 25),
}


def tensors(n_layer, n_embd, n_vocab, n_ctx):
    yield "wte.weight", [n_vocab, n_embd], "normal"
    yield "wpe.weight", [n_ctx, n_embd], "normal"
    for i in range(n_layer):
        p = f"h.{i}."
        yield p + "ln_1.weight", [n_embd], "ones"
        yield p + "ln_1.bias", [n_embd], "zeros"
        yield p + "attn.c_attn.weight", [n_embd, 3 * n_embd], "normal"
        yield p + "attn.c_attn.bias", [3 * n_embd], "zeros"
        yield p + "attn.c_proj.weight", [n_embd, n_embd], "normal"
        yield p + "attn.c_proj.bias", [n_embd], "zeros"
        yield p + "ln_2.weight", [n_embd], "ones"
        yield p + "ln_2.bias", [n_embd], "zeros"
        yield p + "mlp.c_fc.weight", [n_embd, 4 * n_embd], "normal"
        yield p + "mlp.c_fc.bias", [4 * n_embd], "zeros"
        yield p + "mlp.c_proj.weight", [4 * n_embd, n_embd], "normal"
        yield p + "mlp.c_proj.bias", [n_embd], "zeros"
    yield "ln_f.weight", [n_embd], "ones"
    yield "ln_f.bias", [n_embd], "zeros"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--size", default="124M", choices=sorted(SIZES))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n_layer, n_embd, n_head = SIZES[a.size]
    n_vocab, n_ctx = 50257, 1024
    rng = random.Random(a.seed)
    pool_n = 1 << 20
    pool = struct.pack(f"<{pool_n}f", *(rng.gauss(0.0, 0.02) for _ in range(pool_n)))
    pool2 = pool + pool  # any window of up to pool_n values is one slice

    specs = list(tensors(n_layer, n_embd, n_vocab, n_ctx))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * (-len(hjson) % 8)

    os.makedirs(a.out_dir, exist_ok=True)
    tmp = os.path.join(a.out_dir, "model.safetensors.partial")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name, shape, kind in specs:
            n = 1
            for d in shape:
                n *= d
            if kind == "ones":
                f.write(struct.pack("<f", 1.0) * n)
            elif kind == "zeros":
                f.write(bytes(4 * n))
            else:
                left = n
                while left > 0:
                    take = min(left, pool_n)
                    start = rng.randrange(pool_n)
                    f.write(pool2[4 * start: 4 * (start + take)])
                    left -= take
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(a.out_dir, "model.safetensors"))

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for f in ("encoder.json", "vocab.bpe"):
        shutil.copyfile(os.path.join(root, "src", "data", f), os.path.join(a.out_dir, f))
    with open(os.path.join(a.out_dir, "hparams.json"), "w") as f:
        json.dump({"n_vocab": n_vocab, "n_ctx": n_ctx, "n_embd": n_embd, "n_head": n_head, "n_layer": n_layer}, f,
                  indent=2)
    print(a.out_dir)


if __name__ == "__main__":
    sys.exit(main())
