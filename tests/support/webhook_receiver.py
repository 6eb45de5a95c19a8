#!/usr/bin/env python3
"""A webhook receiver for the integration tests, and the signature check.

serve:  python3 webhook_receiver.py serve --out FILE [--fail-first N] [--gone] [--sleep S]
        Listens on a free loopback port, prints "listening on PORT", and appends one
        JSON line per request to FILE: {"headers": {...}, "body": "..."}. It answers
        503 to the first N requests, 410 to every request with --gone, and sleeps S
        seconds before answering with --sleep.

verify: python3 webhook_receiver.py verify --secret whsec_... --file FILE
        Checks every recorded request with the reference Standard Webhooks library
        (PyPI `standardwebhooks`) and prints {"verified": n, "failed": m}.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(args):
    lock = threading.Lock()
    state = {"seen": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            with lock:
                state["seen"] += 1
                seen = state["seen"]
            if args.sleep:
                time.sleep(args.sleep)
            if args.gone:
                status = 410
            elif seen <= args.fail_first:
                status = 503
            else:
                status = 200
            if status == 200:
                record = {
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                with lock:
                    with open(args.out, "a", encoding="utf-8") as f:
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


def verify(args):
    from standardwebhooks.webhooks import Webhook

    hook = Webhook(args.secret)
    verified = failed = 0
    with open(args.file, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            try:
                hook.verify(record["body"], record["headers"])
                verified += 1
            except Exception:  # noqa: BLE001 - any failure counts
                failed += 1
    print(json.dumps({"verified": verified, "failed": failed}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--out", required=True)
    s.add_argument("--fail-first", type=int, default=0)
    s.add_argument("--gone", action="store_true")
    s.add_argument("--sleep", type=float, default=0.0)
    v = sub.add_parser("verify")
    v.add_argument("--secret", required=True)
    v.add_argument("--file", required=True)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    else:
        verify(args)


if __name__ == "__main__":
    sys.exit(main())
