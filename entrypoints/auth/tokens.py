"""API tokens: 256-bit random secrets, of which the store keeps only the SHA-256.

A token reads ``jjk_<id>_<secret>``: the id (public, 64 bits) finds the row, the secret (256 bits from
`secrets`) is hashed and compared in constant time with the stored hash. A fast hash is enough here: password
hashes (bcrypt, Argon2) are slow to make guessing a *low-entropy* password costly; a 256-bit random secret
cannot be guessed at any hashing speed, and a stolen hash does not give it back (SHA-256 is preimage-resistant).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, create_engine, select, update

from entrypoints.auth.principal import Principal
from entrypoints.problems import NotAuthenticated
from entrypoints.tables import api_token, ensure_tables
from workflow.actors import Actor
from workflow.errors import InvalidField

PREFIX = "jjk_"
MAX_DAYS = 3650


def engine_for_tokens(db: str | None) -> Engine:
    """An engine on the store (``--db``, ``JEJAK_DB`` or jejak.db) with the server's tables in place."""
    from workflow.store import resolve_store

    engine = create_engine(resolve_store(db).sqlalchemy_url())
    ensure_tables(engine)
    return engine


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(engine: Engine, role: str, scope: str | None = None, person: str | None = None,
          expires_days: float | None = None, now: datetime | None = None) -> tuple[str, dict]:
    """A new token for this actor; returns the token (shown once, never stored) and its row."""
    actor = Actor(role, scope or None, person or None)
    actor.validate()
    if actor.role == "system" and (scope or person):
        raise InvalidField("actor", "the system clock has no scope or person", allowed="--role system alone")
    if expires_days is not None and not 0 < expires_days <= MAX_DAYS:
        raise InvalidField("--expires", f"must be more than 0 and at most {MAX_DAYS} days, got {expires_days:g}")
    now = now or datetime.now(timezone.utc)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = {"token_id": token_id, "secret_sha256": _digest(secret), "role": actor.role, "scope": actor.scope,
           "person": actor.id, "created_at": now, "revoked_at": None,
           "expires_at": now + timedelta(days=expires_days) if expires_days is not None else None}
    with engine.begin() as conn:
        conn.execute(api_token.insert().values(**row))
    return f"{PREFIX}{token_id}_{secret}", row


def authenticate(engine: Engine, token: str, now: datetime | None = None) -> Principal:
    token_id, _, secret = token.removeprefix(PREFIX).partition("_")
    if not token_id or not secret or len(token_id) > 32:
        raise NotAuthenticated("malformed API token")
    with engine.connect() as conn:
        row = conn.execute(select(api_token).where(api_token.c.token_id == token_id)).first()
    # compared in constant time, and even for an unknown id, so that timing tells nothing about the secret
    if not hmac.compare_digest(_digest(secret), row.secret_sha256 if row else "0" * 64) or row is None:
        raise NotAuthenticated("unknown API token")
    now = now or datetime.now(timezone.utc)
    if row.revoked_at is not None:
        raise NotAuthenticated(f"API token {token_id} was revoked at {row.revoked_at.isoformat()}")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated(f"API token {token_id} expired at {row.expires_at.isoformat()}")
    return Principal(Actor(row.role, row.scope, row.person), f"token:{token_id}")


def list_tokens(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_token).order_by(api_token.c.created_at)).mappings().all()
    return [{"token_id": r["token_id"], "actor": str(Actor(r["role"], r["scope"], r["person"])),
             "created_at": r["created_at"], "expires_at": r["expires_at"], "revoked_at": r["revoked_at"]}
            for r in rows]


def revoke(engine: Engine, token_id: str, now: datetime | None = None) -> bool:
    """Revoke a token (refused at once by running servers); False if it was already revoked."""
    token_id = token_id.removeprefix(PREFIX).partition("_")[0]  # the id, or a whole token pasted by mistake
    with engine.begin() as conn:
        done = conn.execute(update(api_token).where(api_token.c.token_id == token_id,
                                                    api_token.c.revoked_at.is_(None))
                            .values(revoked_at=now or datetime.now(timezone.utc))).rowcount
        if not done and conn.execute(select(api_token.c.token_id).where(api_token.c.token_id == token_id)).first() \
                is None:
            raise InvalidField("token", f"no token {token_id!r}", allowed="an id listed by 'jejak token list'")
    return bool(done)
