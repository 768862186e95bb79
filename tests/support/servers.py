"""``loopml serve`` (or ``loopml ui``) in its own process on 127.0.0.1, and traffic to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.process = root, port, process
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def stop(self) -> int:
        """SIGTERM, then wait; uvicorn re-raises the signal after its graceful shutdown."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start(
    root: Path,
    *args: str,
    admin_token: str | None = None,
    command: str = "serve",
    ready: str = "/readyz",
) -> Server:
    """``loopml COMMAND --port P ARGS`` in its own process on a free port of 127.0.0.1, once
    ``ready`` answers 200."""
    port = free_port()
    env = {**os.environ, "LOOPML_HOME": str(root / ".loopml")}
    for name in ("LOOPML_DB_URL", "LOOPML_ARTIFACTS", "LOOPML_ADMIN_TOKEN"):
        env.pop(name, None)
    if admin_token is not None:
        env["LOOPML_ADMIN_TOKEN"] = admin_token
    process = subprocess.Popen(
        [sys.executable, "-m", "loopml", command, "--port", str(port), *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Server(root, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            server.stop()
            raise RuntimeError(f"loopml {command} exited early ({process.returncode}): {out}")
        try:
            if server.client.get(ready).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"loopml {command} did not answer {ready} within 60 s")


def as_json(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """``frame``'s rows as JSON-able records (dates and times in ISO 8601)."""
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in frame.to_dicts()
    ]


def send(server: Server, frame: pl.DataFrame, *, labels: bool = True) -> None:
    """Predict ``frame`` in batches of 100 and feed every label back."""
    records = as_json(frame.drop("late"))
    truth = frame["late"].to_list()
    for offset in range(0, len(records), 100):
        response = server.client.post("/predict", json={"records": records[offset : offset + 100]})
        assert response.status_code == 200, response.text
        if labels:
            feedback = [
                {"request_id": p["request_id"], "label": truth[offset + i]}
                for i, p in enumerate(response.json()["predictions"])
            ]
            assert server.client.post("/feedback", json={"feedback": feedback}).status_code == 200
