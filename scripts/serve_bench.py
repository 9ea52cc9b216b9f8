#!/usr/bin/python3
"""Aggregate generated tokens/s and time to first token of an OpenAI-style
/v1/completions server at several concurrencies (streamed, greedy, fixed
max_tokens, ignore_eos). Standard library only. Used by scripts/serve_bench.sh.

  serve_bench.py URL CONCURRENCY[,C2,...] [MAX_TOKENS] [REQUESTS_PER_CLIENT]
sends one warm-up request, then prints one JSON line per concurrency:
{"concurrency", "tokens_per_s", "ttft_ms_median", "requests", "tokens", "errors", ...}.
Generated tokens are counted from the usage of the last chunk
(stream_options.include_usage), else one per chunk that carries a choice.

  serve_bench.py --summary RESULTS.jsonl
reads those lines with "server" ("gpt2" | "llama-server"), "weights" and "round"
added and prints medians [min-max] over the rounds, gpt2 / llama-server per round
(gpt2 float32 vs f32, bfloat16 vs f16, int8 vs q8_0, int4 vs q4_0) and each
server's aggregate at N streams / its aggregate at 1 stream.
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


def one_request(url, max_tokens, prompt):
    """Returns (seconds to the first generated text, generated tokens)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
                       "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, r.read()[:200]))
    first = None
    chunks = 0
    usage = None
    buf = b""
    while True:
        data = r.read1(65536)
        if not data:
            break
        buf += data
        while b"\n\n" in buf:
            line, buf = buf.split(b"\n\n", 1)
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("usage"):
                usage = j["usage"]
            if j.get("choices"):
                chunks += 1
                if first is None and j["choices"][0].get("text", "") != "":
                    first = time.monotonic()
    conn.close()
    tokens = usage["completion_tokens"] if usage and "completion_tokens" in usage else chunks
    return (first or time.monotonic()) - t0, tokens


def run(url, concurrency, max_tokens, per_client):
    ttfts, errors, tokens = [], [], [0]
    lock = threading.Lock()

    def client(i):
        for k in range(per_client):
            try:
                t, n = one_request(url, max_tokens, "Client %d request %d: the" % (i, k))
                with lock:
                    ttfts.append(t)
                    tokens[0] += n
            except Exception as e:  # noqa: BLE001 - reported, not raised
                with lock:
                    errors.append(str(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return {"concurrency": concurrency, "tokens_per_s": round(tokens[0] / wall, 1),
            "ttft_ms_median": round(1000 * statistics.median(ttfts), 1) if ttfts else None,
            "requests": len(ttfts), "tokens": tokens[0], "expected_tokens": len(ttfts) * max_tokens,
            "errors": len(errors), "first_error": errors[0] if errors else None}


PAIRS = {"float32": "f32", "bfloat16": "f16", "int8": "q8_0", "int4": "q4_0"}


def span(values, fmt="%.1f"):
    if not values:
        return "-"
    return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(values), min(values), max(values))


def summary(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    problems = [r for r in rows if r["errors"] or r["tokens"] != r["expected_tokens"]]
    for r in problems:
        print("WARNING: %s %s round %d at %d streams: %d errors (%s), %d of %d tokens" % (
            r["server"], r["weights"], r["round"], r["concurrency"], r["errors"], r["first_error"],
            r["tokens"], r["expected_tokens"]))
    by = {}
    for r in rows:
        by.setdefault((r["server"], r["weights"]), {}).setdefault(r["concurrency"], {})[r["round"]] = r
    levels = sorted({r["concurrency"] for r in rows})
    head = "%-22s %8s %24s %24s %22s %20s" % ("server", "streams", "tokens/s", "TTFT ms", "xN/x1 (same server)",
                                             "gpt2 / llama-server")
    print(head)
    print("-" * len(head))
    for dtype, peer in PAIRS.items():
        for server, weights in (("gpt2", dtype), ("llama-server", peer)):
            runs = by.get((server, weights))
            if not runs:
                continue
            for c in levels:
                rounds = runs.get(c, {})
                tps = [x["tokens_per_s"] for x in rounds.values()]
                ttft = [x["ttft_ms_median"] for x in rounds.values() if x["ttft_ms_median"] is not None]
                scale = [x["tokens_per_s"] / runs[1][k]["tokens_per_s"] for k, x in rounds.items()
                         if 1 in runs and k in runs[1] and runs[1][k]["tokens_per_s"] > 0]
                ratio = ""
                other = by.get(("llama-server", peer), {}).get(c, {})
                if server == "gpt2" and other:
                    per_round = [x["tokens_per_s"] / other[k]["tokens_per_s"] for k, x in rounds.items()
                                 if k in other and other[k]["tokens_per_s"] > 0]
                    ratio = span(per_round, "%.2f")
                print("%-22s %8d %24s %24s %22s %20s" % ("%s %s" % (server, weights), c, span(tps), span(ttft),
                                                         span(scale, "%.2f") if c != 1 else "", ratio))
    return 1 if problems else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--summary":
        sys.exit(summary(sys.argv[2]))
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    url = sys.argv[1]
    levels = [int(x) for x in sys.argv[2].split(",")]
    max_tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    per_client = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    one_request(url, max_tokens, "Warm-up: the")
    for c in levels:
        print(json.dumps(run(url, c, max_tokens, per_client)), flush=True)


if __name__ == "__main__":
    main()
