"""Who may change things from the dashboard (today: acknowledge an alert).

Reading is open, like ``/metrics`` (to requests for the dashboard's own host: see
:mod:`loopml.ui.hosts`). Writing follows the server's admin rule:

- With an admin token configured (``LOOPML_ADMIN_TOKEN``), a write must carry it, in the form's
  ``token`` field or as ``Authorization: Bearer <token>``; compared in constant time.
- Without one, writes are accepted only from a loopback client (the dashboard's own machine),
  and only from a page of the dashboard itself: a form post whose ``Origin`` is another site is
  refused, so a web page open in the same browser cannot acknowledge alerts behind the user's
  back (cross-site request forgery). With a token that check is moot: a foreign page cannot know
  the token.
- Either way, a form post must carry the page's CSRF token (:mod:`loopml.ui.csrf`), so only a
  page the dashboard served can post it. A request that carries the admin token in its
  ``Authorization`` header needs none: a browser never adds that header to a forged post.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

from loopml.errors import AccessDenied
from loopml.ui.csrf import FIELD, CsrfTokens


def _loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return host == "localhost"


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else ""


def check_change(
    request: Request, admin_token: str | None, form: dict[str, list[str]], csrf: CsrfTokens
) -> None:
    """Return if ``request``, with its parsed ``form``, may change things: :func:`check_write`,
    then the form's CSRF token unless the admin token came in the ``Authorization`` header."""
    check_write(request, admin_token, (form.get("token") or [""])[0] or None)
    header = _bearer(request)
    if (
        admin_token is not None
        and header
        and hmac.compare_digest(header.encode(), admin_token.encode())
    ):
        return
    csrf.check((form.get(FIELD) or [""])[0] or None)


def check_write(request: Request, admin_token: str | None, form_token: str | None) -> None:
    """Return if ``request`` may change things by who sent it (see the module doc; the CSRF
    token is :func:`check_change`'s), else raise :class:`AccessDenied` saying why and what to
    do."""
    if admin_token is not None:
        given = form_token or _bearer(request)
        if not given:
            raise AccessDenied(
                "this dashboard needs the admin token for changes: enter it in the "
                "'admin token' field (the LOOPML_ADMIN_TOKEN the server was started with)"
            )
        if not hmac.compare_digest(given.encode(), admin_token.encode()):
            raise AccessDenied("wrong admin token: use the LOOPML_ADMIN_TOKEN of the server")
        return
    host = request.client.host if request.client else None
    if not _loopback(host):
        raise AccessDenied(
            f"no admin token is set, so this dashboard accepts changes only from its own "
            f"machine, and this request came from {host or 'an unknown address'}: use the "
            "dashboard on that machine, or restart it with LOOPML_ADMIN_TOKEN set and enter "
            "the token here"
        )
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise AccessDenied(
            f"refused a change posted from another site ({origin}): acknowledge alerts from "
            "the dashboard's own page"
        )
