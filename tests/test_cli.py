"""The CLI end to end: in-process for speed, plus one real subprocess for the console script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from entrypoints.cli.main import main

REPORT = ["report", "--at", "2024-10-01T09:00+07:00", "--name", "Budi Santoso", "--position-group", "administrator",
          "--agency", "pemkab-bima", "--province", "prov-ntb", "--regency", "kab-bima", "--category",
          "social_media", "--election", "pilkada-2024", "--reporter-name", "Siti"]


@pytest.fixture
def jejak(db_url, capsys):
    def run(*argv: str, code: int = 0) -> str:
        exit_code = main(["--db", db_url, *argv])
        captured = capsys.readouterr()
        assert exit_code == code, captured.err
        return captured.out if code == 0 else captured.err
    return run


def test_walk_a_case_to_its_sanction(jejak):
    case = jejak(*REPORT).strip()
    for trigger, actor, *extra in [
        ("begin_review", "bawaslu:kab-bima@andi"), ("request_correction", "bawaslu:kab-bima"),
        ("submit_correction", "reporter"), ("register", "bawaslu:kab-bima"),
        ("forward", "bawaslu:prov-ntb"), ("begin_examination", "bkn"),
        ("recommend", "bkn", "--set", "track=discipline", "--set", "sanction=allowance_cut_6m"),
    ]:
        jejak("advance", case, trigger, "--as", actor, "--at", "2024-10-08T10:00+07:00", *extra)
    assert json.loads(jejak("triggers", case, "--as", "ppk:pemkab-bima", "--json")) == [
        "begin_ppk_examination", "impose_sanction", "record_departure"]
    out = jejak("advance", case, "begin_ppk_examination", "--as", "ppk:pemkab-bima", "--at", "2024-10-09T10:00+07:00")
    assert out.strip() == "under_ppk_examination"
    out = jejak("advance", case, "impose_sanction", "--as", "ppk:pemkab-bima", "--at", "2024-10-10T10:00+07:00",
                "--set", "sanction=written_reprimand", "--set", "decree_number=800/45/2024")
    assert out.strip() == "sanctioned"
    history = json.loads(jejak("show", case, "--json"))
    assert [row["trigger"] for row in history] == [
        "report", "begin_review", "request_correction", "submit_correction", "register", "forward",
        "begin_examination", "recommend", "begin_ppk_examination", "impose_sanction"]
    assert history[-1]["details"]["decree_number"] == "800/45/2024"
    assert "Siti" not in jejak("show", case)  # the reporter's personal data stays out of the history view
    listed = json.loads(jejak("cases", "--state", "sanctioned", "--json"))
    assert [row["case_id"] for row in listed] == [case]


def test_report_from_json_on_stdin(jejak, monkeypatch):
    import io
    body = {"name": "Ani", "position_group": "functional", "agency": "pemkot-kediri", "province": "prov-jatim",
            "regency": "kota-kediri", "category": "declaration", "election": "pemilu-2024",
            "occurred_at": "2024-02-01T10:00+07:00"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(body)))
    case = jejak("report", "--as", "bawaslu:kota-kediri", "--from", "-").strip()
    [row] = json.loads(jejak("show", case, "--json"))
    assert row["details"]["source"] == "finding" and row["workflow_version"] == "skb-2022@1"


def test_tick_twice_marks_once(jejak):
    case = jejak(*REPORT).strip()
    for trigger in ("begin_review", "register"):
        jejak("advance", case, trigger, "--as", "bawaslu:kab-bima", "--at", "2024-10-02T10:00+07:00")
    first = json.loads(jejak("tick", "--now", "2024-10-20T00:00+07:00", "--json"))
    again = json.loads(jejak("tick", "--now", "2024-10-21T00:00+07:00", "--json"))
    assert first == [{"case_id": case, "missed_deadline": "bawaslu_handling.pilkada"}] and again == []


@pytest.mark.parametrize("argv, code, message", [
    (["advance", "not-a-case", "register", "--as", "bawaslu:ri"], 2, "not a case id"),
    (["advance", "00000000-0000-0000-0000-000000000000", "register", "--as", "bawaslu:ri"], 3, "no case"),
    (["report", "--name", "x"], 2, "required for report"),
    (["report", "--from", "/nonexistent.json"], 2, "cannot read /nonexistent.json"),
    (["tick", "--now", "yesterday"], 2, "not an ISO date"),
])
def test_errors_are_one_clear_line(jejak, argv, code, message):
    err = jejak(*argv, code=code)
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_tick_in_the_future_is_refused_naming_now(jejak):
    assert "now: 2999-01-01T00:00:00+07:00 is in the future" in jejak("tick", "--now", "2999-01-01T00:00+07:00",
                                                                      code=2)


def test_illegal_transition_names_case_state_and_legal_triggers(jejak):
    case = jejak(*REPORT).strip()
    err = jejak("advance", case, "recommend", "--as", "bkn", "--set", "track=ethics", code=2)
    assert case in err and "'reported'" in err and "legal triggers: begin_review, cancel, erase_reporter, record_departure" in err


def test_workflow_mermaid_diagram(jejak):
    out = jejak("workflow", "--era", "skb-2022", "--mermaid")
    assert "stateDiagram-v2" in out and "recommended --> sanctioned: impose_sanction" in out


def test_console_script_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "entrypoints.cli", "--db", str(tmp_path / "x.db"), "advance",
                             "00000000-0000-0000-0000-000000000000", "register", "--as", "bawaslu:ri"],
                            capture_output=True, text=True)
    assert result.returncode == 3 and result.stderr.startswith("jejak: error: no case")
    assert "Traceback" not in result.stderr and result.stdout == ""


BRANCHES = {
    "not_registered": [("begin_review", "bawaslu:kab-bima"), ("request_correction", "bawaslu:kab-bima"),
                       ("reject_registration", "bawaslu:kab-bima")],
    "dismissed": [("begin_review", "bawaslu:kab-bima"), ("register", "bawaslu:kab-bima"),
                  ("dismiss", "bawaslu:kab-bima")],
    "not_proven": [("begin_review", "bawaslu:kab-bima"), ("register", "bawaslu:kab-bima"),
                   ("forward", "bawaslu:kab-bima"), ("return_to_bawaslu", "bkn"), ("forward", "bawaslu:kab-bima"),
                   ("begin_examination", "bkn"), ("find_not_proven", "bkn")],
    "rejected": [("begin_review", "bawaslu:kab-bima"), ("register", "bawaslu:kab-bima"),
                 ("forward", "bawaslu:kab-bima"), ("reject", "bkn")],
    "cancelled": [("begin_review", "bawaslu:kab-bima"), ("cancel", "bawaslu:kab-bima")],
    "departed": [("begin_review", "bawaslu:kab-bima"), ("record_departure", "ppk:pemkab-bima", "reason=retired")],
}


@pytest.mark.parametrize("end", sorted(BRANCHES))
def test_side_branches_from_the_cli(jejak, end):
    case = jejak(*REPORT).strip()
    state = ""
    for day, (trigger, actor, *fields) in enumerate(BRANCHES[end], start=2):
        sets = [arg for field in fields for arg in ("--set", field)]
        state = jejak("advance", case, trigger, "--as", actor, "--at", f"2024-10-{day:02d}T10:00+07:00", *sets)
    assert state.strip() == end


def test_overdue_block_escalate_unblock_from_the_cli(jejak):
    case = jejak(*REPORT).strip()
    for trigger, actor, *extra in [
        ("begin_review", "bawaslu:kab-bima"), ("register", "bawaslu:kab-bima"), ("forward", "bawaslu:kab-bima"),
        ("begin_examination", "bkn"), ("recommend", "bkn", "--set", "track=ethics", "--set", "sanction=public_statement"),
    ]:
        jejak("advance", case, trigger, "--as", actor, "--at", "2024-10-05T10:00+07:00", *extra)
    jejak("tick", "--now", "2024-11-01T00:00+07:00")
    steps = [("block_personnel_data", "bkn"), ("escalate", "bkn", "--set", "to=kemendagri"),
             ("impose_sanction", "ppk:pemkab-bima", "--set", "sanction=closed_statement", "--set", "decree_number=9"),
             ("unblock_personnel_data", "bkn")]
    for trigger, actor, *extra in steps:
        jejak("advance", case, trigger, "--as", actor, "--at", "2024-11-02T10:00+07:00", *extra)
    history = json.loads(jejak("show", case, "--json"))
    assert [row["trigger"] for row in history][-5:] == ["mark_overdue"] + [s[0] for s in steps]
    assert history[-1]["state"] == "sanctioned"



@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_cli_command_opens_one_postgres_connection_unless_told_otherwise(db_url, monkeypatch):
    import argparse

    from entrypoints.cli.main import open_app

    with open_app(argparse.Namespace(db=db_url)) as app:
        assert app.recorder.datastore.pool.min_size == 1
    monkeypatch.setenv("POSTGRES_POOL_SIZE", "3")
    with open_app(argparse.Namespace(db=db_url)) as app:
        assert app.recorder.datastore.pool.min_size == 3


def test_a_write_command_loads_neither_pandas_nor_the_other_subcommands(tmp_path):
    """Scripts call `jejak advance` in loops: it must not pay for pandas, SQLAlchemy, the demo or the import."""
    db = str(tmp_path / "x.db")
    code = ("import json, sys; from entrypoints.cli.main import main; code = main(sys.argv[1:]); "
            "print(json.dumps(sorted(m for m in ('pandas', 'sqlalchemy', 'jupyterlab', 'demo.generator', "
            "'workflow.importer', 'entrypoints.cli.readside', 'projections.readside') if m in sys.modules)), file=sys.stderr); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code, "--db", db, *REPORT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    case = result.stdout.strip()
    result = subprocess.run([sys.executable, "-c", code, "--db", db, "advance", case, "begin_review",
                             "--as", "bawaslu:kab-bima", "--at", "2024-10-02T09:00+07:00"], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "under_review"), result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("argv, word", [
    (["advance", "x", "begin_review"], "advance"), (["--db", "advance.db", "--json", "cases"], "cases"),
    (["--db=x.db", "import", "f.csv"], "import"), (["--json"], None), ([], None)])
def test_the_command_word_is_found_past_the_options_before_it(argv, word):
    from entrypoints.cli.main import command_word

    assert command_word(argv) == word


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("advance", "demo", "import", "project", "export", "audit"))
