"""The reporter's personal data: encrypted under a key of its own, so that it can be erased for good.

Each case's reporter data (name, contact, identity number) is encrypted with a fresh data key before the
`Reported` event is recorded; the event holds only ciphertext. The data key is kept in the ``subject_keys``
table, itself encrypted under the master key when one is configured: ``JEJAK_MASTER_KEY``, or a file named by
``JEJAK_MASTER_KEY_FILE`` (a secret mounted by the container runtime or systemd, kept out of the environment);
base64 of 16, 24 or 32 random bytes:
``python -c "from eventsourcing.cryptography import AESCipher; print(AESCipher.create_key(32))"``.
Without a master key the data keys lie in clear beside the ciphertext: the data is only obfuscated, and a
`UnprotectedKeyWarning` says so when a key is stored. Erasure deletes the data key (crypto-shredding): the history
stays intact and verifiable, the data is gone. Encryption is eventsourcing's own AES-GCM cipher.
"""

from __future__ import annotations

import json
import os
import warnings
from base64 import b64decode, b64encode
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, ProgrammingError

from workflow.errors import InvalidField, UnprotectedKeyWarning
from workflow.store import lost_schema_race

MASTER_KEY_VARIABLE = "JEJAK_MASTER_KEY"
MASTER_KEY_FILE_VARIABLE = "JEJAK_MASTER_KEY_FILE"
_KEY_FORMAT = "base64 of 16, 24 or 32 random bytes"


def configured_master_key(environ=os.environ) -> str | None:
    """The master key: ``JEJAK_MASTER_KEY``, or the contents of the file ``JEJAK_MASTER_KEY_FILE`` names (surrounding
    whitespace ignored); None when neither is set. Setting both is refused rather than guessing which one wins."""
    value, path = environ.get(MASTER_KEY_VARIABLE), environ.get(MASTER_KEY_FILE_VARIABLE)
    if value and path:
        raise InvalidField(MASTER_KEY_FILE_VARIABLE, f"both it and {MASTER_KEY_VARIABLE} are set",
                           allowed="one of them")
    if not path:
        return value or None
    try:
        key = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise InvalidField(MASTER_KEY_FILE_VARIABLE, f"cannot read {path!r} ({reason})",
                           allowed=f"a readable file holding {_KEY_FORMAT}") from None
    if not key:
        raise InvalidField(MASTER_KEY_FILE_VARIABLE, f"{path!r} is empty", allowed=f"a file holding {_KEY_FORMAT}")
    return key


def _cipher(key_b64: str, source: str = MASTER_KEY_VARIABLE):
    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    try:
        return AESCipher(Environment(env={AESCipher.CIPHER_KEY: key_b64}))
    except (ValueError, TypeError) as error:
        raise InvalidField(source, f"unusable key ({error})", allowed=_KEY_FORMAT) from None


class SubjectKeys:
    """Per-subject data keys in the store's own database, read and written through eventsourcing's datastore."""

    def __init__(self, recorder, is_postgres: bool, master_key: str | None = None):
        self.datastore = recorder.datastore
        self.mark = "%s" if is_postgres else "?"
        source = "master key" if master_key is not None else (
            MASTER_KEY_FILE_VARIABLE if os.environ.get(MASTER_KEY_FILE_VARIABLE) else MASTER_KEY_VARIABLE)
        master_key = master_key if master_key is not None else configured_master_key()
        self.master = _cipher(master_key, source) if master_key else None
        self._table_ready = False
        self._warned = False
        self._secrets_ready = False

    def _ensure_table(self) -> None:
        """Create the table once, in a transaction of its own. (On SQLite a transaction that reads before it
        writes cannot wait for another writer: it fails at once with "database is locked" if one committed
        meanwhile. So a write transaction below must begin with its write.)"""
        if not self._table_ready:
            try:
                with self.datastore.transaction(commit=True) as own:
                    # PostgreSQL checks the right to create in the schema before IF NOT EXISTS, and the
                    # application role of a secured store has none (`jejak db secure` created the table)
                    if self.mark == "?" or _missing(own, "subject_keys"):
                        own.execute("CREATE TABLE IF NOT EXISTS subject_keys (subject_id TEXT PRIMARY KEY, "
                                    "data_key TEXT NOT NULL, wrapped BOOLEAN NOT NULL, created_at TEXT NOT NULL)")
            except (IntegrityError, ProgrammingError) as error:  # another process created it at the same moment
                if not lost_schema_race(error):
                    raise
            self._table_ready = True

    def new_key(self) -> str:
        from eventsourcing.cryptography import AESCipher

        return AESCipher.create_key(32)

    def store(self, keys: dict[str, str]) -> None:
        """Keep new data keys (subject id -> key); done before the events that use them are saved."""
        if not keys:
            return
        if self.master is None and not self._warned:
            warnings.warn(UnprotectedKeyWarning(
                "reporter data is only obfuscated: with no master key its data keys are stored in clear beside "
                f"it, so any copy of the store or a backup reveals it; set {MASTER_KEY_VARIABLE} or "
                f"{MASTER_KEY_FILE_VARIABLE}"), stacklevel=2)
            self._warned = True
        now = datetime.now(timezone.utc).isoformat()
        rows = [(subject, self._wrap(key), self.master is not None, now) for subject, key in keys.items()]
        self._ensure_table()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(f"INSERT INTO subject_keys VALUES ({', '.join([self.mark] * 4)})", rows)

    def get(self, subject: str) -> str | None:
        self._ensure_table()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"SELECT data_key, wrapped FROM subject_keys WHERE subject_id = {self.mark}", (subject,))
            row = cursor.fetchone()
        if row is None:
            return None
        data_key, wrapped = row["data_key"], row["wrapped"]
        if not wrapped:
            return data_key
        if self.master is None:
            raise InvalidField(MASTER_KEY_VARIABLE, "the reporter's data key is encrypted; configure the master key "
                               f"({MASTER_KEY_VARIABLE} or {MASTER_KEY_FILE_VARIABLE})")
        return self.master.decrypt(b64decode(data_key)).decode()

    def erase(self, subject: str) -> None:
        """Delete a data key, and its bytes from the database files as far as the database allows: SQLite
        zeroes the freed space (secure_delete) and truncates its write-ahead log; PostgreSQL's VACUUM drops the
        dead row from the table's pages (VACUUM needs the table's owner: on a secured store the application role
        owns `subject_keys` for that). Older WAL segments and backups keep it until they are rotated."""
        self._ensure_table()
        delete = f"DELETE FROM subject_keys WHERE subject_id = {self.mark}"
        if self.mark == "?":  # SQLite
            with self.datastore.get_connection(commit=True) as conn:
                conn.cursor().execute("PRAGMA secure_delete = ON")
                with conn.transaction(commit=True) as cursor:
                    cursor.execute(delete, (subject,))
                conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(delete, (subject,))
            with self.datastore.get_connection() as conn:  # autocommit, as VACUUM needs
                conn.execute("VACUUM subject_keys")

    def discard(self, subjects) -> None:
        """Delete the keys of reports that were refused (never saved)."""
        if subjects:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.executemany(f"DELETE FROM subject_keys WHERE subject_id = {self.mark}",
                                   [(subject,) for subject in subjects])

    def _wrap(self, key: str) -> str:
        return b64encode(self.master.encrypt(key.encode())).decode() if self.master else key

    def ensure_secrets_table(self) -> None:
        """Create ``store_secrets`` once (as `_ensure_table` does ``subject_keys``; `jejak db secure` creates it on a
        secured PostgreSQL store, whose application role may not)."""
        if self._secrets_ready:
            return
        try:
            with self.datastore.transaction(commit=True) as own:
                if self.mark == "?" or _missing(own, "store_secrets"):
                    own.execute("CREATE TABLE IF NOT EXISTS store_secrets (name TEXT PRIMARY KEY, "
                                "secret TEXT NOT NULL, wrapped BOOLEAN NOT NULL, created_at TEXT NOT NULL)")
        except (IntegrityError, ProgrammingError) as error:
            if not lost_schema_race(error):
                raise
        self._secrets_ready = True

    def secret(self, name: str, create: bool = True) -> bytes | None:
        """A random 32-byte secret of this store (the import keys' HMAC key), made on first use and kept in
        ``store_secrets``, wrapped under the master key when one is set, as data keys are; without a master key
        it sits in clear beside the data. None if it does not exist yet and `create` is false."""
        select = f"SELECT secret, wrapped FROM store_secrets WHERE name = {self.mark}"
        self.ensure_secrets_table()
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(select, (name,))
            row = cursor.fetchone()
        if row is None:
            if not create:
                return None
            from eventsourcing.cryptography import AESCipher

            new = (name, self._wrap(AESCipher.create_key(32)), self.master is not None,
                   datetime.now(timezone.utc).isoformat())
            with self.datastore.transaction(commit=True) as cursor:  # a racing process's secret wins: read back
                cursor.execute("INSERT INTO store_secrets VALUES "
                               f"({', '.join([self.mark] * 4)}) ON CONFLICT (name) DO NOTHING", new)
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(select, (name,))
                row = cursor.fetchone()
        value, wrapped = row["secret"], row["wrapped"]
        if wrapped:
            if self.master is None:
                raise InvalidField(MASTER_KEY_VARIABLE, f"the store's {name} is encrypted; configure the master key")
            value = self.master.decrypt(b64decode(value)).decode()
        return b64decode(value)


def _missing(cursor, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NULL AS missing", (table,))
    return cursor.fetchone()["missing"]


def seal(data: dict[str, Any], key: str) -> str:
    return b64encode(_cipher(key).encrypt(json.dumps(data, ensure_ascii=False).encode())).decode()


def unseal(ciphertext: str, key: str) -> dict[str, Any]:
    return json.loads(_cipher(key).decrypt(b64decode(ciphertext)))
