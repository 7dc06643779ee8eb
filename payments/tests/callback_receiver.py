"""A real store callback receiver for tests: an HTTP server on 127.0.0.1 in a thread.

It verifies X-Signature with the function printed in docs/callbacks.md (loaded
from that file, so the documentation is what the tests run) and answers each
request as its script says: "ok" (200 when the signature verifies, else 401),
"500", or "timeout" (answers only after the client has given up).
"""

import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.conf import settings


def documented_verifier():
    """`verify_signature(header, body, secret, tolerance=300)` exactly as docs/callbacks.md prints it."""
    text = (Path(settings.BASE_DIR) / "docs" / "callbacks.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "docs/callbacks.md", "exec"), namespace)
    return namespace["verify_signature"]


@dataclass
class ReceivedRequest:
    path: str
    headers: dict
    body: bytes
    answer: str
    verified: bool


@dataclass
class Receiver:
    secret: str = ""
    script: list[str] = field(default_factory=list)
    hang_seconds: float = 1.5
    delay_seconds: float = 0.0  # every answer this late: a slow store, so deliveries are in flight for a while
    requests: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self):
        self._verify = documented_verifier()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    answer = receiver.script.pop(0) if receiver.script else "ok"
                verified = receiver._verify(self.headers.get("X-Signature", ""), body, receiver.secret)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body, answer, verified))
                if answer == "timeout":
                    time.sleep(receiver.hang_seconds)
                    status = 200
                elif answer == "ok":
                    status = 200 if verified else 401
                else:
                    status = int(answer)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/p2p"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
