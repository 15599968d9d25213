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
# workflow.chain.link: SHA256(previous link || position, 8 bytes signed big-endian || content hash). In PL/pgSQL: an
# aggregate's step in SQL is run by the SQL function executor at each row (never inlined), a third slower here
_LINK = ("CREATE OR REPLACE FUNCTION jejak_chain_link(previous bytea, start bytea, at bigint, content bytea)"
         " RETURNS bytea LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE"
         " AS $$ BEGIN RETURN sha256(coalesce(previous, start) || int8send(at) || content); END $$")
_LINKS = "CREATE AGGREGATE jejak_chain_links(bytea, bigint, bytea) (SFUNC = jejak_chain_link, STYPE = bytea)"
_FOUND = ("SELECT to_regprocedure(%(links)s) IS NOT NULL, (SELECT l.lanname FROM pg_proc AS p JOIN pg_language AS l"
          " ON l.oid = p.prolang WHERE p.oid = to_regprocedure(%(link)s))")

# insufficient privilege, a duplicate function, a duplicate catalogue row or "tuple concurrently updated" (a race)
_MAY_FAIL = {"42501", "42723", "23505", "XX000"}

# The page is read in order from the log's index and hashed as it is read: a subquery with a LIMIT is neither
# flattened into the statement above it (which would compute the content hash twice, for the column and for the
# link) nor materialised (which would lose its order and sort it again).
_ROWS = """
WITH head AS (
    SELECT seq, decode(link, 'hex') AS link FROM event_chain ORDER BY position DESC LIMIT 1
), page AS (  -- workflow.chain.content_hash: SHA256 of the length-prefixed id, version, topic and state
    SELECT notification_id, originator, originator_version,
           sha256(int8send(octet_length(id)) || id || int8send(octet_length(version)) || version
                  || int8send(octet_length(topic)) || topic || int8send(octet_length(state)) || state) AS content
    FROM (SELECT notification_id, originator_id::text AS originator, originator_version,
                 convert_to(originator_id::text, 'UTF8') AS id, convert_to(originator_version::text, 'UTF8') AS version,
                 convert_to(coalesce(topic, ''), 'UTF8') AS topic, coalesce(state, ''::bytea) AS state
          FROM {events} WHERE notification_id > %(after)s AND notification_id <= %(until)s
          ORDER BY notification_id LIMIT %(limit)s) AS picked
), inserted AS (
    INSERT INTO event_chain (position, seq, originator_id, originator_version, content_hash, link)
    SELECT notification_id, coalesce((SELECT seq FROM head), 0) + row_number() OVER in_order, originator,
           originator_version, encode(content, 'hex'),
           encode(jejak_chain_links(coalesce((SELECT link FROM head), %(genesis)s), notification_id, content) OVER in_order,
                  'hex')
    FROM page WINDOW in_order AS (ORDER BY notification_id ROWS UNBOUNDED PRECEDING)
    RETURNING position
)
SELECT count(*), max(position) FROM inserted
"""


@cache
def ready(engine: Engine) -> bool:
    """Whether the link aggregate is in the database, creating it if it is missing and this role may (and making
    its step PL/pgSQL where an earlier version made it in SQL: the same hashes, sooner)."""
    for _ in range(2):
        with engine.connect() as conn:
            aggregate, language = conn.exec_driver_sql(
                _FOUND, {"links": _SIGNATURES[1], "link": _SIGNATURES[0]}).one()
        if aggregate and language == "plpgsql":
            return True
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(_LINK)
                if not aggregate:
                    conn.exec_driver_sql(_LINKS)
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in _MAY_FAIL:
                raise
            if aggregate:
                return True  # its step stays in SQL: not this role's to replace
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
