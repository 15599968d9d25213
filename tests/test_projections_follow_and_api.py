"""Follow mode (PostgreSQL LISTEN + polling), the auditor's notebook API and the read-side CLI."""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import timedelta

import pandas as pd
import pytest

from entrypoints.cli import integrity
from entrypoints.cli import readside as cli
from projections.auditor import Auditor
from projections.readside import ReadSide
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk
from workflow.errors import JejakError


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_follow_picks_up_a_new_event(app):
    new_case(app)
    read_side = ReadSide(app)
    stop = threading.Event()
    applied = []
    poll = 30.0 if app.url.get_backend_name() == "postgresql" else 0.2  # PostgreSQL: woken by NOTIFY
    follower = threading.Thread(target=read_side.follow, args=(stop, poll), kwargs={"on_catch_up": applied.append})
    follower.start()
    try:
        assert _wait_for(lambda: sum(applied) == 1)
        case_id = new_case(app)
        assert _wait_for(lambda: sum(applied) == 2), "the new event was not picked up"
        with read_side.engine.connect() as conn:
            from sqlalchemy import select

            from projections.tables import case_summary
            assert str(case_id) in set(conn.execute(select(case_summary.c.case_id)).scalars())
    finally:
        stop.set()
        follower.join(10)
    assert not follower.is_alive()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # LISTEN exists on PostgreSQL only
def test_follow_polls_even_without_notifications(app, monkeypatch):
    assert app.store.is_postgres
    monkeypatch.setattr(ReadSide, "_listen", lambda self: _Deaf())  # every notification is lost
    read_side = ReadSide(app)
    stop, applied = threading.Event(), []
    follower = threading.Thread(target=read_side.follow, args=(stop, 0.3), kwargs={"on_catch_up": applied.append})
    follower.start()
    try:
        new_case(app)
        assert _wait_for(lambda: sum(applied) == 1)
    finally:
        stop.set()
        follower.join(10)


class _Deaf:
    def notifies(self, timeout, stop_after):
        time.sleep(timeout)
        return iter(())

    def close(self):
        pass


def test_auditor_api(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    auditor = Auditor(app=app)
    history = auditor.history(case_id)
    assert list(history["trigger"]) == ["report"] + [s[0] for s in TO_RECOMMENDED]
    assert isinstance(history["occurred_at"].dtype, pd.DatetimeTZDtype)
    assert str(history["occurred_at"].dt.tz) == "Asia/Jakarta"
    assert isinstance(history["state_after"].dtype, pd.CategoricalDtype)
    cases = auditor.cases()
    assert isinstance(cases["state"].dtype, pd.CategoricalDtype) and cases["state"].iloc[0] == "recommended"
    view = auditor.case(case_id)
    html = view._repr_html_()
    assert "recommended" in html and "begin_examination" in html and "Siti" not in html
    then = auditor.case_as_of(case_id, "2024-10-03")
    assert then.state == "under_examination"
    assert auditor.case_as_of(case_id, "2024-09-30") is None
    bundle = auditor.workflow("bkn-2024")._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"].lstrip("-\n ").count("stateDiagram-v2") == 1 or \
        "stateDiagram-v2" in bundle["text/vnd.mermaid"]
    assert "under_ppk_examination" in view.workflow()._repr_markdown_()
    for name in ("responsiveness", "funnel", "stage_durations", "overdue", "backdating"):
        assert isinstance(getattr(auditor, name)(), pd.DataFrame)
    assert auditor.portfolio_as_of("2024-10-04")["state"].tolist() == ["forwarded"]
    assert auditor.verify().ok


def _run(*argv) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="jejak")
    parser.add_argument("--db")
    parser.add_argument("--json", action="store_true")
    commands = parser.add_subparsers(required=True)
    cli.register(commands)
    integrity.register(commands)  # verify
    args = parser.parse_args(list(argv))
    try:
        return args.func(args), ""
    except JejakError as error:
        return error.exit_code, str(error)


def test_project_batches_and_progress(app, capsys):
    """`jejak project --batch-rows N --progress`: the same read models whatever the batch, a bar counting the events
    on stderr, and a negative batch refused with what is allowed."""
    db = app.url.render_as_string(hide_password=False)
    for day in range(3):
        walk(app, new_case(app, T0 + timedelta(days=day)), TO_RECOMMENDED, start=T0 + timedelta(days=day))
    assert _run("--db", db, "project", "--progress")[0] == 0
    assert "jejak project" in capsys.readouterr().err
    expected = ReadSide(app).snapshot(catch_up=False)
    for rows, seconds in (("0", "10"), ("1", "0.000001"), ("2", "1000")):
        assert _run("--db", db, "project", "--rebuild", "--batch-rows", rows, "--batch-seconds", seconds,
                    "--no-progress", "--json")[0] == 0
        out, err = capsys.readouterr()
        made = ["case_event", "event_chain"] if app.url.get_backend_name() == "postgresql" else []
        assert (json.loads(out), err) == ({"applied": 18, "rebuilt": True, "in_database": made}, "")
        assert ReadSide(app).snapshot(catch_up=False) == expected
    assert _run("--db", db, "project", "--batch-rows", "-1") == (2, "--batch-rows: must be 0 or more, not -1")
    for seconds in ("0", "-5", "nan", "inf"):
        code, message = _run("--db", db, "project", "--batch-seconds", seconds)
        assert code == 2 and message.startswith("--batch-seconds: must be a positive number of seconds"), message


def test_cli(app, capsys):
    db = app.url.render_as_string(hide_password=False)
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    assert _run("--db", db, "project")[0] == 0
    assert _run("--db", db, "project", "--rebuild", "--json")[0] == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["applied"] == 6
    assert _run("--db", db, "project", "--rebuild", "--no-in-database", "--json")[0] == 0  # all in Python
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"applied": 6, "rebuilt": True,
                                                                             "in_database": []}
    if app.url.get_backend_name() == "sqlite":
        code, message = _run("--db", db, "project", "--in-database")
        assert code == 2 and "in_database: only a PostgreSQL store" in message, message
    assert _run("--db", db, "audit", "funnel", "--json", "--by", "province")[0] == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["province"] == "prov-ntb" and rows[0]["recommended"] == 1
    assert _run("--db", db, "audit", "overdue", "--csv", "--now", "2024-11-01T00:00+07:00")[0] == 0
    assert "ppk:pemkab-bima" in capsys.readouterr().out
    assert _run("--db", db, "audit", "portfolio", "--as-of", "2024-10-04")[0] == 0
    assert _run("--db", db, "audit", "funnel", "--threshold", "3")[0] == 2
    capsys.readouterr()
    assert _run("--db", db, "verify", "--json")[0] == 0
    head = json.loads(capsys.readouterr().out)["head"]
    assert _run("--db", db, "verify", "--digest", head)[0] == 0
    assert _run("--db", db, "verify", "--digest", "0" * 64 + "@3")[0] == 1
    assert _run("--db", db, "verify", "--digest", "nope")[0] == 2
