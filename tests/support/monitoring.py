"""What the monitoring tests share: a webhook receiver on 127.0.0.1, the champion's held-out
period."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import polars as pl

from loopml.registry import load_package
from loopml.store import Store


class Webhook:
    """A real HTTP endpoint on 127.0.0.1 that records JSON posts (failing the first ``fail``)."""

    def __init__(self, fail: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.attempts += 1
                if outer.attempts <= fail:
                    self.send_response(503)
                else:
                    outer.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def held_out_start(store: Store, trained: pl.DataFrame) -> Any:
    """When the champion's held-out rows begin: its split is by time, training rows first."""
    sizes = load_package(store, "flights@champion").meta.lineage.sizes
    assert sizes is not None
    return trained.sort("scheduled_departure")["scheduled_departure"][sizes["train"]]
