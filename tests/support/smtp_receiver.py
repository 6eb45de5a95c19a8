#!/usr/bin/env python3
"""A real SMTP server for the e-mail tests (aiosmtpd from PyPI).

python3 smtp_receiver.py --out FILE
    Listens on a free loopback port, prints "listening on PORT", and appends one
    JSON line per message it accepted to FILE:
    {"mail_from": "...", "rcpt_tos": [...], "subject": "...", "to": "...", "body": "...",
     "attachments": [{"filename": "...", "type": "...", "content": "..."}]}
    (headers decoded, the text body and text attachments as sent). It runs until killed.
"""

import argparse
import email
import email.policy
import json
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",)) or message
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "to": str(message["to"]),
            "body": part.get_content(),
            "attachments": [
                {"filename": a.get_filename(), "type": a.get_content_type(), "content": a.get_content()}
                for a in message.iter_attachments()
            ],
        }
        with self.lock, open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    port = free_port()
    controller = Controller(Recorder(args.out), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"listening on {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
