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


@dataclass(frozen=True)
class ServerSettings:
    db: str | None = None
    insecure_dev: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY
    oidc: OIDCSettings | None = None
    threads: int = 8  # requests run at once per process (each holds database connections while it runs)

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
        return cls(db=env.get("JEJAK_DB"), insecure_dev=env.get("JEJAK_INSECURE_DEV") == "1", max_body_bytes=max_body,
                   oidc=OIDCSettings.from_env(env), threads=threads)


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
