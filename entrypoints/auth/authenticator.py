"""From a request's credential to its principal: Jejak API tokens or, when an identity provider is configured,
its JWTs."""

from __future__ import annotations

from sqlalchemy import Engine

from entrypoints.auth import tokens
from entrypoints.auth.principal import Principal
from entrypoints.problems import NotAuthenticated


class Authenticator:
    """Turns an ``Authorization`` header into a principal: Jejak API tokens (``jjk_…``) are looked up in the
    store on every request (so a revocation or an expiry counts at once); JWTs are checked by the OIDC
    verifier, when one is configured."""

    def __init__(self, engine: Engine, oidc=None):
        self.engine = engine
        self.oidc = oidc

    def principal(self, token: str | None) -> Principal:
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
