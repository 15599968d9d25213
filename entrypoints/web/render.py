"""Rendering the dashboard's pages: one Jinja2 environment per language (autoescaped, gettext from
`i18n`), the security headers every page carries, and refusals shown as pages rather than JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from entrypoints.api import freshness
from entrypoints.api.deps import ServerDep
from entrypoints.api.server import Server
from entrypoints.auth import Principal
from entrypoints.problems import problem_of
from entrypoints.web import disclosure, i18n
from entrypoints.web.session import LANGUAGE_COOKIE, signed_in
from workflow.errors import JejakError

TEMPLATES = Path(__file__).parent / "templates"
# Nothing from another host, no inline script, no plug-ins, no framing; forms post only here.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store"}


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    return env


@dataclass
class Page:
    """What every page knows about its request: the language, who is signed in (None: public) and the
    server's parts."""

    request: Request
    server: Server
    lang: str
    viewer: Principal | None
    min_cases: int
    freshness: dict[str, str] = field(default_factory=dict)

    @cached_property
    def read_side(self):
        """The read models this page reads, as the API's listings and audits do: the replica when the server has
        one (`--read-db`), else the primary; the response says which and at what position (`Jejak-Position`,
        `Jejak-Read-From`)."""
        read_side, self.freshness = freshness.read_models(self.server)
        return read_side

    @property
    def public(self) -> bool:
        return self.viewer is None

    @property
    def formats(self) -> i18n.Formats:
        return i18n.Formats(self.lang, self.server.app.settings.zone)

    def gettext(self, message: str, **values) -> str:
        text = i18n.translations(self.lang).gettext(message)
        return text % values if values else text

    def url(self, path: str, **query) -> str:
        query = {k: v for k, v in query.items() if v not in (None, "")}
        return path + ("?" + urlencode(query) if query else "")

    def render(self, template: str, status: int = 200, **context) -> HTMLResponse:
        html = environment(self.lang).get_template(template).render(
            page=self, f=self.formats, languages=i18n.LANGUAGES, **context)
        return HTMLResponse(html, status_code=status, headers=self.freshness)


def page(request: Request, server: ServerDep) -> Page:
    lang = request.cookies.get(LANGUAGE_COOKIE)
    return Page(request, server, lang if lang in i18n.LANGUAGES else i18n.DEFAULT,
                signed_in(request, server.authenticator), disclosure.min_cases())


PageDep = Annotated[Page, Depends(page)]


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    server = request.app.state.server
    lang = request.cookies.get(LANGUAGE_COOKIE)
    shown = Page(request, server, lang if lang in i18n.LANGUAGES else i18n.DEFAULT,
                 signed_in(request, server.authenticator), disclosure.DEFAULT_MIN_CASES)
    return shown.render("error.html", status=status, status_code=status, detail=detail)


class PageRoute(APIRoute):
    """A dashboard route: HTML refusals (the API's status and message) and the security headers."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def page_handler(request: Request):
            try:
                response = await handler(request)
            except JejakError as error:
                problem = problem_of(error, request.url.path)
                response = error_page(request, problem["status"], problem["detail"])
            except RequestValidationError as error:
                detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
                response = error_page(request, 422, detail)
            response.headers.update(HEADERS)
            return response

        return page_handler
