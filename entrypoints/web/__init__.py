"""The oversight dashboard: server-rendered pages of `jejak serve` under ``/`` (one router per page), in
Indonesian and English, readable in public (aggregates only) or signed in (case pages, as the API allows).
Everything it shows comes from the read models; it writes nothing."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    from entrypoints.web.pages import agency, case, integrity, league, overdue, overview, signin

    for module in (overview, league, agency, overdue, case, integrity, signin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
