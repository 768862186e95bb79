"""CSRF tokens for the dashboard's forms: a change must be posted from a page the dashboard served.

A page on another site can make the browser post a form to the dashboard (cross-site request
forgery), but it cannot read the dashboard's pages, so it cannot know this token. Each page
embeds the token in every state-changing form as the hidden field ``csrf_token``; a POST must
carry it, compared in constant time. The token is an HMAC-SHA256 of a fixed purpose under a
secret made fresh when the server starts (:func:`new_secret`) and shared by its workers, so a
restart invalidates the pages served before it.

Why not a library: the Starlette CSRF middlewares (``starlette-csrf``, ``asgi-csrf``) set a
cookie and compare it with a header or field (double submit); the dashboard sets no cookies and
works without JavaScript, so one signed value in the form is all it needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from loopml.errors import AccessDenied

FIELD = "csrf_token"
_PURPOSE = b"loopml dashboard form v1"


def new_secret() -> bytes:
    """A fresh random secret (32 bytes) to sign this server's tokens with."""
    return secrets.token_bytes(32)


class CsrfTokens:
    """Makes and checks the token every form of one dashboard carries (see the module doc)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError(f"the CSRF secret must be at least 16 bytes, got {len(secret)}")
        digest = hmac.new(secret, _PURPOSE, hashlib.sha256).digest()
        self._token = base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token(self) -> str:
        """The value of the hidden ``csrf_token`` field of every form."""
        return self._token

    def check(self, given: str | None) -> None:
        """Return if ``given`` is this dashboard's token, else raise :class:`AccessDenied` (403)
        saying what was wrong and how to fix it."""
        if not given:
            raise AccessDenied(
                f"refused a change without a CSRF token: the form must carry the hidden field "
                f"{FIELD!r} of the dashboard's own page; reload the page and try again (a "
                "script that has the admin token may send it as 'Authorization: Bearer …' "
                "instead)"
            )
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            raise AccessDenied(
                "refused a change with a wrong CSRF token: the page was served before the "
                "dashboard restarted, or the form came from another site; reload the page and "
                "try again"
            )
