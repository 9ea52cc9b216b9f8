#!/usr/bin/python3
"""Aggregate generated tokens/s and time to first token of an OpenAI-style
/v1/completions server at several concurrencies (streamed, greedy, fixed
max_tokens, ignore_eos). Standard library only. Used by scripts/serve_bench.sh.

  serve_bench.py URL CONCURRENCY[,C2,...] [MAX_TOKENS] [REQUESTS_PER_CLIENT]
prints one JSON line per concurrency: {"concurrency", "tokens_per_s", "ttft_ms_median", "errors"}.
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


def one_request(url, max_tokens, prompt):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True,
                       "stream": True})
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, r.read()[:200]))
    first = None
    chunks = 0
    buf = b""
    while True:
        data = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not data:
            break
        buf += data
        while b"\n\n" in buf:
            line, buf = buf.split(b"\n\n", 1)
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("choices") and j["choices"][0].get("text", "") != "" and first is None:
                first = time.monotonic()
            chunks += 1
    conn.close()
    return (first or time.monotonic()) - t0


def run(url, concurrency, max_tokens, per_client):
    ttfts, errors = [], []
    lock = threading.Lock()

    def client(i):
        for k in range(per_client):
            try:
                t = one_request(url, max_tokens, "Client %d request %d: the" % (i, k))
                with lock:
                    ttfts.append(t)
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
    done = len(ttfts)
    return {"concurrency": concurrency, "tokens_per_s": round(done * max_tokens / wall, 1),
            "ttft_ms_median": round(1000 * statistics.median(ttfts), 1) if ttfts else None,
            "requests": done, "errors": len(errors), "first_error": errors[0] if errors else None}


def main():
    url = sys.argv[1]
    levels = [int(x) for x in sys.argv[2].split(",")]
    max_tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    per_client = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    for c in levels:
        print(json.dumps(run(url, c, max_tokens, per_client)), flush=True)


if __name__ == "__main__":
    main()
