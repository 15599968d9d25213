"""The CLI and the Python client as clients of a real `jejak serve` (PostgreSQL): `jejak --server URL --token
TOKEN …` prints what the same command prints on the store itself, with the same exit codes, and the token,
not `--as`, says who acts; `Client(url, token)` answers with the application's method names and errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from entrypoints.auth import tokens
from entrypoints.cli.main import main
from entrypoints.client import Client
from entrypoints.problems import NotAuthenticated, StaleVersion
from projections import audits
from tests.conftest import T0, TO_RECOMMENDED, WIB, report_fields, walk
from tests.server_support import ServerProcess, master_key, pg_database
from workflow.application import Jejak
from workflow.errors import CaseNotFound, IllegalTransition, InvalidField, NotAuthorized

pytestmark = pytest.mark.postgres
BAWASLU = "bawaslu:kab-bima@andi"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server url, db url, tokens by actor, case ids): a store with a few cases in different states."""
    with pg_database() as db_url:
        engine = tokens.engine_for_tokens(db_url)
        issued = {actor: tokens.issue(engine, *_parts(actor))[0]
                  for actor in (BAWASLU, "bawaslu:kab-dompu", "bkn", "ppk:pemkab-bima", "auditor", "system",
                                "reporter")}
        with Jejak(db_url) as app:
            sanctioned = app.report("reporter", occurred_at=T0, **report_fields())
            at = walk(app, sanctioned, TO_RECOMMENDED)
            app.advance(sanctioned, "impose_sanction", "ppk:pemkab-bima", occurred_at=at + timedelta(days=20),
                        sanction="written_reprimand", decree_number="800/1/2024")
            fresh = app.report("reporter", occurred_at=T0 + timedelta(days=3), **report_fields(agency="pemkot-bima"))
        server = ServerProcess(db_url, tmp_path_factory.mktemp("serve") / "serve.log",
                               env={"JEJAK_MASTER_KEY": master_key()}).wait_ready()
        try:
            yield server.url, db_url, issued, {"sanctioned": str(sanctioned), "fresh": str(fresh)}
        finally:
            server.stop()
            engine.dispose()


def _parts(actor: str):
    from workflow.actors import Actor
    parsed = Actor.parse(actor)
    return parsed.role, parsed.scope, parsed.id


@pytest.fixture
def both(served, capsys, monkeypatch):
    """run(local_argv, remote_argv, actor) -> ((code, out, err) locally, (code, out, err) over HTTP)."""
    url, db_url, issued, _ = served
    monkeypatch.delenv("JEJAK_SERVER", raising=False)

    def run(argv: list[str], actor: str | None = None, local_extra: tuple = ()):
        results = []
        for args in (["--db", db_url, *argv, *local_extra], ["--server", url, "--token", issued[actor or "auditor"],
                                                           *argv]):
            code = main(args)
            captured = capsys.readouterr()
            results.append((code, captured.out, captured.err))
        return results
    return run


@pytest.mark.parametrize("argv", [
    ["show", "{sanctioned}"], ["--json", "show", "{sanctioned}"], ["show", "{sanctioned}", "--as-of", "2024-10-03"],
    ["cases"], ["cases", "--json"], ["cases", "--state", "sanctioned"],
    ["audit", "funnel"], ["audit", "responsiveness", "--json"], ["audit", "backdating", "--csv"],
    ["audit", "stage_durations", "--by", "province"], ["audit", "portfolio", "--as-of", "2024-10-05"],
    ["audit", "overdue", "--now", "2024-12-01T00:00+07:00"],
    ["verify"], ["verify", "--json"],
])
def test_read_commands_print_the_same_over_http(both, served, argv):
    cases = served[3]
    argv = [word.format(**cases) for word in argv]
    local, remote = both(argv)
    assert local[0] == 0 and local[1].strip()
    assert remote == local


def test_triggers_come_from_the_token(both, served):
    case = served[3]["fresh"]
    local, remote = both(["triggers", case], BAWASLU, ("--as", BAWASLU))
    assert local[0] == 0 and "begin_review" in local[1] and remote == local
    local, remote = both(["triggers", case, "--json"], "bkn", ("--as", "bkn"))
    assert remote == local and json.loads(local[1]) == ["cancel", "record_departure"]


@pytest.mark.parametrize("argv, actor, code, text", [
    (["advance", "{sanctioned}", "forward"], BAWASLU, 2, "is 'sanctioned' (closed): 'forward' is not allowed"),
    (["advance", "00000000-0000-0000-0000-000000000000", "forward"], BAWASLU, 3, "no case"),
    (["advance", "{fresh}", "begin_review"], "bawaslu:kab-dompu", 4, "has no jurisdiction over case"),
    (["advance", "{fresh}", "begin_review", "--set", "colour=red"], BAWASLU, 2, "colour: not a field"),
    (["advance", "{fresh}", "begin_review", "--at", "yesterday"], BAWASLU, 2, "not an ISO date or time"),
    (["advance", "{fresh}", "begin_review", "--set", "note=x"], BAWASLU, 2, "note: not a trigger field"),
    (["audit", "funnel", "--threshold", "3"], "auditor", 2, "--threshold: only for backdating"),
    (["verify", "--digest", "nonsense"], "auditor", 2, "digest"),
])
def test_refusals_exit_with_the_same_code_and_message(both, served, argv, actor, code, text):
    argv = [word.format(**served[3]) for word in argv]
    local, remote = both(argv, actor, ("--as", actor) if argv[0] == "advance" else ())
    assert local[0] == remote[0] == code, (local, remote)
    assert local[2] == remote[2] and text in local[2] and local[2].startswith("jejak: error: ")


def test_writes_over_http_are_made_by_the_token(served, capsys):
    url, db_url, issued, _ = served
    remote = ["--server", url, "--token", issued[BAWASLU]]
    assert main([*remote, "report", "--name", "Ani", "--position-group", "pelaksana", "--agency", "pemkab-bima",
                 "--province", "prov-ntb", "--regency", "kab-bima", "--category", "declaration", "--election",
                 "pilkada-2024", "--at", "2024-10-02T08:00"]) == 0
    case = capsys.readouterr().out.strip()
    assert main([*remote, "advance", case, "begin_review", "--at", "2024-10-02T09:00", "--expect-version", "1"]) == 0
    assert capsys.readouterr().out.strip() == "under_review"
    assert main([*remote, "advance", case, "register", "--expect-version", "1"]) == 5  # stale: 412
    assert "at version 2" in capsys.readouterr().err
    with Jejak(db_url) as app:
        assert [e.actor for e in app.case_events(case)] == [{"role": "bawaslu", "scope": "kab-bima", "id": "andi"}] * 2
        assert app.get_case(case).version == 2


def test_client_mode_refuses_what_the_token_decides(served, capsys, monkeypatch):
    url, _, issued, cases = served
    remote = ["--server", url, "--token", issued[BAWASLU]]
    assert main([*remote, "advance", cases["fresh"], "begin_review", "--as", "bkn"]) == 2
    assert "--as: refused with --server: the token says who you are" in capsys.readouterr().err
    assert main([*remote, "demo"]) == 2 and "runs on a local store only" in capsys.readouterr().err
    assert main(["--server", url, "cases"]) == 2 and "--token: required" in capsys.readouterr().err
    assert main(["--server", url, "--token", "jjk_0_0", "cases"]) == 4
    assert "unknown API token" in capsys.readouterr().err
    monkeypatch.setenv("JEJAK_SERVER", url)
    monkeypatch.setenv("JEJAK_TOKEN", issued["auditor"])
    assert main(["cases", "--state", "sanctioned"]) == 0 and cases["sanctioned"] in capsys.readouterr().out
    assert main(["--server", "http://127.0.0.1:9", "--token", "x", "cases"]) == 1  # nobody there
    assert "cannot reach" in capsys.readouterr().err


def test_python_client_has_the_application_methods(served):
    url, db_url, issued, cases = served
    with Client(url, issued["reporter"]) as reporter, Client(url, issued[BAWASLU]) as bawaslu, \
            Client(url, issued["auditor"]) as auditor, Client(url, issued["system"]) as system:
        case_id = reporter.report(occurred_at=datetime(2024, 10, 4, 9, tzinfo=WIB), **report_fields())
        state = bawaslu.advance(case_id, "begin_review", BAWASLU, occurred_at="2024-10-04T10:00")
        assert (state.case_id, state.state, state.version) == (case_id, "under_review", 2)
        assert bawaslu.triggers(case_id) == ["cancel", "erase_reporter", "register", "reject_registration",
                                             "request_correction"]
        assert auditor.get_case(case_id)["state"] == "under_review"
        assert [e["trigger"] for e in auditor.case_events(case_id)] == ["report", "begin_review"]
        assert [e["trigger"] for e in auditor.case_events(case_id, as_of="2024-10-04T09:30")] == ["report"]
        assert bawaslu.reporter(case_id) == {"name": "Siti Aminah", "contact": "0812-0000-0000", "id_number": None}
        with pytest.raises(NotAuthorized):
            auditor.reporter(case_id)
        with pytest.raises(IllegalTransition) as refused:
            bawaslu.advance(case_id, "forward")
        assert refused.value.state == "under_review" and "register" in refused.value.legal
        with pytest.raises(StaleVersion) as stale:
            bawaslu.advance(case_id, "register", expected_version=1)
        assert stale.value.current_version == 2
        with pytest.raises(NotAuthorized):
            bawaslu.advance(case_id, "register", actor="bawaslu:ri")
        with pytest.raises(CaseNotFound):
            auditor.get_case("00000000-0000-0000-0000-000000000000")
        with pytest.raises(InvalidField):
            reporter.report(**report_fields(category="gossip"))
        with pytest.raises(NotAuthorized):
            auditor.tick()
        assert isinstance(system.tick(datetime(2024, 10, 20, tzinfo=WIB)), list)
        assert auditor.digest() == auditor.verify()["head"]
        with Jejak(db_url) as app:
            for name, options in [("responsiveness", {}), ("funnel", {"by": ["province"]}), ("backdating", {}),
                                  ("portfolio", {"as_of": ["2024-10-05"]})]:
                local = getattr(audits, name)(app, **({"dates": options["as_of"]} if "as_of" in options else options))
                pd.testing.assert_frame_equal(auditor.audit(name, **options), local)
    with Client(url, "jjk_00_00") as nobody, pytest.raises(NotAuthenticated):
        nobody.cases()


def test_the_readme_client_example_runs(served, monkeypatch):
    from tests.test_readme import blocks

    url, db_url, issued, _ = served
    example = next(block for block in blocks("python") if "Client(" in block)
    monkeypatch.setenv("JEJAK_SERVER", url)
    monkeypatch.setenv("JEJAK_TOKEN", issued[BAWASLU])
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert (namespace["state"].state, namespace["state"].version) == ("under_review", 2)
    assert "register" in namespace["allowed"] and [e["trigger"] for e in namespace["history"]] == [
        "report", "begin_review"]
    assert "prov-ntb" in set(namespace["funnel"]["province"])
