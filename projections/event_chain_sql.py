"""The readers' copy of the hash chain made by PostgreSQL: each event's content hash and link computed where the
event is stored, one ``INSERT … SELECT`` a page, beside `case_event`'s (projections.case_event_sql).

The hashes are workflow.chain's, byte for byte: the content hash by PostgreSQL's ``sha256`` over the same
length-prefixed fields, the links by a running aggregate (``jejak_chain_links``) over the page in log order, started from the
copy's last link. The aggregate is a database object: the read models' owner creates it with them (`ready`); a
role that may not, on a store where it is missing, keeps the Python projector (projections.event_chain). Like
that projector, this copy vouches for nothing: `jejak verify` recomputes the chain from the events itself.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from projections.tables import event_chain
from workflow.chain import GENESIS
from workflow.recorder_adapter import postgres_events_table

_SIGNATURES = ("jejak_chain_link(bytea,bytea,bigint,bytea)", "jejak_chain_links(bytea,bigint,bytea)")
_CREATE = (
    # workflow.chain.link: SHA256(previous link || position, 8 bytes signed big-endian || content hash)
    "CREATE FUNCTION jejak_chain_link(previous bytea, start bytea, at bigint, content bytea) RETURNS bytea"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
    " AS $$ SELECT sha256(coalesce(previous, start) || int8send(at) || content) $$",
    "CREATE AGGREGATE jejak_chain_links(bytea, bigint, bytea) (SFUNC = jejak_chain_link, STYPE = bytea)",
)

# insufficient privilege, a duplicate function, a duplicate catalogue row or "tuple concurrently updated" (a race)
_MAY_FAIL = {"42501", "42723", "23505", "XX000"}

_ROWS = """
WITH page AS MATERIALIZED (
    SELECT notification_id, originator_id, originator_version, topic, state FROM {events}
    WHERE notification_id > %(after)s AND notification_id <= %(until)s ORDER BY notification_id LIMIT %(limit)s
), head AS (
    SELECT seq, decode(link, 'hex') AS link FROM event_chain ORDER BY position DESC LIMIT 1
), hashed AS (  -- workflow.chain.content_hash: SHA256 of the length-prefixed id, version, topic and state
    SELECT notification_id, originator_id::text AS originator, originator_version,
           sha256(int8send(octet_length(f.id)) || f.id || int8send(octet_length(f.version)) || f.version
                  || int8send(octet_length(f.topic)) || f.topic || int8send(octet_length(f.state)) || f.state)
               AS content
    FROM page CROSS JOIN LATERAL (
        SELECT convert_to(originator_id::text, 'UTF8') AS id, convert_to(originator_version::text, 'UTF8') AS version,
               convert_to(coalesce(topic, ''), 'UTF8') AS topic, coalesce(state, ''::bytea) AS state) AS f
), inserted AS (
    INSERT INTO event_chain (position, seq, originator_id, originator_version, content_hash, link)
    SELECT notification_id, coalesce((SELECT seq FROM head), 0) + row_number() OVER in_order, originator,
           originator_version, encode(content, 'hex'),
           encode(jejak_chain_links(coalesce((SELECT link FROM head), %(genesis)s), notification_id, content) OVER in_order,
                  'hex')
    FROM hashed WINDOW in_order AS (ORDER BY notification_id ROWS UNBOUNDED PRECEDING)
)
SELECT count(*), max(notification_id) FROM page
"""


@cache
def ready(engine: Engine) -> bool:
    """Whether the link aggregate is in the database, creating it if it is missing and this role may."""
    for _ in range(2):
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT to_regprocedure(%(a)s) IS NOT NULL AND to_regprocedure(%(b)s) "
                                         "IS NOT NULL", {"a": _SIGNATURES[0], "b": _SIGNATURES[1]}).scalar_one()
        if found:
            return True
        try:
            with engine.begin() as conn:
                for statement in _CREATE:
                    conn.exec_driver_sql(statement)
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in _MAY_FAIL:
                raise
            continue  # not the owner (jejak db secure), or another process created it first: look again
    return False


class EventChainInDatabase:
    """`project(conn, after, until, limit)`: the chain rows of the first `limit` events after position `after` up to
    `until`, in the caller's transaction; returns how many and up to which position."""

    name = "event_chain"
    table = event_chain
    in_database = True

    def __init__(self, app):
        from psycopg import sql

        self._rows = sql.SQL(_ROWS).format(events=postgres_events_table(app.recorder)).as_string(None)

    def project(self, conn: Connection, after: int, until: int, limit: int) -> tuple[int, int]:
        count, last = conn.exec_driver_sql(
            self._rows, {"after": after, "until": until, "limit": limit, "genesis": GENESIS}).one()
        return count, last or after
