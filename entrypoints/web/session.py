"""Signing in to the dashboard: the credential (an API token, or the identity provider's JWT) is kept in a
cookie the page's scripts cannot read (HttpOnly), sent only to this site (SameSite=Lax), only over TLS when the
page came over TLS (Secure), and only for the browser session. The server keeps no session of its own (the
dashboard writes nothing): each request proves the credential again, exactly as an API request does, so a
revoked or expired token stops working at once."""

from __future__ import annotations

from fastapi import Request, Response

from entrypoints.auth import Principal
from entrypoints.problems import NotAuthenticated

COOKIE = "jejak_session"
LANGUAGE_COOKIE = "jejak_lang"


def signed_in(request: Request, authenticator) -> Principal | None:
    """The principal of the session cookie; None when there is none or it no longer proves anyone."""
    credential = request.cookies.get(COOKIE)
    if not credential:
        return None
    try:
        return authenticator.principal(credential)
    except NotAuthenticated:
        return None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def keep(response: Response, request: Request, credential: str) -> None:
    response.set_cookie(COOKIE, credential, httponly=True, secure=_secure(request), samesite="lax", path="/")


def forget(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, httponly=True, secure=_secure(request), samesite="lax", path="/")


def keep_language(response: Response, request: Request, lang: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, httponly=True, secure=_secure(request),
                        samesite="lax", path="/")
