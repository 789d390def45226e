"""A real HTTP receiver of Roster's webhooks for the tests, verifying every delivery with the
`standardwebhooks` package (PyPI), the library a product would use.

    python webhook_receiver.py PORT DIR

Every request is appended to DIR/received.jsonl as one JSON object: the path, the
`webhook-id`, the parsed body, whether it verified against one of the secrets in DIR/secrets
(one `whsec_` secret a line; rewritten by the test) and which ones, and whether the same
library refused a tampered body and a stale timestamp. The answer's status is the number in
DIR/status (200 when absent); while DIR/slow exists each answer waits that many seconds.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT = int(sys.argv[1])
DIR = sys.argv[2]
LOCK = threading.Lock()


def read(name, default=""):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def verifies(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        secrets = [s for s in read("secrets").splitlines() if s.strip()]
        verified_with = [i for i, s in enumerate(secrets) if verifies(s, body, headers)]
        tampered = body + b" "
        stale = dict(headers)
        if "webhook-timestamp" in headers:
            stale["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) - 3600)
        record = {
            "path": self.path,
            "webhook_id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "sf_signature": headers.get("x-sf-signature"),
            "verified": bool(verified_with),
            "verified_with": verified_with,
            "tampered_refused": bool(secrets) and not any(verifies(s, tampered, headers) for s in secrets),
            "stale_refused": bool(secrets) and not any(verifies(s, body, stale) for s in secrets),
            "received_at": time.time(),
        }
        try:
            record["body"] = json.loads(body)
        except ValueError:
            record["body"] = None
        with LOCK:
            with open(os.path.join(DIR, "received.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        slow = read("slow")
        if slow:
            time.sleep(float(slow))
        status = int(read("status", "200") or "200")
        answer = b'{"ok": true, "note": "' + b"x" * 4000 + b'"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Server(ThreadingHTTPServer):
    # Several workers send their batches at once: queue their connections, do not refuse them.
    request_queue_size = 256


if __name__ == "__main__":
    os.makedirs(DIR, exist_ok=True)
    server = Server(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
