"""The application factory: one FastAPI application built from the server's settings.

``create_app(settings)`` for tests and embedding; ``app_from_env()`` is what uvicorn's worker processes call
(`jejak serve` puts its options in the environment first).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from entrypoints.api import errors
from entrypoints.api.checkpointer import Checkpointer, interval_minutes
from entrypoints.api.limits import BodyLimit
from entrypoints.api.routes import audits, cases, system
from entrypoints.api.settings import ServerSettings, require_master_key

log = logging.getLogger("jejak.server")

DESCRIPTION = """Event-sourced case workflow for complaints of ASN neutrality violations.

Every request but `/healthz` and `/readyz` needs `Authorization: Bearer …`: an API token from
`jejak token issue`, or a JWT of the configured identity provider. The actor recorded on events is the one the
credential proves. Errors are `application/problem+json` (RFC 9457)."""


INSECURE = ("**INSECURE DEV MODE**: this server runs without a master key; reporters' data keys are stored in "
            "clear. Never use it for real reports.\n\n")


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings.from_env()
    interval_minutes()  # a bad JEJAK_CHECKPOINT_MINUTES stops the start, not a later round
    key_source = require_master_key(settings.insecure_dev)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio.to_thread

        from entrypoints.api.server import Server

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if settings.insecure_dev:
            log.warning("INSECURE DEV MODE: no master key; reporters' data keys are stored in clear beside the "
                        "ciphertext. Never use this store for real reports.")
        else:
            log.info("master key from %s", key_source)
        app.state.server = Server(settings)
        if app.state.server.app.signer is None:
            log.warning("UNSIGNED MODE: no JEJAK_SIGNING_KEY; the hash chain is written unsigned and no checkpoint "
                        "is signed, so the log does not hold against the database's administrator")
        checkpointer = Checkpointer(app.state.server, interval_minutes())
        checkpointer.start()
        try:
            yield
        finally:
            checkpointer.close()
            app.state.server.close()

    description = (INSECURE + DESCRIPTION) if settings.insecure_dev else DESCRIPTION
    app = FastAPIOffline(title="Jejak", version="1", description=description, lifespan=lifespan,
                         swagger_ui_parameters={"validatorUrl": None})  # no call to the online validator
    errors.install(app)
    for module in (cases, audits, system):
        app.include_router(module.router)
    from entrypoints.web import install as install_dashboard

    install_dashboard(app)  # the oversight dashboard's pages under /
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(ServerSettings.from_env())
