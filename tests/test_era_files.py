"""Eras are data files: the four shipped eras load from `workflow/era_files`, a fifth is added from a file without
touching code and a case runs through it, and a mistaken file is refused with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from datetime import datetime
from pathlib import Path

import pytest

from entrypoints.bootstrap import open_jejak
from reference import DATA
from tests.conftest import WIB, Clock, report_fields
from workflow import definitions
from workflow.case import EVENT_FOR_TRIGGER
from workflow.definitions import ERAS, VOCABULARY, add_era_file, era_for
from workflow.eras import SHIPPED, EraFileError, load_eras
from workflow.errors import NotAuthorized
from workflow.rules import CaseFacts
from workflow.settings import Settings

FIFTH = Path(__file__).parent / "fixtures" / "eras" / "komisi-2027.toml"
ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_eras_are_the_four_files():
    assert [era.id for era in ERAS.values()] == ["skb-2020", "pp94-2021", "skb-2022", "bkn-2024"]
    assert {Path(era.source).name for era in ERAS.values()} == {f"{era}.toml" for era in ERAS}
    assert all(Path(era.source).parent == SHIPPED for era in ERAS.values())
    bkn, skb = ERAS["bkn-2024"], ERAS["skb-2022"]
    assert bkn.table[:-1] == skb.table and bkn.table[-1]["trigger"] == "reject"  # extends, adds its own
    assert (bkn.commission, skb.commission) == ("bkn", "kasn")
    assert bkn.deadlines["commission_examination"].days == 7 and skb.deadlines["commission_examination"].days is None


def test_the_vocabulary_matches_the_code():
    """What a file may name is what the code can run: an event class per trigger, a fact per condition."""
    assert set(definitions.TRIGGERS) == set(EVENT_FOR_TRIGGER)
    assert set(definitions.CONDITIONS) == {f.name for f in fields(CaseFacts)}


@pytest.fixture
def fifth_era():
    """The hypothetical fifth era, loaded into this process for the test only."""
    eras, roles = dict(ERAS), list(definitions.ROLES)
    era = add_era_file(FIFTH)
    yield era
    ERAS.clear()
    ERAS.update(eras)
    definitions.ROLES[:] = roles


def test_a_fifth_era_from_a_file_runs_a_case(db_url, fifth_era, tmp_path):
    assert era_for(datetime(2027, 10, 1).date()) is fifth_era and "komisi" in definitions.ROLES
    clock = Clock(datetime(2028, 1, 10, tzinfo=WIB))
    calendar = tmp_path / "elections.csv"  # the shipped calendar and a hypothetical 2029 general election
    calendar.write_text((DATA / "elections.csv").read_text(encoding="utf-8") + "pemilu-2029,Pemilu 2029 "
                        "(hypothetical),2027-06-01,2028-11-01,2029-02-10,2029-02-14,,a test,\n", encoding="utf-8")
    with open_jejak(db_url, clock=clock, settings=Settings(elections_file=calendar)) as app:
        case_id = app.report("reporter", occurred_at=datetime(2027, 11, 1, 9, tzinfo=WIB),
                             **report_fields(election="pemilu-2029"))
        assert app.get_case(case_id).era == "komisi-2027"
        at = lambda day: datetime(2027, 11, day, 10, tzinfo=WIB)  # noqa: E731
        for day, trigger in [(2, "begin_review"), (3, "register"), (4, "forward")]:
            app.advance(case_id, trigger, "bawaslu:kab-bima", occurred_at=at(day))
        case = app.get_case(case_id)
        assert case.commission == "komisi" and case.deadline == "commission_examination"
        assert case.due_at == datetime(2027, 11, 19, tzinfo=WIB)  # 10 working days from Thu 4 Nov, end of day
        with pytest.raises(NotAuthorized, match="role 'bkn' may not begin_examination under komisi-2027@1"):
            app.advance(case_id, "begin_examination", "bkn", occurred_at=at(5))
        app.advance(case_id, "begin_examination", "komisi@ani", occurred_at=at(5))
        app.advance(case_id, "recommend", "komisi@ani", occurred_at=at(8), track="discipline",
                    sanction="allowance_cut_6m")
        app.advance(case_id, "block_personnel_data", "bkn", occurred_at=at(9))  # BKN keeps its own powers
        case = app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", occurred_at=at(12),
                           sanction="allowance_cut_6m", decree_number="800/1/2027")
        assert case.state == "sanctioned"
        assert {e.workflow_version for e in app.case_events(case_id)} == {"komisi-2027@1"}
        assert app.triggers(case_id, "komisi") == []


def test_the_cli_loads_a_fifth_era_from_jejak_eras_dir(tmp_path):
    env = {**os.environ, "JEJAK_ERAS_DIR": str(FIFTH.parent), "JEJAK_DB": f"sqlite:///{tmp_path / 'j.db'}"}
    out = subprocess.run([sys.executable, "-m", "entrypoints.cli.main", "workflow", "--era", "komisi-2027"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "komisi" in out.stdout and "reject" in out.stdout


def test_a_mistaken_era_file_stops_the_cli_with_one_line(tmp_path):
    (tmp_path / "x-1.toml").write_text('id = "x-1"\nextends = "nope"\n', encoding="utf-8")
    env = {**os.environ, "JEJAK_ERAS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "entrypoints.cli.launch", "workflow"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [f"jejak: error: era file {tmp_path / 'x-1.toml'}: extends 'nope', which no "
                                       "era file defines"]


@pytest.mark.parametrize("text, message", [
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\ncolour = 1',
     "unknown key(s) colour"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "nope"', "extends 'nope'"),
    ('id = "bkn-2024"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "skb-2022"',
     "defined twice"),
    ('id = "x-1"\ntitle = "t"\neffective_from = "2030-01-01"\nrevision = 1\nextends = "bkn-2024"',
     "effective_from must be a date"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2024-09-01\nrevision = 1\nextends = "bkn-2024"',
     "one era per day"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\n'
     'commission = "ombudsman"', "commission 'ombudsman' is not one of its roles"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\n'
     '[[transitions]]\ntrigger = "pardon"\nsource = "sanctioned"\nroles = ["ppk"]', "unknown trigger 'pardon'"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\n'
     '[[transitions]]\ntrigger = "cancel"\nsource = "limbo"\nroles = ["ppk"]', "unknown state 'limbo'"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\n'
     '[[transitions]]\ntrigger = "cancel"\nsource = "reported"\nroles = ["dpr"]', "role 'dpr' is not declared"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\nextends = "bkn-2024"\n'
     '[deadlines.ppk_follow_up]\ndays = -3', "days must be a whole number"),
    ('id = "x-1"\ntitle = "t"\neffective_from = 2030-01-01\nrevision = 1\ncommission = "bkn"\n'
     'discipline = "pp94-2021"\n[roles]\nbkn = "b"', "no 'report' transition"),
    ('id = = "x"', "not valid TOML"),
])
def test_a_mistaken_era_file_is_refused_naming_it(tmp_path, text, message):
    path = tmp_path / "x-1.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EraFileError) as caught:
        load_eras([path], VOCABULARY, ERAS)
    assert message in str(caught.value) and str(path) in str(caught.value)
