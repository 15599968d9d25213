"""`jejak db secure` on the real PostgreSQL server: each role connects and is refused what it must not do, and the
application works under its role. The roles are cluster-wide, so each run makes uniquely named ones (an owner
that is not a superuser, as a real database owner is not) and drops them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors, sql

from entrypoints.bootstrap import open_jejak
from entrypoints.cli.main import main
from entrypoints.db_secure import EVENTS_TABLE, TABLES
from projections import audits
from projections.integrity import verify
from projections.readside import ReadSide, engine_for
from tests.conftest import PG_ADMIN, T0, TO_RECOMMENDED, new_case, walk
from workflow.errors import NotAuthorized
from workflow.importer import import_file

pytestmark = pytest.mark.postgres
ADMIN = urlsplit(PG_ADMIN)
SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "import-sample.csv"
READ_MODELS = ("case_summary", "case_event", "event_chain", "projection_position")


class Secured:
    def __init__(self):
        tag = uuid.uuid4().hex[:10]
        self.database, self.owner = f"jejak_sec_{tag}", f"jejak_owner_{tag}"
        self.app, self.reader = f"jejak_app_{tag}", f"jejak_reader_{tag}"

    def url(self, role: str, database: str | None = None) -> str:
        return f"postgresql://{role}@{ADMIN.hostname}:{ADMIN.port or 5432}/{database or self.database}"

    def connect(self, role: str | None = None) -> psycopg.Connection:
        """As a role of the test (None: the superuser the tests administer the server with)."""
        url = self.url(role) if role else PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}"
        return psycopg.connect(url, autocommit=True)

    def secure(self, capsys, *extra: str) -> tuple[int, str, str]:
        code = main(["db", "secure", "--db", self.url(self.owner), "--app-role", self.app,
                     "--reader-role", self.reader, *extra])
        out, err = capsys.readouterr()
        return code, out, err


def admin(statement: sql.Composable) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="module")
def secured():
    s = Secured()
    admin(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(s.owner)))
    admin(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(s.database), sql.Identifier(s.owner)))
    code = main(["db", "secure", "--db", s.url(s.owner), "--app-role", s.app, "--reader-role", s.reader,
                 "--app-password", "app-secret", "--reader-password", "reader-secret"])
    assert code == 0
    yield s
    engine_for.cache_clear()
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(s.database)))
    for role in (s.app, s.reader, s.owner):
        admin(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def privileges(s: Secured) -> dict:
    """Everything `secure` decides, read from the catalogue: owners and grants of the schema's tables, sequences
    and functions, the triggers, the roles' attributes and the schema's and database's grants."""
    with s.connect() as conn:
        relations = conn.execute("SELECT c.relname, pg_get_userbyid(c.relowner), c.relacl::text FROM pg_class c "
                                 "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'S') "
                                 "ORDER BY 1").fetchall()
        functions = conn.execute("SELECT proname, prosecdef, proacl::text FROM pg_proc "
                                 "WHERE pronamespace = 'public'::regnamespace ORDER BY 1").fetchall()
        triggers = conn.execute("SELECT tgrelid::regclass::text, tgname, tgtype FROM pg_trigger "
                                "WHERE NOT tgisinternal ORDER BY 1, 2").fetchall()
        roles = conn.execute("SELECT rolname, rolsuper, rolcreaterole, rolcanlogin, rolpassword IS NOT NULL "
                             "FROM pg_authid WHERE rolname = ANY(%s) ORDER BY 1", ([s.app, s.reader],)).fetchall()
        members = conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                               "WHERE r.rolname = ANY(%s)", ([s.app, s.reader],)).fetchone()
        schema = conn.execute("SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'").fetchone()
        database = conn.execute("SELECT datacl::text FROM pg_database WHERE datname = %s", (s.database,)).fetchone()
    return {"relations": relations, "functions": functions, "triggers": triggers, "roles": roles,
            "members": members, "schema": schema, "database": database}


def refused(s: Secured, role: str | None, statement: str) -> str:
    """The database's refusal of one statement run as `role` (the test fails if it is not refused)."""
    with s.connect(role) as conn:
        with pytest.raises(errors.InsufficientPrivilege) as refusal, conn.transaction():
            conn.execute(statement)
    return str(refusal.value)


def event_count(s: Secured) -> int:
    with s.connect() as conn:
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(EVENTS_TABLE))).fetchone()[0]


# --- secure itself ------------------------------------------------------------------------------------------------

def test_secure_is_idempotent_and_converges(secured, capsys):
    before = privileges(secured)
    assert [row[0] for row in before["roles"]] == sorted([secured.app, secured.reader])
    assert all(row[4] for row in before["roles"])  # both passwords set (stored hashed)
    with secured.connect(secured.owner) as conn:  # a grant made by hand, beyond what TABLES says
        conn.execute(sql.SQL("GRANT UPDATE ON case_event TO {}").format(sql.Identifier(secured.app)))
    assert privileges(secured) != before
    code, out, _ = secured.secure(capsys, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["created_roles"] == [] and set(TABLES) <= set(result["tables"])
    assert privileges(secured) == before  # the same grants again, the hand-made one taken back
    assert before["members"] == (0,)  # the owner's passing membership of the application role was taken back


def test_secure_refuses_what_it_cannot_make_safe(secured, capsys, tmp_path):
    def refused_cli(*argv: str) -> str:
        assert main(["db", "secure", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("jejak: error: ") and err.count("\n") == 1
        return err

    assert "SQLite" in refused_cli("--db", f"sqlite:///{tmp_path / 'x.db'}")
    owner = secured.url(secured.owner)
    assert "SUPERUSER" in refused_cli("--db", owner, "--app-role", "postgres", "--reader-role", secured.reader)
    assert "not a usable role name" in refused_cli("--db", owner, "--app-role", "App-Role")
    assert "application role too" in refused_cli("--db", owner, "--app-role", secured.app, "--reader-role",
                                                 secured.app)
    assert "owner" in refused_cli("--db", owner, "--app-role", secured.owner)


# --- the stored events refuse edits, whoever asks -------------------------------------------------------------------

@pytest.mark.parametrize("statement", [f"UPDATE {EVENTS_TABLE} SET topic = topic",
                                       f"UPDATE {EVENTS_TABLE} SET topic = topic WHERE false",
                                       f"DELETE FROM {EVENTS_TABLE}", f"TRUNCATE {EVENTS_TABLE}"])
def test_stored_events_refuse_edits_by_the_app_and_the_owner(secured, statement):
    with open_jejak(secured.url(secured.app)) as app:
        new_case(app)
    count = event_count(secured)
    assert "permission denied" in refused(secured, secured.app, statement)
    assert "append-only" in refused(secured, secured.owner, statement)  # the owner holds the privilege: the guard
    assert event_count(secured) == count


def test_the_chain_and_checkpoints_are_append_only_and_written_by_the_app_role(secured):
    """The write side's chain rows and signed checkpoints, like the events: inserted by the application role in
    its own transactions, then refused to every edit; the reader may read them (they are public)."""
    from projections.checkpoints import make_checkpoint
    from tests.conftest import WRITER_KEY
    from workflow.chain import CHAIN_TABLE
    from workflow.checkpoint_store import CHECKPOINT_TABLE

    with open_jejak(secured.url(secured.app)) as app:
        new_case(app)
        make_checkpoint(app, WRITER_KEY)
        report = verify(app)
        assert report.ok and report.signed == report.events > 0
    for table in (CHAIN_TABLE, CHECKPOINT_TABLE):
        for statement in (f"UPDATE {table} SET size = size" if table == CHECKPOINT_TABLE
                          else f"UPDATE {table} SET link = link", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            assert "permission denied" in refused(secured, secured.app, statement)
            assert "append-only" in refused(secured, secured.owner, statement)
        with secured.connect(secured.reader) as conn:
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0] > 0


def test_the_app_role_holds_no_edit_privilege_on_events_and_creates_nothing(secured):
    # a role with UPDATE, DELETE or TRUNCATE could take this lock; the application takes only eventsourcing's,
    # through the owner's function
    refused(secured, secured.app, f"LOCK TABLE {EVENTS_TABLE} IN ACCESS EXCLUSIVE MODE")
    refused(secured, secured.app, "CREATE TABLE side_channel (x int)")
    refused(secured, secured.app, "DROP TABLE case_summary")
    refused(secured, secured.app, "UPDATE case_event SET note = 'edited'")


# --- the reader ----------------------------------------------------------------------------------------------------

def test_the_reader_reads_the_read_models_and_nothing_else(secured):
    with open_jejak(secured.url(secured.app)) as app:
        case_id = new_case(app)
        ReadSide(app).catch_up()
    with secured.connect(secured.reader) as conn:
        for table in READ_MODELS:
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
        assert conn.execute("SELECT state FROM case_summary WHERE case_id = %s", (str(case_id),)).fetchone()
    for statement in ["SELECT * FROM subject_keys", f"SELECT * FROM {EVENTS_TABLE}",
                      "INSERT INTO case_summary (case_id) VALUES ('x')", "DELETE FROM case_event"]:
        refused(secured, secured.reader, statement)


def test_secure_creates_and_grants_the_server_tables(secured):
    """The HTTP server's tables are made by `secure` itself, so the server starts under the application role at
    once (tests/test_api_secured.py runs it): it reads tokens, appends the access record, and no more."""
    with secured.connect(secured.owner) as conn:
        conn.execute("INSERT INTO api_token (token_id, secret_sha256, role, created_at) "
                     "VALUES ('t1', 'hash', 'auditor', now())")
    with secured.connect(secured.app) as conn:
        assert conn.execute("SELECT secret_sha256 FROM api_token").fetchone() == ("hash",)
        conn.execute("INSERT INTO personal_data_access (access_id, case_id, accessed_at, principal, actor, granted) "
                     "VALUES ('a1', 'c1', now(), 'token:t1', 'auditor', false)")
    refused(secured, secured.app, "INSERT INTO api_token (token_id, secret_sha256, role, created_at) "
                                  "VALUES ('t2', 'forged', 'system', now())")  # tokens: the owner's CLI
    refused(secured, secured.app, "UPDATE personal_data_access SET case_id = 'c2'")
    assert "append-only" in refused(secured, secured.owner, "DELETE FROM personal_data_access")
    refused(secured, secured.reader, "SELECT * FROM api_token")
    refused(secured, secured.reader, "SELECT * FROM personal_data_access")


# --- the application under its role --------------------------------------------------------------------------------

def table_file(s: Secured, table: str) -> bytes:
    """The table's file, read by the server after a CHECKPOINT (dead rows included)."""
    with s.connect() as conn:
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT pg_read_binary_file(current_setting('data_directory') || '/' || "
                            "pg_relation_filepath(%s))", (table,)).fetchone()[0]


def test_the_application_works_as_the_app_role(secured, capsys):
    with open_jejak(secured.url(secured.app)) as app:
        assert type(app.recorder).__name__ == "SecuredRecorder"
        ids = [new_case(app) for _ in range(3)]
        walk(app, ids[0], TO_RECOMMENDED)
        subjects = [app.get_case(case_id).reporter["subject"] for case_id in ids]
        erased, kept = app.subject_keys.get(subjects[1]), app.subject_keys.get(subjects[2])
        app.advance(ids[1], "erase_reporter", "bawaslu:kab-bima")
        assert app.reporter(ids[1]) is None and app.reporter(ids[2])["name"] == "Siti Aminah"
        raw = table_file(secured, "subject_keys")
        assert kept.encode() in raw and erased.encode() not in raw  # VACUUMed by the app role, which owns it
        marked = app.tick(T0.replace(year=2025))
        assert ids[0] in {case_id for case_id, _ in marked}
        result = import_file(app, SAMPLE, workers=1)
        assert result.ok and result.imported == 15
        read_side = ReadSide(app)  # PostgreSQL makes case_event and the chain copy (the owner made its aggregate)
        assert [type(p).__name__ for p in read_side.projectors[1:]] == ["CaseEventInDatabase", "EventChainInDatabase"]
        assert read_side.catch_up() >= 0
        assert audits.funnel(app)["reported"].sum() >= 18
        assert not audits.backdating(app).empty
        assert verify(app).ok
    assert main(["--db", secured.url(secured.app), "cases", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) >= 18
    with secured.connect(secured.app) as conn:  # what the projection of a `correct_date` patches, and only that
        conn.execute("UPDATE case_event SET occurred_at = occurred_at, occurred_at_stated = occurred_at_stated")


def test_rebuilding_the_read_models_is_the_owners(secured, capsys):
    assert main(["--db", secured.url(secured.app), "project", "--rebuild"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("jejak: error: rebuilding the read models is the owner's operation") and err.count("\n") == 1
    with open_jejak(secured.url(secured.app)) as app:
        with pytest.raises(NotAuthorized):
            ReadSide(app).rebuild()
        before = ReadSide(app).snapshot()
    with open_jejak(secured.url(secured.owner)) as app:
        ReadSide(app).rebuild()
    with open_jejak(secured.url(secured.app)) as app:  # the tables kept their grants
        case_id = new_case(app)
        assert ReadSide(app).catch_up() == 1
        after = ReadSide(app).snapshot(catch_up=False)
    assert len(after["case_summary"]) == len(before["case_summary"]) + 1
    assert str(case_id) in {row[0] for row in after["case_summary"]}


def test_the_app_role_cannot_start_a_store_nobody_secured(secured, capsys):
    other = f"{secured.database}_bare"
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        assert main(["--db", secured.url(secured.app, other), "cases"]) == 4
        err = capsys.readouterr().err
        assert "run `jejak db secure`" in err and err.count("\n") == 1
    finally:
        admin(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(other)))


def test_every_read_model_has_its_grants_decided():
    """A new table of the read side must be given its grants in entrypoints/db_secure.py, on purpose."""
    from projections.tables import metadata

    assert set(metadata.tables) <= set(TABLES)
