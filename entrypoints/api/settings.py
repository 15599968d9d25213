"""The server's settings, from `jejak serve`'s options and the environment (so that every worker process
started by uvicorn builds the same application)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from entrypoints.auth.oidc import OIDCSettings
from workflow.errors import InvalidField
from workflow.privacy import configured_master_key

MASTER_KEY, MASTER_KEY_FILE = "JEJAK_MASTER_KEY", "JEJAK_MASTER_KEY_FILE"
DEFAULT_MAX_BODY = 1 << 20  # 1 MiB: a report is a few kB; bigger bodies are refused with 413 before parsing
# Who keeps the read models current: each read catching up first (one server), this process standing for the
# election of the one follower (projections.leader), or another process (`jejak project --follow`, servers).
PROJECTIONS = ("inline", "follow", "external")


@dataclass(frozen=True)
class ServerSettings:
    db: str | None = None
    insecure_dev: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY
    oidc: OIDCSettings | None = None
    threads: int = 8  # requests run at once per process (each holds database connections while it runs)
    read_db: str | None = None  # a streaming replica of the store: listings and audits are read there
    projections: str = "inline"
    min_position_wait: float = 2.0  # seconds a read with ?min_position=N waits for the read models to reach N

    @classmethod
    def from_env(cls, env=None) -> ServerSettings:
        env = os.environ if env is None else env
        try:
            max_body = int(env.get("JEJAK_MAX_BODY_BYTES", DEFAULT_MAX_BODY))
            threads = int(env.get("JEJAK_SERVER_THREADS", 8))
        except ValueError:
            raise InvalidField("JEJAK_MAX_BODY_BYTES/JEJAK_SERVER_THREADS", "must be whole numbers") from None
        if max_body < 1024 or threads < 1:
            raise InvalidField("JEJAK_MAX_BODY_BYTES/JEJAK_SERVER_THREADS", "too small",
                               allowed="at least 1024 bytes; at least 1 thread")
        projections = env.get("JEJAK_PROJECTIONS") or "inline"
        if projections not in PROJECTIONS:
            raise InvalidField("JEJAK_PROJECTIONS", f"unknown mode {projections!r}", allowed=PROJECTIONS)
        read_db = env.get("JEJAK_READ_DB") or None
        if read_db and projections == "inline":
            raise InvalidField("JEJAK_READ_DB", "a replica cannot catch its read models up on a read: with a "
                                                "replica, a follower must keep them current",
                               allowed="JEJAK_PROJECTIONS=follow (this server stands for the election) or "
                                       "external (`jejak project --follow` runs elsewhere)")
        if read_db and not read_db.startswith("postgresql"):
            raise InvalidField("JEJAK_READ_DB", f"not a PostgreSQL URL: {read_db!r}",
                               allowed="postgresql://user@host:port/database (a streaming replica)")
        try:
            wait = float(env.get("JEJAK_MIN_POSITION_WAIT", 2.0))
        except ValueError:
            raise InvalidField("JEJAK_MIN_POSITION_WAIT", "must be a number of seconds") from None
        if not 0 <= wait <= 30:
            raise InvalidField("JEJAK_MIN_POSITION_WAIT", f"must be 0 to 30 seconds, got {wait}")
        return cls(db=env.get("JEJAK_DB"), insecure_dev=env.get("JEJAK_INSECURE_DEV") == "1", max_body_bytes=max_body,
                   oidc=OIDCSettings.from_env(env), threads=threads, read_db=read_db, projections=projections,
                   min_position_wait=wait)


def require_master_key(insecure_dev: bool, env=None) -> str:
    """Where the master key comes from ("JEJAK_MASTER_KEY" or the key file's path), or "insecure-dev"; refuses to
    serve reporters' data keys in clear otherwise (the key is read as workflow.privacy reads it: a missing, empty
    or unreadable file, or both variables at once, are refused here, before the server starts)."""
    env = os.environ if env is None else env
    if configured_master_key(env):
        return env.get(MASTER_KEY_FILE) or MASTER_KEY
    if insecure_dev:
        return "insecure-dev"
    raise InvalidField(MASTER_KEY, "not set: the reporters' data keys would be stored in clear beside the "
                                   "ciphertext, so any copy of the database would reveal every reporter",
                       allowed=f"{MASTER_KEY} (base64 of 32 random bytes), {MASTER_KEY_FILE} naming a file that "
                               "holds it, or --insecure-dev for a throw-away store")
