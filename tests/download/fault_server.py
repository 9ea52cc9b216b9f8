#!/usr/bin/env python3
"""HTTP server with injectable faults for the downloader tests (stdlib only).

Usage: fault_server.py ROOT
Serves the files under ROOT (URL path = path under ROOT) on 127.0.0.1 with a
port chosen by the OS, and prints that port on stdout (one line).

GET and HEAD honour "Range: bytes=N-" (206 + Content-Range; 416 with
"Content-Range: bytes */SIZE" when N >= SIZE).

Control endpoints (never faulted, never logged):
  /_control/set?path=/124M/file&mode=MODE[&times=N][&methods=GET,HEAD][&...]
  /_control/clear?path=/124M/file     remove the fault of one path
  /_control/reset                     remove every fault and clear the log
  /_control/log                       JSON list of {"method", "path", "range"}

A fault applies to the next `times` requests of its path (default 1; -1 means
always) whose method is in `methods` (default GET). Modes:
  status        answer `code` (default 500) with an HTML error page; `retry_after`
                adds a Retry-After header
  drop          send the headers and the body up to file offset `after`, then
                close the connection
  ignore_range  ignore Range: always answer 200 with the whole file
  stall         send the body up to file offset `after`, then sleep `seconds`
                (default 60); a request resuming at or past `after` stalls at once
  corrupt       flip one byte in the middle of the file (same size)
  slow          send at about `rate` bytes per second (default 100000)
  length        announce Content-Length `value` (HEAD only makes sense)
"""

import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ROOT = None
LOCK = threading.Lock()
FAULTS = {}
LOG = []


def take_fault(path, method):
    """Returns the fault for this request (consuming one use), or None."""
    with LOCK:
        f = FAULTS.get(path)
        if f is None or method not in f["methods"] or f["times"] == 0:
            return None
        if f["times"] > 0:
            f["times"] -= 1
        return dict(f)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a close ends the body
    server_version = "fault-server/1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_request("GET")

    def do_HEAD(self):
        self.handle_request("HEAD")

    # -- control ----------------------------------------------------------
    def control(self, url):
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        cmd = url.path[len("/_control/"):]
        body = b"ok\n"
        with LOCK:
            if cmd == "set":
                FAULTS[q["path"]] = {
                    "mode": q["mode"],
                    "times": int(q.get("times", "1")),
                    "methods": q.get("methods", "GET").split(","),
                    "code": int(q.get("code", "500")),
                    "retry_after": q.get("retry_after"),
                    "after": int(q.get("after", "0")),
                    "seconds": float(q.get("seconds", "60")),
                    "rate": int(q.get("rate", "100000")),
                    "value": int(q.get("value", "0")),
                }
            elif cmd == "clear":
                FAULTS.pop(q["path"], None)
            elif cmd == "reset":
                FAULTS.clear()
                LOG.clear()
            elif cmd == "log":
                body = json.dumps(LOG).encode()
            else:
                self.send_error(400)
                return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- files ------------------------------------------------------------
    def handle_request(self, method):
        url = urlparse(self.path)
        if url.path.startswith("/_control/"):
            self.control(url)
            return
        rng = self.headers.get("Range")
        with LOCK:
            LOG.append({"method": method, "path": url.path, "range": rng or ""})
        fault = take_fault(url.path, method)
        mode = fault["mode"] if fault else None

        local = os.path.realpath(os.path.join(ROOT, url.path.lstrip("/")))
        if not local.startswith(ROOT + os.sep) or not os.path.isfile(local):
            self.send_plain(404, b"<html>not found</html>")
            return
        if mode == "status":
            extra = {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {}
            self.send_plain(fault["code"], b"<html><body>error page</body></html>", extra)
            return
        with open(local, "rb") as fh:
            data = fh.read()
        if mode == "corrupt" and data:
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]

        start = 0
        if rng and mode != "ignore_range":
            spec = rng.strip().lower()
            if spec.startswith("bytes=") and spec.endswith("-") and spec[6:-1].isdigit():
                start = int(spec[6:-1])
                if start >= len(data):
                    self.send_plain(416, b"", {"Content-Range": "bytes */%d" % len(data)})
                    return
        body = data[start:]
        self.send_response(206 if start > 0 else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        length = fault["value"] if mode == "length" else len(body)
        self.send_header("Content-Length", str(length))
        if start > 0:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        try:
            upto = max(0, fault["after"] - start) if fault else 0
            if mode == "drop":
                self.wfile.write(body[:upto])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            elif mode == "stall":
                self.wfile.write(body[:upto])
                self.wfile.flush()
                time.sleep(fault["seconds"])
            elif mode == "slow":
                chunk = max(1, fault["rate"] // 20)
                for i in range(0, len(body), chunk):
                    self.wfile.write(body[i:i + chunk])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def send_plain(self, code, body, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def main():
    global ROOT
    if len(sys.argv) != 2:
        sys.stderr.write("usage: fault_server.py ROOT\n")
        return 2
    ROOT = os.path.realpath(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
