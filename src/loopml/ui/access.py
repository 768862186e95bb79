"""Who may change things from the dashboard (today: acknowledge an alert).

Reading is open, like ``/metrics``. Writing follows the server's admin rule:

- With an admin token configured (``LOOPML_ADMIN_TOKEN``), a write must carry it, in the form's
  ``token`` field or as ``Authorization: Bearer <token>``; compared in constant time.
- Without one, writes are accepted only from a loopback client (the dashboard's own machine),
  and only from a page of the dashboard itself: a form post whose ``Origin`` is another site is
  refused, so a web page open in the same browser cannot acknowledge alerts behind the user's
  back (cross-site request forgery). With a token that check is moot: a foreign page cannot know
  the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request

from loopml.errors import AccessDenied


def _loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return host == "localhost"


def check_write(request: Request, admin_token: str | None, form_token: str | None) -> None:
    """Return if ``request`` may change things (see the module doc), else raise
    :class:`AccessDenied` saying why and what to do."""
    if admin_token is not None:
        header = request.headers.get("authorization", "")
        given = form_token or (header[7:] if header.lower().startswith("bearer ") else "")
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
