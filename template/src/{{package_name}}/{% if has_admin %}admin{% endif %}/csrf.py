"""CSRF protection of the back office: a token per session, sent back with every write.

SQLAdmin has none of its own. The token lives in the signed session cookie; every page carries
it (templates/sqladmin/base.html), which adds it to each form as `csrf_token` and to each
jQuery request as the `X-CSRF-Token` header. A write without the session's token is refused
with 403. The session cookie is SameSite=strict as well: a browser does not send it with a
request another site starts.
"""

import hmac
import secrets

from starlette.requests import Request

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token(request: Request) -> str:
    """The session's token, made on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def renew_csrf_token(request: Request) -> None:
    """A new token (at login: a token seen before the login is no longer accepted)."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)


async def csrf_valid(request: Request) -> bool:
    """Whether the request carries the session's token (header, else form field)."""
    expected = request.session.get(SESSION_KEY)
    if not isinstance(expected, str):
        return False
    sent: object = request.headers.get(HEADER)
    if sent is None:
        # Starlette keeps the parsed form on the request: the view reads the same one.
        sent = (await request.form()).get(FORM_FIELD)
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())
