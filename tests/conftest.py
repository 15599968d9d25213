"""Every store-backed test runs twice: on a SQLite file and on a fresh PostgreSQL database of its own."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from entrypoints.bootstrap import open_jejak
from tests.server_support import PG_ADMIN, pg_database  # noqa: F401 (PG_ADMIN: for the tests)
from workflow.application import Jejak
from workflow.signing import SignerKey

WIB = timezone(timedelta(hours=7))


WRITER_KEY = SignerKey.generate("jejak.test/log")  # the writer's key of every test store (as in production)
# set for the whole session, so that stores built by module-scoped fixtures (and the servers they start) sign too
os.environ["JEJAK_SIGNING_KEY"] = str(WRITER_KEY)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    """The CLI remembers in the user's state directory which stores it has warned about (and the verifier the
    heads it verified): not the real one."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "state"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jejak.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def pg_db_url():
    """A fresh PostgreSQL database (for what only PostgreSQL does)."""
    with pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def keys():
    """An identity provider's key set served on 127.0.0.1 (tests/server_support.py), for a module's JWTs."""
    from tests.server_support import KeyServer

    server = KeyServer()
    yield server
    server.close()


@pytest.fixture
def app(db_url):
    with open_jejak(db_url) as application:
        yield application


T0 = datetime(2024, 10, 1, 9, 0, tzinfo=WIB)  # bkn-2024 era, regional election season


def report_fields(**overrides) -> dict:
    fields = dict(name="Budi Santoso", nip="198001012005011001", position="Kepala Seksi",
                  position_group="administrator", agency="pemkab-bima", province="prov-ntb", regency="kab-bima",
                  category="social_media", election="pilkada-2024", description="Shared a candidate's post",
                  reporter_name="Siti Aminah", reporter_contact="0812-0000-0000")
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


# The happy path to a recommendation, as (trigger, actor, fields); days are one apart.
TO_RECOMMENDED = [
    ("begin_review", "bawaslu:kab-bima", {}),
    ("register", "bawaslu:kab-bima", {}),
    ("forward", "bawaslu:kab-bima", {}),
    ("begin_examination", "bkn", {}),
    ("recommend", "bkn", {"track": "discipline", "sanction": "written_reprimand"}),
]


def walk(app: Jejak, case_id, steps, start: datetime = T0, step: timedelta = timedelta(days=1)):
    """Fire steps one day apart after `start`; returns the time of the last one."""
    at = start
    for trigger, actor, fields in steps:
        at += step
        app.advance(case_id, trigger, actor, occurred_at=at, **fields)
    return at


def election_on(at: datetime) -> str:
    """An election of the calendar whose window holds this time's date (the latest listed, so pilkada-2024 at T0);
    pilkada-2024 for a time no window holds (tests of refused times)."""
    from reference.elections import calendar

    day = at.date() if at.year in (1, 9999) else at.astimezone(WIB).date()
    return next((e.id for e in reversed(calendar().by_id.values()) if e.holds(day)), "pilkada-2024")


def new_case(app: Jejak, at: datetime = T0, **overrides):
    """A public report of `at`, about an election then under way unless one is given."""
    overrides.setdefault("election", election_on(at))
    return app.report("reporter", occurred_at=at, **report_fields(**overrides))


# --- read-side helpers (projections tests) ----------------------------------------------------------------

class Clock:
    """A settable clock for the application: events are recorded at `clock.at`."""

    def __init__(self, at: datetime = T0):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def clocked_app(db_url, clock):
    """Like `app`, but events are recorded at `clock.at` (set it before each command)."""
    with open_jejak(db_url, clock=clock) as application:
        yield application
