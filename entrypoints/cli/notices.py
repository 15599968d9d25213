"""What the CLI says besides a command's output: that reporter data is only obfuscated without a master key (once
per store), and, plainly, that the database refused the connected role something.

"Once per store" is once per user and store: a marker file in the user's state directory
(``$XDG_STATE_HOME/jejak``, else ``~/.local/state/jejak``), named by a digest of the store (its file's real path, or
its PostgreSQL server and database). Every person who files reports into an unprotected store is told once; a
store copied elsewhere is another store. Nothing is written into the store itself, which the application role of a
secured store could not do anyway.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from workflow.errors import UnprotectedKeyWarning


def run_with_notices(command: Callable[[object], int], args) -> int:
    """Run a command; an `UnprotectedKeyWarning` becomes one line on stderr, the first time for this store."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", UnprotectedKeyWarning)  # this process may have seen it for another store
        show = warnings.showwarning

        def notice(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, UnprotectedKeyWarning):
                warn_once_per_store(getattr(args, "db", None), str(message))
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = notice
        return command(args)


def state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "jejak"


def warn_once_per_store(db: str | None, message: str) -> None:
    import hashlib  # here, not at the top: loading OpenSSL would cost every command ~10 ms

    from workflow.store import resolve_store

    store = resolve_store(db)
    identity = (f"postgresql://{store.host}:{store.port}/{store.database}" if store.is_postgres
                else os.path.realpath(store.database))
    marker = state_dir() / "unprotected-keys" / hashlib.sha256(identity.encode()).hexdigest()[:32]
    if marker.exists():
        return
    print(f"jejak: warning: {message} (said once for this store)", file=sys.stderr)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(identity + "\n", encoding="utf-8")
    except OSError:
        pass  # an unwritable state directory: said again next time, which is better than never


def database_refusal(error: BaseException) -> str | None:
    """The database's own message if it refused a statement for lack of a privilege (SQLSTATE 42501, also what the
    append-only guard raises), found on the error or the errors it wraps; else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "sqlstate", None) == "42501":
            return (f"the database refused it: {str(error).splitlines()[0]} (on a secured store the application's "
                    "commands run as its application role; `db secure` and `project --rebuild` as the owner)")
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return None
