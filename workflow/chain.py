"""The hash chain, written by the write side in the transaction that stores the events (no window between
writing an event and vouching for it).

For each stored event, in notification order (*position* = notification id, *seq* = 1, 2, …)::

    content_hash = SHA256(len-prefixed originator id, version, topic, state bytes)
    link         = SHA256(previous link || position, 8 bytes signed big-endian || content_hash)
                   (genesis: 32 zero bytes)

The table ``jejak_chain`` keeps one row per event. The last row a transaction writes carries an Ed25519
signature by the writer's key (workflow.signing; outside the database) over ``chain_message``: the first seq
the transaction chained, its own seq and link. The link commits to every earlier row, so one signature per
transaction covers its rows (signing each would cost a bulk import more than the import itself: ~0.15 ms a
signature here), and a row that no signature covers (one inserted by SQL, or an edited one) is found by
`jejak verify`. Without a key the rows are written unsigned: a documented mode that verify reports.

The recorders are eventsourcing's own with the chain written after their insert, on the same cursor: SQLite's
below, PostgreSQL's in workflow.append_only (beside its secured variant); `ChainWriter.append_after` serves the
importer's bulk paths.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder

from workflow.checkpoint_store import CheckpointStore
from workflow.signing import SignerKey

GENESIS = bytes(32)
CHAIN_TABLE = "jejak_chain"
_MESSAGE_PREFIX = b"jejak-chain/1\n"
COLUMNS = ("position", "seq", "originator_id", "originator_version", "content_hash", "link", "signed_from",
           "key_id", "signature")


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def canonical_id(originator_id) -> str:
    return str(originator_id) if isinstance(originator_id, UUID) else str(UUID(str(originator_id)))


def content_hash(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The hash of one stored event; `originator_id` is a UUID or its text (hex or canonical)."""
    if isinstance(state, str):  # a SQL edit can leave TEXT where a BLOB was
        state = state.encode("utf-8", "surrogateescape")
    parts = (canonical_id(originator_id).encode(), str(int(version)).encode(), (topic or "").encode(),
             bytes(state or b""))
    return hashlib.sha256(b"".join([_field(part) for part in parts])).digest()


def link(previous: bytes, position: int, content: bytes) -> bytes:
    # signed: the same bytes as unsigned for every real position (> 0), and a forged negative one still links
    return hashlib.sha256(previous + int(position).to_bytes(8, "big", signed=True) + content).digest()


def chain_message(signed_from: int, seq: int, link_hex: str) -> bytes:
    """What a transaction's last row signs: the rows seq `signed_from`..`seq`, through the link of the last."""
    return (_MESSAGE_PREFIX + int(signed_from).to_bytes(8, "big", signed=True)
            + int(seq).to_bytes(8, "big", signed=True) + bytes.fromhex(link_hex))


class ChainWriter:
    """Appends chain rows on a recorder's cursor, inside the recorder's transaction."""

    def __init__(self, postgres: bool, schema: str = "public", events_table: str = "stored_events"):
        self.postgres = postgres
        self.signer: SignerKey | None = None
        self._committed_head: dict | None = None
        self._pending = threading.local()  # the head a transaction of this thread wrote, until it commits
        if postgres:
            self._postgres_statements(schema, events_table)
            return
        table, quoted = f'"{CHAIN_TABLE}"', f'"{events_table}"'  # names from code, not values
        self.create = (f"CREATE TABLE IF NOT EXISTS {table} (position INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
                       "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, content_hash TEXT NOT NULL, "
                       "link TEXT NOT NULL, signed_from INTEGER, key_id TEXT, signature TEXT)")
        self.head = f"SELECT seq, link FROM {table} ORDER BY position DESC LIMIT 1"
        self.insert = (f"INSERT INTO {table} (position, seq, originator_id, originator_version, content_hash, link, "
                       "signed_from, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self.unchained = (f"SELECT rowid AS position, originator_id, originator_version, topic, state FROM {quoted} "
                          "WHERE rowid < ? ORDER BY rowid")
        self.after = (f"SELECT rowid AS position, originator_id, originator_version, topic, state FROM {quoted} "
                      "WHERE rowid > ? ORDER BY rowid")
        self.ids_after = (f"SELECT rowid AS position, originator_id, originator_version FROM {quoted} "
                          "WHERE rowid > ? ORDER BY rowid")
        self.max_position = f"SELECT max(rowid) AS position FROM {quoted}"
        self.page = f"SELECT * FROM {table} WHERE position > ? ORDER BY position LIMIT ?"
        self.copy = None

    def _postgres_statements(self, schema: str, events_table: str) -> None:
        from psycopg import sql  # only for PostgreSQL: a SQLite command does not load psycopg

        table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(CHAIN_TABLE))
        events = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(events_table))
        columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        create = ("CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, seq bigint NOT NULL, "
                  "originator_id text NOT NULL, originator_version bigint NOT NULL, content_hash text NOT NULL, "
                  "link text NOT NULL, signed_from bigint, key_id text, signature text)")
        self.create = sql.SQL(create).format(table)
        self.head = sql.SQL("SELECT seq, link FROM {} ORDER BY position DESC LIMIT 1").format(table)
        self.insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(table, columns,
                                                                        sql.SQL(", ").join([sql.Placeholder()] * 9))
        rows = "SELECT notification_id AS position, originator_id, originator_version, topic, state FROM {} WHERE "
        self.unchained = sql.SQL(rows + "notification_id < %s ORDER BY notification_id").format(events)
        self.after = sql.SQL(rows + "notification_id > %s ORDER BY notification_id").format(events)
        ids = "SELECT notification_id AS position, originator_id, originator_version FROM {} WHERE notification_id > "
        self.ids_after = sql.SQL(ids + "%s ORDER BY notification_id").format(events)
        self.copy = sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)
        self.max_position = sql.SQL("SELECT max(notification_id) AS position FROM {}").format(events)
        self.page = sql.SQL("SELECT * FROM {} WHERE position > %s ORDER BY position LIMIT %s").format(table)
        for name in ("head", "insert", "unchained", "after", "ids_after", "copy", "max_position", "page"):
            # as text once: psycopg would otherwise render the composed query at every execution of every write
            setattr(self, name, getattr(self, name).as_string(None))

    def committed(self) -> None:
        """This thread's transaction committed: its head may spare the next write reading the head. Only a
        committed head is kept, and it is used only when the next write's first position follows it directly
        (any other writer's event, or a rowid reused after a deletion, makes the writer read the head again)."""
        head, self._pending.head = getattr(self._pending, "head", None), None
        if head is not None:
            self._committed_head = head

    def abandoned(self) -> None:
        self._pending.head = None
        self._committed_head = None

    def append(self, cursor, positions: Sequence[int], stored_events: Sequence) -> None:
        """Chain the events this transaction just stored (their notification ids, in order)."""
        entries = [(position, e.originator_id, e.originator_version, e.topic, e.state)
                   for position, e in zip(positions, stored_events, strict=True)]
        self._chain(cursor, entries)

    def append_rows(self, cursor, positions: Sequence[int], events: list[tuple]) -> None:
        """Chain a bulk insert's (originator id, version, topic, state) rows, stored at these positions."""
        self._chain(cursor, [(position, *fields) for position, fields in zip(positions, events, strict=True)],
                    bulk=True)

    def last_position(self, cursor) -> int:
        """The newest notification id (call it under the insert lock, before a bulk insert)."""
        cursor.execute(self.max_position)
        row = cursor.fetchone()
        return (row["position"] if row else None) or 0

    def append_after(self, cursor, position: int, events: list[tuple] | None = None) -> None:
        """Chain every event stored after `position` in this transaction (a bulk insert's). `events`: the
        inserted (originator id, version, topic, state), in insertion order: only their ids are read back."""
        if events is None:
            cursor.execute(self.after, (position,))
            entries = [(r["position"], r["originator_id"], r["originator_version"], r["topic"], r["state"])
                       for r in cursor.fetchall()]
        else:
            cursor.execute(self.ids_after, (position,))
            ids = cursor.fetchall()
            entries = [(r["position"], *fields) for r, fields in zip(ids, events, strict=True)]
            # (PostgreSQL returns UUIDs, eventsourcing's SQLite table holds their hex)
            if any(r["originator_version"] != f[1] or r["originator_id"] not in (f[0], f[0].hex)
                   for r, f in zip(ids, events)):
                raise RuntimeError("the rows read back are not those just inserted: nothing chained, nothing stored")
        self._chain(cursor, entries, bulk=True)

    def rows(self, datastore, page_size: int = 5000):
        """Every chain row, in position order (dicts), page by page."""
        after = -(2 ** 63)
        while True:
            with datastore.transaction(commit=False) as cursor:
                cursor.execute(self.page, (after, page_size))
                page = [dict(row) for row in cursor.fetchall()]
            if not page:
                return
            yield from page
            after = page[-1]["position"]

    def _chain(self, cursor, entries: list[tuple], bulk: bool = False) -> None:
        """`bulk`: outside eventsourcing's pipeline (the importer's transaction), where PostgreSQL's COPY works."""
        self._pending.head = None
        if not entries:
            return
        cached = self._committed_head
        if cached is not None and entries[0][0] == cached["position"] + 1:
            head = cached  # nothing was stored since this writer's last commit: no need to read the head
        else:
            cursor.execute(self.head)
            head = cursor.fetchone()
        if head is None:  # a store written before the chain was kept at write time: its events come first
            cursor.execute(self.unchained, (entries[0][0],))
            entries = [(r["position"], r["originator_id"], r["originator_version"], r["topic"], r["state"])
                       for r in cursor.fetchall()] + entries
        seq, previous = (head["seq"], bytes.fromhex(head["link"])) if head else (0, GENESIS)
        first, rows = seq + 1, []
        for position, originator_id, version, topic, state in entries:
            content = content_hash(originator_id, version, topic, state)
            previous = link(previous, position, content)
            seq += 1
            rows.append([position, seq, canonical_id(originator_id), version, content.hex(), previous.hex(),
                         None, None, None])
        if self.signer is not None:
            last = rows[-1]
            last[6:] = [first, self.signer.verifier.key_id.hex(),
                        self.signer.sign(chain_message(first, last[1], last[5])).hex()]
        if not bulk:  # (the importer's transactions are not the recorder's: they do not report their commit)
            self._pending.head = {"position": rows[-1][0], "seq": rows[-1][1], "link": rows[-1][5]}
        if bulk and self.copy is not None and len(rows) > 50:  # a bulk insert: COPY, as the importer stores the events
            with cursor.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(self.insert, rows)


class ReportsCommits:
    """A recorder mixin: tells its ChainWriter whether each insert committed (see `ChainWriter.committed`)."""

    chain: ChainWriter

    def insert_events(self, stored_events, **kwargs):
        try:
            positions = super().insert_events(stored_events, **kwargs)
        except BaseException:
            self.chain.abandoned()
            raise
        self.chain.committed()
        return positions


class ChainedSQLiteRecorder(ReportsCommits, SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder; each insert also extends the chain, in the same transaction."""

    def __init__(self, datastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.chain = ChainWriter(postgres=False, events_table=events_table_name)
        self.checkpoints = CheckpointStore(postgres=False)
        self.create_table_statements += [self.chain.create, self.checkpoints.create]

    def _insert_events(self, c, stored_events, **kwargs):
        positions = super()._insert_events(c, stored_events, **kwargs)
        self.chain.append(c, positions, stored_events)
        return positions
