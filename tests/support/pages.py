"""A page of the session's headless browser (the ``browser`` fixture, tests/plugins/browser.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_page(browser: Any, path: Path | str) -> tuple[Any, list[str], list[str]]:
    """Open ``path`` (a file, or a URL) in a new page; the page, its console errors, and every
    URL it requested."""
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path if isinstance(path, str) else path.as_uri())
    return page, problems, requests
