"""Signing in and out, and choosing the language. Sign-in takes an API token (`jejak token issue`) or the
identity provider's JWT, proves it exactly as the API does, and keeps it in the session cookie (see
`entrypoints.web.session`). Posts from another site are refused (their Origin is not this one)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from entrypoints.problems import NotAuthenticated
from entrypoints.web import i18n, session
from entrypoints.web.render import PageDep, PageRoute
from workflow.errors import InvalidField, NotAuthorized

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MAX_CREDENTIAL = 8192  # an API token is ~70 characters, a JWT a few kB


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise NotAuthorized(f"a form of another site ({origin}) cannot sign in or out here")


def local_path(next_url: str | None) -> str:
    """Only a path on this site: never a redirect to another host."""
    parts = urlsplit(next_url or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@router.get("/signin", name="signin")
def signin_form(page: PageDep):
    return page.render("signin.html", nav="", problem=None)


@router.post("/signin")
async def signin(request: Request, page: PageDep):
    same_origin(request)
    body = await request.body()
    if len(body) > MAX_CREDENTIAL:
        raise InvalidField("credential", "too long", allowed=f"at most {MAX_CREDENTIAL} characters")
    credential = (parse_qs(body.decode("utf-8", "replace")).get("credential") or [""])[0].strip()
    try:
        principal = page.server.authenticator.principal(credential)
    except NotAuthenticated as error:
        return page.render("signin.html", status=401, nav="", problem=str(error))
    if principal.actor.role == "reporter":
        return page.render("signin.html", status=403, nav="",
                           problem=page.gettext("A reporter's credential reads no cases; public pages need none."))
    response = RedirectResponse("/", status_code=303)
    session.keep(response, request, credential)
    return response


@router.post("/signout")
def signout(request: Request):
    same_origin(request)
    response = RedirectResponse("/", status_code=303)
    session.forget(response, request)
    return response


@router.get("/language/{lang}")
def language(lang: str, request: Request, next: str | None = None):
    if lang not in i18n.LANGUAGES:
        raise InvalidField("language", f"not offered: {lang!r}", allowed=tuple(i18n.LANGUAGES))
    response = RedirectResponse(local_path(next), status_code=303)
    session.keep_language(response, request, lang)
    return response
