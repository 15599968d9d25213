"""OIDC: a JWT from the institution's identity provider, checked with PyJWT against the provider's JWKS.

Configured from the environment (``OIDCSettings.from_env``):

``JEJAK_OIDC_ISSUER``, ``JEJAK_OIDC_AUDIENCE``
    the ``iss`` and ``aud`` a token must carry;
``JEJAK_OIDC_JWKS_URL`` or ``JEJAK_OIDC_JWKS_FILE``
    where the provider's public keys are (fetched by PyJWT's `PyJWKClient`, cached five minutes; a key id it
    does not know makes it fetch the set again once);
``JEJAK_OIDC_ROLE_CLAIM`` (``jejak_role``), ``JEJAK_OIDC_SCOPE_CLAIM`` (``jejak_scope``),
``JEJAK_OIDC_PERSON_CLAIM`` (``sub``)
    the claims that give the actor's role, scope and person (``ROLE[:SCOPE][@PERSON]``);
``JEJAK_OIDC_ALGORITHMS``
    the accepted signature algorithms, asymmetric only (default: RS256, RS384, RS512, PS256, PS384, PS512,
    ES256, ES384, ES512, EdDSA).

A token must be signed with a key of the set named by its ``kid``, and carry ``exp``, ``iss``, ``aud`` and ``sub``;
``alg: none``, an HMAC algorithm, a wrong issuer or audience, an expired token (30 s leeway for clock skew),
a bad signature or an unknown key id are refused (HTTP 401).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jwt

from entrypoints.auth.principal import Principal
from entrypoints.problems import NotAuthenticated, Unavailable
from workflow.actors import Actor
from workflow.errors import InvalidField, NotAuthorized

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class OIDCSettings:
    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: str | None = None
    role_claim: str = "jejak_role"
    scope_claim: str = "jejak_scope"
    person_claim: str = "sub"
    algorithms: tuple[str, ...] = ASYMMETRIC

    @classmethod
    def from_env(cls, env=None) -> OIDCSettings | None:
        """The settings, or None when ``JEJAK_OIDC_ISSUER`` is not set (API tokens only)."""
        env = os.environ if env is None else env
        issuer = env.get("JEJAK_OIDC_ISSUER")
        if not issuer:
            return None
        audience = env.get("JEJAK_OIDC_AUDIENCE")
        url, path = env.get("JEJAK_OIDC_JWKS_URL"), env.get("JEJAK_OIDC_JWKS_FILE")
        if not audience:
            raise InvalidField("JEJAK_OIDC_AUDIENCE", "required with JEJAK_OIDC_ISSUER",
                               allowed="the audience (client id) tokens are issued for")
        if bool(url) == bool(path):
            raise InvalidField("JEJAK_OIDC_JWKS_URL/JEJAK_OIDC_JWKS_FILE", "give exactly one",
                               allowed="the identity provider's JWKS URL, or a file holding its key set")
        algorithms = tuple(a.strip() for a in env.get("JEJAK_OIDC_ALGORITHMS", ",".join(ASYMMETRIC)).split(",")
                           if a.strip())
        wrong = [a for a in algorithms if a not in ASYMMETRIC]
        if wrong or not algorithms:
            raise InvalidField("JEJAK_OIDC_ALGORITHMS", f"not asymmetric signature algorithms: {wrong or '(none)'}",
                               allowed=ASYMMETRIC)
        return cls(issuer, audience, url, path, env.get("JEJAK_OIDC_ROLE_CLAIM", "jejak_role"),
                   env.get("JEJAK_OIDC_SCOPE_CLAIM", "jejak_scope"), env.get("JEJAK_OIDC_PERSON_CLAIM", "sub"),
                   algorithms)


class OIDCVerifier:
    def __init__(self, settings: OIDCSettings):
        self.settings = settings
        if settings.jwks_url:
            self.client = jwt.PyJWKClient(settings.jwks_url, cache_jwk_set=True, lifespan=300, timeout=10)
            self.key_set = None
        else:
            try:
                with open(settings.jwks_file, encoding="utf-8") as file:
                    self.key_set = jwt.PyJWKSet.from_json(file.read())
            except (OSError, ValueError, jwt.PyJWKSetError) as error:
                raise InvalidField("JEJAK_OIDC_JWKS_FILE", f"cannot read a key set from {settings.jwks_file}: "
                                                           f"{error}") from None
            self.client = None

    def _key(self, kid: str | None):
        if not isinstance(kid, str) or not kid:
            raise NotAuthenticated("the JWT names no key id (kid)")
        if self.key_set is not None:
            try:
                return self.key_set[kid].key
            except KeyError:
                raise NotAuthenticated(f"unknown key id {kid!r}") from None
        try:
            return self.client.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError as error:
            raise Unavailable(f"cannot fetch the identity provider's keys: {error}") from None
        except jwt.PyJWKClientError:
            raise NotAuthenticated(f"unknown key id {kid!r}") from None

    def principal(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as error:
            raise NotAuthenticated(f"not a readable JWT: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in s.algorithms:
            raise NotAuthenticated(f"JWT algorithm {algorithm!r} is not accepted (allowed: {', '.join(s.algorithms)})")
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=s.audience, issuer=s.issuer,
                                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the JWT has expired") from None
        except jwt.InvalidTokenError as error:  # bad signature, wrong issuer or audience, missing claim…
            raise NotAuthenticated(f"JWT refused: {error}") from None
        return Principal(self._actor(claims), f"oidc:{claims['sub']}")

    def _actor(self, claims: dict) -> Actor:
        s = self.settings
        role, scope = claims.get(s.role_claim), claims.get(s.scope_claim)
        person = claims.get(s.person_claim) if role != "reporter" else None
        try:
            if not isinstance(role, str) or not all(isinstance(v, (str, type(None))) for v in (scope, person)):
                raise InvalidField(s.role_claim, f"claims {s.role_claim}/{s.scope_claim}/{s.person_claim} must be text")
            actor = Actor(role, scope or None, person or None)
            actor.validate()
        except InvalidField as error:
            raise NotAuthorized(f"the identity provider's claims name no valid Jejak actor: {error}") from None
        return actor
