"""Sizes in the spec: ``serving.max_body`` as a byte count or a size string (``"10MB"``)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
               "kib": 2**10, "mib": 2**20, "gib": 2**30}  # fmt: skip
_SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*", re.IGNORECASE)
MIN_BODY, MAX_BODY = 2**10, 2**30


def _body_size(value: object) -> int:
    """``serving.max_body``: a byte count (an int) or a size string such as ``"10MB"``,
    ``"512kB"`` or ``"1GiB"``; from 1 KiB to 1 GiB."""
    expected = 'a byte count or a size such as "10MB", "512kB" or "1GiB", from 1KiB to 1GiB'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected {expected} (the largest request body), got {value!r}")
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if not match or match[2].lower() not in _SIZE_UNITS:
            raise ValueError(f"expected {expected} (the largest request body), got {value!r}")
        value = int(match[1]) * _SIZE_UNITS[match[2].lower()]
    if not MIN_BODY <= value <= MAX_BODY:
        raise ValueError(f"expected {expected} (the largest request body), got {value:,} bytes")
    return value


BodySize = Annotated[int, BeforeValidator(_body_size)]
