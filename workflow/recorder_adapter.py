"""The importer's fast path into eventsourcing's tables, in one place because it leans on the library's
internals: the recorder's insert statement (SQLite), its table lock and NOTIFY (PostgreSQL: `_lock_table`,
`_notify_channel`) and its datastore's settings. eventsourcing is pinned (pyproject), and
`tests/test_recorder_adapter.py` fails loudly, naming what changed, when a new version moves any of them
(`check_internals` says what this module needs)."""

from __future__ import annotations

from uuid import UUID

# What this module uses of eventsourcing's recorders, beyond their public API.
SQLITE_NEEDS = ("insert_events_statement", "events_table_name", "datastore")
POSTGRES_NEEDS = ("_lock_table", "_notify_channel", "events_table_name", "datastore", "insert_events")
DATASTORE_NEEDS = {"sqlite": ("transaction",), "postgres": ("transaction", "get_connection", "schema",
                                                            "originator_id_type")}


def check_internals(recorder, is_postgres: bool) -> list[str]:
    """What this adapter needs of the recorder and is missing (empty when all is there)."""
    needs = POSTGRES_NEEDS if is_postgres else SQLITE_NEEDS
    missing = [f"{type(recorder).__name__}.{name}" for name in needs if not hasattr(recorder, name)]
    datastore = getattr(recorder, "datastore", None)
    for name in DATASTORE_NEEDS["postgres" if is_postgres else "sqlite"]:
        if datastore is not None and not hasattr(datastore, name):
            missing.append(f"{type(datastore).__name__}.{name}")
    return missing


def postgres_events_table(recorder):
    """The PostgreSQL recorder's events table, qualified by its schema, as a psycopg identifier for statements of
    our own that read or write it."""
    from psycopg import sql

    return sql.Identifier(recorder.datastore.schema, recorder.events_table_name)


def existing_case_ids(app, ids: list[UUID]) -> set[UUID]:
    """Which of these cases exist already, in one query per thousand ids."""
    recorder = app.recorder
    table = recorder.events_table_name
    found: set[UUID] = set()
    for i in range(0, len(ids), 1000):
        part = ids[i:i + 1000]
        if app.store.is_postgres:
            from psycopg import sql

            datastore = recorder.datastore
            query = sql.SQL("SELECT originator_id AS id FROM {} WHERE originator_version = 1 "
                            "AND originator_id = ANY(%s)").format(postgres_events_table(recorder))
            params = ([str(u) for u in part] if datastore.originator_id_type == "text" else part,)
        else:
            keys = [u.hex for u in part] + [str(u) for u in part]  # eventsourcing 9.5 stores hex; older str
            query = (f"SELECT originator_id AS id FROM {table} WHERE originator_version = 1 "
                     f"AND originator_id IN ({', '.join('?' * len(keys))})")
            params = keys
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, params)
            found.update(r["id"] if isinstance(r["id"], UUID) else UUID(r["id"]) for r in cursor.fetchall())
    return found


def insert_stored_events(app, events: list[tuple]) -> None:
    """Insert a batch of stored events' fields in one transaction, in eventsourcing's own transaction and with its
    own statement, without the per-event work its application recorder does to return notification ids (not
    wanted here). SQLite: one ``executemany`` (the recorder executes event by event: 17 µs an event, measured).
    PostgreSQL: ``COPY``, under the recorder's table lock and NOTIFY (so notification ids follow commit order and
    followers wake): the recorder's array-of-composites parameter is dumped value by value in Python, over half
    of a write."""
    recorder = app.recorder
    if not app.store.is_postgres:
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.executemany(recorder.insert_events_statement,
                               [(originator_id.hex, version, topic, state)
                                for originator_id, version, topic, state in events])
            if chain := getattr(recorder, "chain", None):  # (eventsourcing's plain recorder: bench/chain_cost.py)
                # each new rowid is the largest + 1, and this transaction holds the write lock: the last len(events)
                last = chain.last_position(cursor)
                chain.append_rows(cursor, range(last - len(events) + 1, last + 1), events)
        return
    if recorder.datastore.originator_id_type != "uuid":
        from eventsourcing.persistence import StoredEvent

        recorder.insert_events([StoredEvent(*fields) for fields in events])
        return
    import psycopg
    from eventsourcing.persistence import IntegrityError
    from psycopg import sql

    copy = sql.SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)").format(
        postgres_events_table(recorder))
    try:
        with recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
            recorder._lock_table(cursor)
            recorder._notify_channel(cursor)
            chain = getattr(recorder, "chain", None)  # (eventsourcing's plain recorder: bench/chain_cost.py)
            before = chain.last_position(cursor) if chain else 0  # under the lock: the rows after it are this batch's
            with cursor.copy(copy) as rows:
                rows.set_types(["uuid", "int8", "text", "bytea"])
                for fields in events:
                    rows.write_row(fields)
            if chain:
                chain.append_after(cursor, before, events)  # chained in the same transaction
    except psycopg.errors.UniqueViolation as error:  # as the recorder reports it: nothing of the batch written
        raise IntegrityError(str(error)) from None
