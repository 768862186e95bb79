"""The webhook notifier: one JSON POST, retried with back-off, never raised.

Alerts and incidents are stored before they are posted, so a webhook that keeps failing is
logged (a warning per attempt, an error at the end) and the caller carries on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

logger = logging.getLogger(__name__)


def post_json(url: str, body: dict[str, Any], *, what: str, timeout: float, retries: int) -> bool:
    """POST ``body`` to ``url``, ``retries`` more times after a failure (0.2 s, then doubling);
    whether it was delivered (a 2xx answer). ``what`` names the payload in the log."""
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            response = httpx.post(url, json=body, timeout=timeout)
            if response.is_success:
                return True
            problem = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "webhook %s refused %s (attempt %d of %d): %s",
            url,
            what,
            attempt + 1,
            retries + 1,
            problem,
        )
        if attempt < retries:
            time.sleep(delay)
            delay *= 2
    logger.error("webhook %s never took %s; it stays stored", url, what)
    return False
