"""Every error loopml raises on purpose, and the HTTP status each one answers with.

Every message says what failed, what was expected, what was got and how to fix it. The CLI prints
the message and exits non-zero; library users catch :class:`LoopmlError`; the server and the
dashboard answer with :func:`http_status`.

The tree::

    LoopmlError
    ├── SpecError            the project spec is missing, malformed or inconsistent with the data
    ├── DataError            a data source cannot be read or has the wrong shape or columns
    │   ├── FeatureError     a value, column or document the feature pipeline cannot encode
    │   └── ValidationFailed data broke the model's schema (carries the validation report)
    ├── StoreError           the metadata database or the artifact root cannot be used
    │   └── NotFoundError    no such record (dataset version, run, model) or served path
    ├── NotFittedError       the feature pipeline was used before it was fitted
    ├── PackageError         a model package is missing, incomplete, tampered with or untrusted
    ├── RolloutError         a rollout action that does not fit the deployment's state
    │   └── Pinned           a rollout action sent to a server pinned to one model
    ├── RetrainError         a retrain cannot start (a rollout runs, too few labels, a bad policy)
    ├── RequestError         a request body the server cannot read (carries its 4xx status)
    │   ├── PayloadTooLarge  a request body over the spec's serving.max_body (413)
    │   └── RequestTimeout   a request not received within the spec's serving.request_timeout (408)
    ├── InputError           records that do not fit the model's inputs (carries each problem)
    ├── AuthError            a missing or wrong bearer token
    ├── AccessDenied         a write refused (admin off, or the dashboard's token or client)
    ├── PageError            a dashboard request that cannot be answered as asked (carries its 4xx)
    └── ModelFailure         the model raised on a valid request (carries the logged error id)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.data.validate import ValidationReport


class LoopmlError(Exception):
    """Root of every error loopml raises on purpose."""


class SpecError(LoopmlError):
    """The project spec (``loopml.yaml``) is missing, malformed or inconsistent with the data."""


class DataError(LoopmlError):
    """A data source cannot be read, is empty, or does not have the expected shape or columns."""


class FeatureError(DataError):
    """A value, column or document the feature pipeline cannot encode; names the field."""


class ValidationFailed(DataError):
    """Input data broke the model's schema; ``report`` lists every violation."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report


class StoreError(LoopmlError):
    """The metadata database or the artifact folder cannot be reached or holds no such record."""


class NotFoundError(StoreError):
    """A named record (dataset version, run, model) or a served path does not exist."""


class NotFittedError(LoopmlError):
    """The feature pipeline was used before :meth:`~loopml.features.FeaturePipeline.fit`."""


class PackageError(LoopmlError):
    """A model package is missing, incomplete, tampered with, or holds untrusted code."""


class RolloutError(LoopmlError):
    """A rollout action that does not fit the deployment's state (e.g. promote with no canary)."""


class Pinned(RolloutError):
    """A rollout action sent to a server pinned to one model (``loopml serve --model``)."""


class RetrainError(LoopmlError):
    """A retrain cannot start (a rollout runs, too few labels, a bad policy)."""


class RequestError(LoopmlError):
    """A request body the server cannot read; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class PayloadTooLarge(RequestError):
    """A request body over ``serving.max_body``: refused (413) before it is read whole."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is over the server's limit of {limit:,} bytes; send a smaller "
            "body (split a batch into several requests), or raise serving.max_body in the spec "
            '(a byte count or a size such as "50MB")',
            status=413,
        )
        self.limit = limit


class RequestTimeout(RequestError):
    """A request whose headers or body did not arrive within ``serving.request_timeout``
    (a stalled or too slow upload): answered 408, and the connection is closed."""

    def __init__(self, timeout: float, *, part: str = "body", received: int | None = None) -> None:
        got = "" if received is None else f" ({received:,} bytes of it had arrived)"
        check = "its Content-Length and the network" if part == "body" else "the network"
        super().__init__(
            f"the request {part} did not arrive within the server's limit of {timeout:g} s"
            f"{got}; send the whole request without pausing (check the client: {check}), or "
            "raise serving.request_timeout in the spec",
            status=408,
        )
        self.timeout = timeout


class InputError(LoopmlError):
    """Records that do not fit the model's inputs; ``problems`` lists each with its field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        first = problems[0]["message"] if problems else "invalid input"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class AuthError(LoopmlError):
    """A missing or wrong bearer token."""


class AccessDenied(LoopmlError):
    """A write refused: the server's admin endpoints are off (no admin token), or the dashboard
    got no or a wrong admin token, or a remote or foreign client."""


class PageError(LoopmlError):
    """A request the dashboard cannot answer as asked; ``status`` is the HTTP status (4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ModelFailure(LoopmlError):
    """The model raised on a valid request; ``error_id`` points at the logged traceback."""

    def __init__(self, error_id: str) -> None:
        super().__init__(f"model error {error_id}")
        self.error_id = error_id


#: error class -> (HTTP status, the error body's ``type``). The most specific class wins; an
#: error that carries its own ``status`` (RequestError, PageError) answers with that instead.
HTTP_STATUS: dict[type[LoopmlError], tuple[int, str]] = {
    InputError: (422, "invalid_input"),
    FeatureError: (422, "invalid_input"),
    RequestError: (400, "bad_request"),
    PayloadTooLarge: (413, "payload_too_large"),
    RequestTimeout: (408, "request_timeout"),
    PageError: (400, "bad_request"),
    AuthError: (401, "unauthorized"),
    AccessDenied: (403, "forbidden"),
    NotFoundError: (404, "not_found"),
    RolloutError: (409, "conflict"),
    Pinned: (409, "pinned"),
    ModelFailure: (500, "model_error"),
    LoopmlError: (400, "bad_request"),
}


def http_status(exc: LoopmlError) -> tuple[int, str]:
    """The HTTP status and error type that answer ``exc``, from :data:`HTTP_STATUS`."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            status, kind = HTTP_STATUS[cls]
            return getattr(exc, "status", status), kind
    return 500, "internal_error"


def did_you_mean(name: str, choices: Iterable[str], *, ignore_case: bool = False) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close;
    ``ignore_case`` compares case-folded names (``'Carrier'`` finds ``'carrier'``)."""
    if not ignore_case:
        matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
        return f"; did you mean '{matches[0]}'?" if matches else ""
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(choice.casefold(), choice)
    matches = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean '{folded[matches[0]]}'?" if matches else ""


def unknown_column(name: str, columns: Iterable[str], *, where: str = "the data") -> DataError:
    """A :class:`DataError` for a column that is not in ``columns``, with a close-match hint."""
    columns = list(columns)
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    return DataError(
        f"unknown column '{name}' in {where}{did_you_mean(name, columns)} (columns: {shown})"
    )
