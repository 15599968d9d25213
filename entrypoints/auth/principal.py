"""The principal: the actor a credential proves, and the credential it came from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from entrypoints.problems import NotAuthenticated
from workflow.actors import Actor


@dataclass(frozen=True)
class Principal:
    actor: Actor  # recorded on the events this principal fires
    credential: str  # "token:ID" or "oidc:SUBJECT": the key of its idempotency records and access log

    def __str__(self) -> str:
        return f"{self.actor} ({self.credential})"


class Authenticator:
    """Turns an ``Authorization`` header into a principal: Jejak API tokens (``jjk_…``) are looked up in the
    store on every request (so a revocation or an expiry counts at once); JWTs are checked by the OIDC
    verifier, when one is configured."""

    def __init__(self, engine: Engine, oidc=None):
        self.engine = engine
        self.oidc = oidc

    def principal(self, token: str | None) -> Principal:
        from entrypoints.auth import tokens

        if not token:
            raise NotAuthenticated("no credential: send 'Authorization: Bearer TOKEN' (an API token from "
                                   "'jejak token issue'" + (", or a JWT of the identity provider)" if self.oidc
                                                            else ")"))
        if token.startswith(tokens.PREFIX):
            return tokens.authenticate(self.engine, token)
        if self.oidc is not None and token.count(".") == 2:
            return self.oidc.principal(token)
        raise NotAuthenticated("not a Jejak API token" + (" nor a JWT" if self.oidc else
                                                          " (no identity provider is configured for JWTs)"))
