"""A loopback HTTP server that accepts Sentry envelopes and keeps them, for the tests.

Point a DSN at it (``server.dsn``); ``server.wait_for(kind)`` returns the envelopes of
that item type ("event", "transaction") as they arrived, decompressed, raw bytes kept.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Envelope:
    def __init__(self, raw: bytes):
        self.raw = raw
        lines = raw.split(b"\n")
        self.header = json.loads(lines[0])
        self.items: list[tuple[dict, object]] = []
        rest = lines[1:]
        while rest and rest[0].strip():
            item_header = json.loads(rest[0])
            length = item_header.get("length")
            if length is not None:
                joined = b"\n".join(rest[1:])
                payload, rest = joined[:length], joined[length + 1:].split(b"\n")
            else:
                payload, rest = rest[1], rest[2:]
            try:
                body = json.loads(payload)
            except ValueError:
                body = payload
            self.items.append((item_header, body))

    def of(self, kind: str) -> list:
        return [body for header, body in self.items if header.get("type") == kind]


class EnvelopeServer:
    def __init__(self):
        self.envelopes: list[Envelope] = []
        self.requests: list[tuple[str, str]] = []  # (path with query, content type) of each POST
        self.arrived = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    # The SDK prefers brotli whenever it can import it (Locust, in requirements-dev, brings it).
                    import brotli

                    body = brotli.decompress(body)
                with server.arrived:
                    server.requests.append((self.path, self.headers.get("Content-Type") or ""))
                    server.envelopes.append(Envelope(body))
                    server.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_OPTIONS(self):  # noqa: N802 (browsers ask before a cross-origin POST)
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "*")
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.dsn = f"http://public0123456789abcdef@127.0.0.1:{self.port}/42"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def raw(self) -> bytes:
        return b"\n".join(envelope.raw for envelope in self.envelopes)

    def wait_for(self, kind: str, timeout: float = 15.0) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = [body for envelope in self.envelopes for body in envelope.of(kind)]
                if found:
                    return found
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {kind} arrived within {timeout} s"
                self.arrived.wait(remaining)
