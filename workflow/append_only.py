"""PostgreSQL: stored events are append-only for every role, and the write side can run under a role that may only
read and append them (the database side of `jejak db secure`, entrypoints/db_secure.py).

Two database objects live here because the write side relies on them:

- the *guard*: a trigger function that refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on the table it is attached
  to, whoever asks (the table's owner too: only a superuser's ``session_replication_role = replica``, or the owner
  dropping the trigger first, gets past it);
- the *lock*: eventsourcing serialises inserts with ``LOCK TABLE … IN EXCLUSIVE MODE`` (so that notification ids
  follow commit order), which PostgreSQL allows only to a role holding ``UPDATE``, ``DELETE`` or ``TRUNCATE`` on the
  table. Rather than grant the application ``UPDATE`` (the guard would refuse it, but it would still let the role
  take stronger locks and ``SELECT … FOR UPDATE``), a ``SECURITY DEFINER`` function owned by the tables' owner takes
  exactly eventsourcing's lock, and the application role may execute it and nothing more.

At start-up `prepare(factory)` asks the catalogue whether the events table exists and belongs to the connected role.
When it belongs to another role (the application role on a secured store), eventsourcing's schema statements
(``CREATE TABLE IF NOT EXISTS``, ``CREATE OR REPLACE FUNCTION``), which need ownership and ``CREATE`` on the schema,
are skipped, and the recorder takes its lock through the function when the store has one.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import sql

from workflow.chain import ChainWriter, ReportsCommits
from workflow.checkpoint_store import CheckpointStore

LOCK_FUNCTION = "jejak_lock_events"
GUARD_FUNCTION = "jejak_refuse_edit"
GUARD_TRIGGER = "jejak_append_only"
CHAINED_TOPIC = "workflow.append_only:ChainedPostgresRecorder"

# By the catalogue's caches (to_regclass, to_regprocedure): a join over pg_class and pg_namespace by name took twice
# as long on a new connection (~4 against ~2 ms here), and every command of the CLI opens one.
_PROBE = ("SELECT pg_has_role(c.relowner, 'USAGE') AS owned, to_regprocedure(%s) IS NOT NULL AS lock_function "
          "FROM pg_class c WHERE c.oid = to_regclass(%s)")


class ChainedPostgresRecorder(ReportsCommits, PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder; each insert also extends the chain, in the same transaction and
    under the same table lock (so chain order is commit order)."""

    def __init__(self, datastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain = ChainWriter(postgres=True, schema=datastore.schema, events_table=events_table_name)
        self.checkpoints = CheckpointStore(postgres=True, schema=datastore.schema)
        self.sql_create_statements += [self.chain.create, self.checkpoints.create]

    def insert_events(self, stored_events, **kwargs):
        if self.datastore.enable_db_functions:  # inserts by a database function would bypass the chain
            raise NotImplementedError("Jejak chains its events: POSTGRES_ENABLE_DB_FUNCTIONS is not supported")
        return super().insert_events(stored_events, **kwargs)

    def _fetch_ids_after_insert_events(self, curs, stored_events, **kwargs):
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self.chain.append(curs, positions, stored_events)
        return positions


class SecuredRecorder(ChainedPostgresRecorder):
    """eventsourcing's recorder (chaining its events), taking its table lock through `LOCK_FUNCTION` (the same lock,
    as the owner)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.lock_table_statements = [
            sql.SQL("SET LOCAL lock_timeout = '{}s'").format(datastore.lock_timeout),  # as eventsourcing does
            sql.SQL("SELECT {}.{}()").format(sql.Identifier(datastore.schema), sql.Identifier(LOCK_FUNCTION)),
        ]


def prepare(factory, events_table: str) -> None:
    """Configure eventsourcing's PostgreSQL factory for the role it connects as (before the recorder is built):
    on a table owned by another role, skip the schema statements and lock through the owner's function."""
    datastore = factory.datastore
    schema = sql.Identifier(datastore.schema)
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(_PROBE, (sql.SQL("{}.{}()").format(schema, sql.Identifier(LOCK_FUNCTION)).as_string(cursor),
                                sql.SQL("{}.{}").format(schema, sql.Identifier(events_table)).as_string(cursor)))
        row = cursor.fetchone()
    if row is None or row["owned"]:
        return  # a new store (created now, by this role) or this role's own tables: as eventsourcing does
    if factory.env.get(factory.CREATE_TABLE) is None:
        factory.env[factory.CREATE_TABLE] = "no"
    if row["lock_function"] and factory.env.get(factory.APPLICATION_RECORDER_TOPIC) in (None, CHAINED_TOPIC):
        factory.env[factory.APPLICATION_RECORDER_TOPIC] = f"{__name__}:{SecuredRecorder.__name__}"


def guard_statements(schema: str) -> list[sql.Composed]:
    """The trigger function that refuses edits (attach it with `guard_table_statements`)."""
    return [sql.SQL(
        "CREATE OR REPLACE FUNCTION {}.{}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN "
        "RAISE EXCEPTION '% of %.% refused: its rows are append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege', "
        "HINT = 'History is immutable: a correction is a new event (README, \"Secure a PostgreSQL store\").'; "
        "END $body$").format(sql.Identifier(schema), sql.Identifier(GUARD_FUNCTION))]


def guard_table_statements(schema: str, table: str) -> list[sql.Composed]:
    """Attach the guard to a table: one statement-level trigger, so that even an edit touching no row is refused."""
    return [sql.SQL("CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {}.{} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {}.{}()").format(
        sql.Identifier(GUARD_TRIGGER), sql.Identifier(schema), sql.Identifier(table), sql.Identifier(schema),
        sql.Identifier(GUARD_FUNCTION))]


def lock_function_statements(schema: str, events_table: str, app_role: str,
                             others: tuple[str, ...] = ()) -> list[sql.Composed]:
    """The owner's function that takes eventsourcing's insert lock, executable by the application role alone (taken
    from PUBLIC and `others`). A lock taken in a function is held until the end of the caller's transaction."""
    function = sql.SQL("{}.{}()").format(sql.Identifier(schema), sql.Identifier(LOCK_FUNCTION))
    return [
        sql.SQL("CREATE OR REPLACE FUNCTION {} RETURNS void LANGUAGE plpgsql SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS $body$ BEGIN "
                "LOCK TABLE {}.{} IN EXCLUSIVE MODE; END $body$").format(
            function, sql.Identifier(schema), sql.Identifier(events_table)),
        sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}").format(
            function, sql.SQL(", ").join([sql.SQL("PUBLIC"), *map(sql.Identifier, others)])),
        sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, sql.Identifier(app_role)),
    ]
