"""`jejak db secure`: a PostgreSQL store that enforces what the application promises, set up by the database owner.

Run once by the owner (and again after an upgrade): every run converges the database to `TABLES`, so running it
twice changes nothing. As the owner it

- creates the schema: the event store through eventsourcing's own recorder, the data-key table through the write
  side's own code, the read models through the read side's (created, or migrated after an upgrade), the HTTP
  server's tables through the server's definitions, so that the roles below need no ``CREATE`` anywhere (they
  start without running any DDL: workflow.append_only);
- creates the application role (the server and the CLI connect as it) and the reader role (notebooks, BI tools)
  when they are missing, and refuses roles that could get round the grants (superuser, CREATEROLE, BYPASSRLS,
  replication, or a member of the owner);
- attaches the append-only guard to the stored events, their hash chain and checkpoints (any table marked
  ``append_only``): ``UPDATE``, ``DELETE`` and ``TRUNCATE`` are refused for every role, the owner included;
- gives the application role eventsourcing's insert lock through the owner's function (workflow.append_only);
- grants exactly what `TABLES` says (revoking anything else from both roles and from PUBLIC), with ``USAGE`` on the
  sequences of the tables a role inserts into;
- hands the data-key table to the application role: erasure deletes a key and then VACUUMs the table so that the
  key's bytes leave the files, and PostgreSQL 15 lets only a table's owner VACUUM it (17's MAINTAIN privilege
  would do). The reader gets nothing on it, nor on the events (which hold the reported official's identity and the
  sealed reporter data), nor on the server's tokens and idempotency records.

It lives in `entrypoints` because it is the one module that sees every table in the database: the write side's
events and data keys, the read side's models, and the HTTP server's tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from workflow.append_only import guard_statements, guard_table_statements, lock_function_statements
from workflow.errors import InvalidField
from workflow.store import Store, resolve_store

DEFAULT_APP_ROLE = "jejak_app"
DEFAULT_READER_ROLE = "jejak_reader"
EVENTS_TABLE = "jejak_events"  # eventsourcing names it after the application (`Jejak`): "<name>_events"


@dataclass(frozen=True)
class Grants:
    """What each role may do on one table. ``append_only``: the guard refuses UPDATE, DELETE and TRUNCATE for every
    role. ``app_owns``: the application role owns the table."""

    app: tuple[str, ...] = ()
    reader: tuple[str, ...] = ()
    app_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (privilege, columns): only on those columns
    append_only: bool = False
    app_owns: bool = False


TABLES: dict[str, Grants] = {
    # the write side: the stored events, and the reporters' data keys (erasure: DELETE, then VACUUM, see above)
    EVENTS_TABLE: Grants(app=("SELECT", "INSERT"), append_only=True),
    "subject_keys": Grants(app_owns=True),
    "store_secrets": Grants(app=("SELECT", "INSERT")),  # the import keys' HMAC secret, wrapped under the master key
    # the write side's hash chain and the signed checkpoints (workflow.chain): public, append-only like the events
    "jejak_chain": Grants(app=("SELECT", "INSERT"), reader=("SELECT",), append_only=True),
    "jejak_checkpoint": Grants(app=("SELECT", "INSERT"), reader=("SELECT",), append_only=True),
    # the read side (projections.tables): catch-up replaces case_summary rows and appends the others' rows;
    # rebuilding (TRUNCATE) and migrating (DROP, CREATE) the read models stay with the owner
    "case_summary": Grants(app=("SELECT", "INSERT", "DELETE"), reader=("SELECT",)),
    # a `correct_date` event shows the corrected time on the row of the event it corrects: those columns only
    "case_event": Grants(app=("SELECT", "INSERT"), reader=("SELECT",),
                         app_columns=(("UPDATE", ("occurred_at", "occurred_at_stated")),)),
    "event_chain": Grants(app=("SELECT", "INSERT"), reader=("SELECT",)),
    "projection_position": Grants(app=("SELECT", "INSERT", "UPDATE"), reader=("SELECT",)),
    "read_model_schema": Grants(app=("SELECT",)),
    # the HTTP server's tables (entrypoints.tables). Tokens are issued and revoked by the owner (`jejak token`); the
    # server only reads them.
    "api_token": Grants(app=("SELECT",)),
    # a request's record is written when it starts and completed (UPDATE) when it ends; a failed one is deleted
    "idempotency_record": Grants(app=("SELECT", "INSERT", "UPDATE", "DELETE")),
    "personal_data_access": Grants(app=("SELECT", "INSERT"), append_only=True),  # who read whose data
    "verification_run": Grants(app=("SELECT", "INSERT"), append_only=True),  # `jejak verify` results (dashboard)
}

PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"})
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ALLOWED_ROLE = "lower-case letters, digits and _, not starting with a digit or pg_, at most 63"


@dataclass
class Secured:
    """What a run did: for the CLI's report."""

    store: str
    app_role: str
    reader_role: str
    created_roles: list[str] = field(default_factory=list)
    granted: dict[str, Grants] = field(default_factory=dict)

    def as_dict(self) -> dict:
        tables = {name: {"app": "owner" if g.app_owns else list(g.app), "reader": list(g.reader),
                         "append_only": g.append_only} for name, g in self.granted.items()}
        return {"store": self.store, "app_role": self.app_role, "reader_role": self.reader_role,
                "created_roles": self.created_roles, "tables": tables}


def secure(db: str | None, app_role: str = DEFAULT_APP_ROLE, reader_role: str = DEFAULT_READER_ROLE,
           app_password: str | None = None, reader_password: str | None = None) -> Secured:
    """Secure the store at `db` (the owner's URL); see the module's docstring. Idempotent."""
    store = resolve_store(db)
    if not store.is_postgres:
        raise InvalidField("--db", f"{store} is a SQLite file, which has no roles or grants to set up",
                           allowed="the owner's postgresql://OWNER@HOST[:PORT]/DBNAME")
    _check_names(store, app_role, reader_role)
    with _connect(store) as conn:
        _preflight(conn, store, app_role, reader_role)
    _create_schema(db)
    done = Secured(str(store), app_role, reader_role)
    with _connect(store) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('jejak db secure'))")  # one run at a time
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        for role, password in ((app_role, app_password), (reader_role, reader_password)):
            if _ensure_role(conn, role, password):
                done.created_roles.append(role)
        _schema_and_database(conn, schema, store, app_role, reader_role)
        lock = lock_function_statements(schema, EVENTS_TABLE, app_role, others=(reader_role,))
        for statement in guard_statements(schema) + lock:
            conn.execute(statement)
        for table, grants in TABLES.items():
            if not _exists(conn, schema, table):
                raise RuntimeError(f"{table} should have been created by now")
            _grant(conn, schema, table, grants, app_role, reader_role)
            done.granted[table] = grants
    return done


# --- checks -----------------------------------------------------------------------------------------------------

def _check_names(store: Store, app_role: str, reader_role: str) -> None:
    for option, role in (("--app-role", app_role), ("--reader-role", reader_role)):
        if not _ROLE_NAME.match(role) or role.startswith("pg_"):
            raise InvalidField(option, f"{role!r} is not a usable role name", allowed=_ALLOWED_ROLE)
        if role == store.user:
            raise InvalidField(option, f"{role!r} is the owner connecting: the roles must be others",
                               allowed="a role other than the owner")
    if app_role == reader_role:
        raise InvalidField("--reader-role", f"{reader_role!r} is the application role too", allowed="another name")


def _preflight(conn, store: Store, app_role: str, reader_role: str) -> None:
    """Refuse before changing anything: roles that could get round the grants, roles to create without the right
    to, or tables of another owner."""
    may_create_roles = conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user") \
        .fetchone()[0]
    for option, role in (("--app-role", app_role), ("--reader-role", reader_role)):
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication, "
                           "pg_has_role(oid, (SELECT oid FROM pg_roles WHERE rolname = current_user), 'MEMBER') "
                           "FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if row is None:
            if not may_create_roles:
                raise InvalidField("--db", f"role {role!r} does not exist and {store.user!r} may not create it",
                                   allowed="an owner with CREATEROLE, or roles created beforehand by a superuser")
            continue
        powers = [name for name, held in zip(("SUPERUSER", "CREATEROLE", "BYPASSRLS", "REPLICATION",
                                              f"membership of {store.user}"), row) if held]
        if powers:
            raise InvalidField(option, f"{role!r} has {', '.join(powers)}: the database could not hold it to the "
                                       "grants", allowed="a plain LOGIN role")
    app_owned = [table for table, grants in TABLES.items() if grants.app_owns]
    others = conn.execute(
        "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s) AND c.relkind = 'r' "
        "AND NOT pg_has_role(c.relowner, 'USAGE') AND NOT (c.relname = ANY(%s) AND pg_get_userbyid(c.relowner) = %s)",
        (list(TABLES), app_owned, app_role)).fetchall()
    if others:
        listed = ", ".join(f"{table} (owned by {owner})" for table, owner in others)
        raise InvalidField("--db", f"role {store.user!r} does not own {listed}",
                           allowed="the URL of the role that owns the store's tables")


# --- the schema, as the owner -----------------------------------------------------------------------------------

def _create_schema(db: str | None) -> None:
    """The event store (eventsourcing's recorder), the data-key table, the read models and the server's tables, each
    created by the code that uses it; an existing read model whose schema changed is migrated (dropped, created, then
    re-granted below)."""
    from entrypoints.tables import ensure_tables
    from projections.readside import engine_for
    from workflow.application import Jejak

    with Jejak(db, env={"POSTGRES_POOL_SIZE": "1"}) as app:
        if app.recorder.events_table_name != EVENTS_TABLE:
            raise RuntimeError(f"the events table is {app.recorder.events_table_name}, not {EVENTS_TABLE}")
        app.subject_keys._ensure_table()  # the write side's own CREATE TABLEs
        app.subject_keys.ensure_secrets_table()
        ensure_tables(engine_for(app.url))


# --- roles and grants, in the caller's transaction ---------------------------------------------------------------

def _ensure_role(conn, role: str, password: str | None) -> bool:
    """Create the role if missing (a plain LOGIN role); set its password if one is given. True if created."""
    created = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None
    if created:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    if password:
        # hashed here, as psql's \password does, so that the clear password is never in a statement the server
        # may log
        hashed = conn.pgconn.encrypt_password(password.encode(), role.encode()).decode()
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(hashed)))
    return created


def _schema_and_database(conn, schema: str, store: Store, app_role: str, reader_role: str) -> None:
    roles = sql.SQL(", ").join([sql.Identifier(app_role), sql.Identifier(reader_role)])
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC, {}").format(sql.Identifier(schema), roles))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), roles))
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(store.database), roles))


def _exists(conn, schema: str, table: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s",
                        (schema, table)).fetchone() is not None


def _grant(conn, schema: str, table: str, grants: Grants, app_role: str, reader_role: str) -> None:
    target = sql.Identifier(schema, table)
    app, reader = sql.Identifier(app_role), sql.Identifier(reader_role)
    if grants.append_only:
        for statement in guard_table_statements(schema, table):
            conn.execute(statement)
    if grants.app_owns:
        _hand_over(conn, schema, table, app_role, [reader])
        return
    conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC, {}, {}").format(target, app, reader))
    for role, privileges in ((app, grants.app), (reader, grants.reader)):
        if privileges:
            conn.execute(sql.SQL("GRANT {} ON TABLE {} TO {}").format(_privileges(privileges), target, role))
    for privilege, columns in grants.app_columns:  # (REVOKE ALL above took back any column privilege too)
        conn.execute(sql.SQL("GRANT {} ({}) ON TABLE {} TO {}").format(
            _privileges((privilege,)), sql.SQL(", ").join(map(sql.Identifier, columns)), target, app))
    for sequence in _sequences(conn, schema, table):
        conn.execute(sql.SQL("REVOKE ALL ON SEQUENCE {} FROM PUBLIC, {}, {}").format(sequence, app, reader))
        if "INSERT" in grants.app:
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sequence, app))


def _hand_over(conn, schema: str, table: str, role: str, others: list[sql.Identifier]) -> None:
    """Make `role` the table's owner, and take every right on it from `others` and PUBLIC. PostgreSQL asks that
    whoever changes the owner be a member of the new owner, and that the new owner may create in the schema; and
    only the owner (or a member) may revoke what the owner granted. Both are granted for these statements only,
    inside this transaction."""
    owner, member = conn.execute(
        "SELECT pg_get_userbyid(c.relowner), pg_has_role(current_user, %s, 'MEMBER') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (role, schema, table)).fetchone()
    the_role, the_table = sql.Identifier(role), sql.Identifier(schema, table)
    if not member:  # a non-superuser owner becomes a member for a moment (CREATEROLE allows it)
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(the_role))
    if owner != role:
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(sql.Identifier(schema), the_role))
        conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(the_table, the_role))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(sql.Identifier(schema), the_role))
    conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC, {}").format(the_table, sql.SQL(", ").join(others)))
    if not member:
        conn.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(the_role))


def _privileges(privileges: tuple[str, ...]) -> sql.Composable:
    unknown = set(privileges) - PRIVILEGES
    if unknown:
        raise ValueError(f"unknown privileges {sorted(unknown)}")
    return sql.SQL(", ").join(sql.SQL(privilege) for privilege in privileges)


def _sequences(conn, schema: str, table: str) -> list[sql.Identifier]:
    """The sequences a table's serial or identity columns draw from (INSERT needs USAGE on them)."""
    rows = conn.execute(
        "SELECT sn.nspname, s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_namespace sn ON sn.oid = s.relnamespace JOIN pg_class t ON t.oid = d.refobjid "
        "JOIN pg_namespace tn ON tn.oid = t.relnamespace "
        "WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND tn.nspname = %s AND t.relname = %s",
        (schema, table)).fetchall()
    return [sql.Identifier(nsp, name) for nsp, name in rows]


def _connect(store: Store) -> psycopg.Connection:
    return psycopg.connect(host=store.host, port=store.port, dbname=store.database, user=store.user,
                           password=store.password or None, autocommit=True)
