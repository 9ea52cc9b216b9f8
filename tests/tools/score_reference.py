#!/usr/bin/python3
"""Independent float64 reference for `gpt2 score` (does not use the project's code).

Reads tests/data/tiny-ref/model.safetensors (a random GPT-2) and the released
vocabulary (tests/data/tokenizer/encoder.json + vocab.bpe), tokenizes ASCII
texts with its own byte-level BPE, applies Hugging Face's fixed-length-model
window rule, runs a float64 forward pass per window and writes, per case, every
scored token's log-prob, rank (plus the rank range for logits perturbed by
+-RANK_EPS, the float32 model's error bound), entropy and top-5, and the totals.

Needs numpy (Debian: python3-numpy).  Usage:
  /usr/bin/python3 tests/tools/score_reference.py > tests/data/tiny-ref/score_expected.json
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
RANK_EPS = 1e-4  # logits of the float32 model are within this of the float64 ones
TOP = 5

LONG_TEXT = (
    "The committee met on Tuesday to review the budget for the coming year. After a long "
    "discussion about roads, schools and the new library, the members agreed to postpone "
    "the vote until March. \"We need more time to read the numbers,\" said the chair, who "
    "has served for 12 years. Residents who attended the meeting asked questions about "
    "taxes, parking and the old bridge over the river; some of them were angry, others "
    "were simply curious. The next meeting will be held at 7 pm in the town hall, and "
    "everyone is welcome to attend and speak for up to three minutes."
)
SHORT_TEXTS = [
    "Hello, my dog is cute.",
    "It was the best of times, it was the worst of times.",
    "1 2 3 4 5 6 7 8 9 10",
]

# (name, text, eot_prefix, window, stride)
CASES = [("long_w64_s32", LONG_TEXT, True, 64, 32),
         ("long_w64_s17", LONG_TEXT, True, 64, 17),
         ("long_w40_s40", LONG_TEXT, True, 40, 40),
         ("long_noprefix_w64_s32", LONG_TEXT, False, 64, 32)]
CASES += [("short_%d" % i, t, True, 64, 32) for i, t in enumerate(SHORT_TEXTS)]


# ------------------------------------------------------------------ tokenizer
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# GPT-2's pre-tokenizer pattern; for ASCII text \p{L} is [A-Za-z] and \p{N} is [0-9].
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""", re.ASCII)


class BPE:
    def __init__(self, encoder_json, vocab_bpe):
        with open(encoder_json, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(vocab_bpe, encoding="utf-8") as f:
            merges = [tuple(l.split()) for l in f.read().split("\n")[1:] if l.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_map = bytes_to_unicode()
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.byte_decoder = {v: k for k, v in self.byte_map.items()}

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            best, i = min(pairs)
            if best == math.inf:
                break
            a, b = parts[i], parts[i + 1]
            merged, j = [], 0
            while j < len(parts):
                if j < len(parts) - 1 and parts[j] == a and parts[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                else:
                    merged.append(parts[j])
                    j += 1
            parts = merged
        return parts

    def encode(self, text):
        assert all(ord(c) < 128 for c in text), "the reference tokenizer handles ASCII only"
        ids = []
        for piece in PAT.findall(text):
            word = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
            ids += [self.encoder[p] for p in self.bpe(word)]
        return ids

    def piece(self, i):
        return bytes(self.byte_decoder[c] for c in self.decoder[i]).decode("utf-8", errors="replace")


# ------------------------------------------------------------------ model
def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").astype(np.float64).reshape(info["shape"])
    return out


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(w, hp, ids):
    """ids: list of T tokens -> logits [T, V] (float64), positions 0..T-1."""
    T, C, H = len(ids), hp["n_embd"], hp["n_head"]
    D = C // H
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    for l in range(hp["n_layer"]):
        p = "h.%d." % l
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, D).transpose(1, 0, 2) for i in range(3))
        att = q @ k.transpose(0, 2, 1) / math.sqrt(D)
        att[:, mask] = -np.inf
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        x = x + gelu(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + \
            w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
    return x @ w["wte.weight"].T


# ------------------------------------------------------------------ scoring
def windows(n, window, stride):
    """Hugging Face's rule: (begin, end, first scored index)."""
    out, prev_end = [], 0
    for begin in range(0, n, stride):
        end = min(begin + window, n)
        out.append((begin, end, max(prev_end, begin + 1)))
        prev_end = end
        if end == n:
            break
    return out


def score(w, hp, bpe, text, eot_prefix, window, stride):
    ids = bpe.encode(text)
    seq = ([50256] if eot_prefix else []) + ids
    tokens = []
    for begin, end, first in windows(len(seq), window, stride):
        logits = forward(w, hp, seq[begin:end])
        for i in range(first, end):
            z = logits[i - 1 - begin]
            m = z.max()
            lse = m + math.log(np.exp(z - m).sum())
            lp = z - lse
            t = seq[i]
            top = np.argsort(-lp, kind="stable")[:TOP]
            tokens.append({
                "index": i, "id": t, "text": bpe.piece(t),
                "logprob": float(lp[t]),
                "rank": int((z > z[t]).sum()) + 1,
                "rank_min": int((z > z[t] + RANK_EPS).sum()) + 1,
                "rank_max": int((z > z[t] - RANK_EPS).sum()) + 1,
                "entropy": float(-(np.exp(lp) * lp).sum()),
                "top": [{"id": int(j), "logprob": float(lp[j])} for j in top],
            })
    nll = -sum(t["logprob"] for t in tokens)
    n = len(tokens)
    buckets = [0, 0, 0, 0]
    for t in tokens:
        r = t["rank"]
        buckets[0 if r <= 10 else 1 if r <= 100 else 2 if r <= 1000 else 3] += 1
    nbytes = len(text.encode("utf-8"))
    return {"text": text, "ids": ids, "eot_prefix": eot_prefix, "window": window, "stride": stride,
            "tokens_scored": n, "nll": nll, "mean_nll": nll / n, "perplexity": math.exp(nll / n),
            "bytes": nbytes, "bits_per_byte": nll / math.log(2) / nbytes, "bucket_counts": buckets,
            "tokens": tokens}


def main():
    tiny = os.path.join(ROOT, "tiny-ref")
    with open(os.path.join(tiny, "hparams.json")) as f:
        hp = json.load(f)
    w = read_safetensors(os.path.join(tiny, "model.safetensors"))
    bpe = BPE(os.path.join(ROOT, "tokenizer", "encoder.json"), os.path.join(ROOT, "tokenizer", "vocab.bpe"))
    cases = []
    for name, text, eot, window, stride in CASES:
        c = score(w, hp, bpe, text, eot, window, stride)
        c["name"] = name
        cases.append(c)
    json.dump({"note": "float64 reference of tests/tools/score_reference.py on tiny-ref (n_ctx %d)" % hp["n_ctx"],
               "rank_eps": RANK_EPS, "top": TOP, "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
