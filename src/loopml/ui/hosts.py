"""Answer only to the dashboard's own address: the ``Host`` header check against DNS rebinding.

A web page on ``evil.example`` can make its own name resolve to ``127.0.0.1`` (DNS rebinding);
the browser then treats the dashboard as part of that site, so the page could read it and post
its forms. Such a request still says ``Host: evil.example:PORT``: the dashboard answers only
requests whose ``Host`` is ``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``, the host it
was started with (``--host``), or the address the connection arrived on, where ``PORT`` is the
port the connection arrived on. Anything else is a 400 naming the hosts it answers to.

:func:`allowed_hosts` and :func:`check_host` are pure; :class:`HostCheck` applies them to every
HTTP request of the app it wraps.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from loopml.errors import PageError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("", "0.0.0.0", "::")


def _name(host: str) -> str:
    """``host`` as it appears in a ``Host`` header: lower case, an IPv6 address in brackets."""
    host = host.strip().lower()
    try:
        if ipaddress.ip_address(host.strip("[]")).version == 6:
            return f"[{host.strip('[]')}]"
    except ValueError:
        pass
    return host


def allowed_hosts(port: int | None, *names: str | None) -> list[str]:
    """The ``Host`` values answered for a connection to ``port``: the loopback names and every
    name in ``names`` (the configured host, the local address; a wildcard such as ``0.0.0.0``
    names no host and is skipped), each with ``:port``, and bare too when the port is 80."""
    hosts = list(LOOPBACK_NAMES) + [
        _name(n) for n in names if n is not None and n not in _WILDCARDS
    ]
    unique = list(dict.fromkeys(hosts))
    if port is None:  # no port known (not a TCP socket): the names alone
        return unique
    with_port = [f"{host}:{port}" for host in unique]
    return with_port + (unique if port == 80 else [])


def check_host(header: str | None, allowed: list[str], *, path: str = "/") -> None:
    """Return if ``header`` (the request's ``Host``) is one of ``allowed``, else raise a
    :class:`PageError` (400) naming both and how to reach the dashboard (at ``path``)."""
    given = (header or "").strip().lower()
    if given in allowed:
        return
    shown = ", ".join(allowed)
    raise PageError(
        f"refused a request for host {given or '(none)'!r}: this dashboard answers only to "
        f"{shown} (a page under another name may be a DNS rebinding attack). Open it at "
        f"http://{allowed[0]}{path}, or start it with --host set to the name you use"
    )


class HostCheck:
    """ASGI middleware: every HTTP request to ``app`` must carry an allowed ``Host`` (see the
    module doc); a refused one is answered by ``refuse(request, message)`` and never reaches
    ``app``. ``host`` is the configured host (``--host``), if known."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str | None,
        refuse: Callable[[Request, str], Response],
    ) -> None:
        self.app, self.host, self.refuse = app, host, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            local, port = (scope.get("server") or (None, None))[:2]
            request = Request(scope)
            allowed = allowed_hosts(port, self.host, local)
            home = scope.get("root_path", "").rstrip("/") + "/"
            try:
                check_host(request.headers.get("host"), allowed, path=home)
            except PageError as exc:
                await self.refuse(request, str(exc))(scope, receive, send)
                return
        await self.app(scope, receive, send)
