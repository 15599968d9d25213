"""Typed dependencies of the routes: the server's parts, and the principal proven by the credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from entrypoints.api.server import Server
from entrypoints.auth import Principal
from projections.readside import ReadSide
from workflow.application import Jejak
from workflow.errors import NotAuthorized

bearer = HTTPBearer(auto_error=False, description="An API token (`jejak token issue`) or the identity "
                                                  "provider's JWT, as `Authorization: Bearer …`")


# Cheap dependencies are coroutines: FastAPI runs a plain function in a worker thread, one hop per dependency.
async def get_server(request: Request) -> Server:
    return request.app.state.server


ServerDep = Annotated[Server, Depends(get_server)]


async def get_app(server: ServerDep) -> Jejak:
    return server.app


async def get_read_side(server: ServerDep) -> ReadSide:
    return server.read_side


def current_principal(server: ServerDep,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """Who is calling, from the credential alone (401 without a valid one)."""
    return server.authenticator.principal(credentials.credentials if credentials else None)


async def current_reader(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """A principal that may read cases, histories and audits: anyone but the reporter role, whose credential
    (a public intake desk's) files reports and corrections and reads no one's cases."""
    if principal.actor.role == "reporter":
        raise NotAuthorized("a reporter's credential files reports and corrections; it reads no cases or audits")
    return principal


AppDep = Annotated[Jejak, Depends(get_app)]
ReadSideDep = Annotated[ReadSide, Depends(get_read_side)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
ReaderDep = Annotated[Principal, Depends(current_reader)]
