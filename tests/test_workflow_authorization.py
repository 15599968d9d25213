"""Who may act on which case: jurisdiction by region and agency, and clear errors for unreadable actors."""

from __future__ import annotations

import re

import pytest

from tests.conftest import T0, TO_RECOMMENDED, new_case, report_fields, walk
from tests.workflow_support import day, refused
from workflow.actors import Actor
from workflow.definitions import ROLES
from workflow.errors import InvalidField, NotAuthorized


def test_bawaslu_jurisdiction_by_region(app):
    case_id = new_case(app)  # kab-bima, prov-ntb
    error = refused(app, case_id, NotAuthorized, "has no jurisdiction",
                    lambda: app.advance(case_id, "begin_review", "bawaslu:kab-dompu", occurred_at=day(1)))
    assert str(case_id) in str(error) and "prov-ntb/kab-bima" in str(error)
    refused(app, case_id, NotAuthorized, "has no jurisdiction",
            lambda: app.advance(case_id, "begin_review", "bawaslu:prov-jatim", occurred_at=day(1)))
    assert app.triggers(case_id, "bawaslu:kab-dompu") == []
    # the province and the national Bawaslu cover every regency below them
    app.advance(case_id, "begin_review", "bawaslu:prov-ntb", occurred_at=day(1))
    app.advance(case_id, "register", "bawaslu:ri@pusat", occurred_at=day(2))
    app.advance(case_id, "forward", "bawaslu:kab-bima", occurred_at=day(3))
    assert [e.actor["scope"] for e in app.case_events(case_id)[1:]] == ["prov-ntb", "ri", "kab-bima"]
    # a finding can only be filed within one's own region
    refused(app, None, NotAuthorized, re.escape("bawaslu:kab-dompu has no jurisdiction over case (new)"),
            lambda: app.report("bawaslu:kab-dompu", occurred_at=T0, **report_fields()))


def test_ppk_jurisdiction_follows_the_employer_and_the_recommendation(app):
    case_id = new_case(app)  # employed by pemkab-bima
    at = walk(app, case_id, TO_RECOMMENDED[:-1])
    app.advance(case_id, "recommend", "bkn", occurred_at=at, track="discipline", sanction="written_reprimand",
                ppk="pemprov-ntb")
    case = app.get_case(case_id)
    assert case.recommendation["ppk"] == "pemprov-ntb"
    assert case.agencies == {"pemkab-bima", "pemprov-ntb"}
    refused(app, case_id, NotAuthorized, "ppk:pemkab-dompu has no jurisdiction",
            lambda: app.advance(case_id, "begin_ppk_examination", "ppk:pemkab-dompu", occurred_at=at))
    assert app.triggers(case_id, "ppk:pemkab-dompu") == []
    assert "begin_ppk_examination" in app.triggers(case_id, "ppk:pemprov-ntb")
    app.advance(case_id, "begin_ppk_examination", "ppk:pemprov-ntb@kepala-bkd", occurred_at=at)
    app.advance(case_id, "impose_sanction", "ppk:pemprov-ntb", occurred_at=at, sanction="written_reprimand",
                decree_number="800/9/2024")
    assert app.get_case(case_id).state == "sanctioned"


def test_ppk_of_another_agency_cannot_record_a_departure(app):
    case_id = new_case(app)
    at = walk(app, case_id, TO_RECOMMENDED)  # recommended to the employer itself
    refused(app, case_id, NotAuthorized, "ppk:pemprov-ntb has no jurisdiction",
            lambda: app.advance(case_id, "record_departure", "ppk:pemprov-ntb", occurred_at=at, reason="left"))
    app.advance(case_id, "record_departure", "ppk:pemkab-bima", occurred_at=at, reason="left")


@pytest.mark.parametrize("text, name, fragment", [
    ("mayor", "actor role", "unknown role 'mayor' (allowed: " + ", ".join(ROLES) + ")"),
    ("bawaslu", "actor scope", "bawaslu acts within a jurisdiction and needs one (allowed: bawaslu:kab-bima"),
    ("bawaslu@andi", "actor scope", "needs one"),
    ("ppk", "actor scope", "(allowed: ppk:pemkab-bima)"),
    ("ppk:bkd-bima", "actor scope", "unknown agency 'bkd-bima'; closest: pemkot-bima (Pemerintah Kota Bima)"),
    ("ppk:pemkab", "actor scope", "unknown agency 'pemkab'"),
    ("bawaslu:bima", "actor scope", "unknown region 'bima'; closest: kab-bima (Kabupaten Bima), kota-bima (Kota "
                                    "Bima) (allowed: ri, a Kemendagri code (52, 52.06) or an alias"),
    ("bkn:Jakarta Pusat", "actor scope", "not a code"),
    ("BKN", "actor", "cannot read 'BKN' (allowed: ROLE[:SCOPE][@ID]"),
    ("", "actor", "cannot read ''"),
    ("bkn@" + "x" * 101, "actor id", "must be 1 to 100 characters"),
])
def test_actor_parsing_errors_are_clear(text, name, fragment):
    with pytest.raises(InvalidField) as info:
        Actor.parse(text)
    assert info.value.name == name
    assert fragment in str(info.value)


def test_actor_round_trip_and_direct_actor_objects_are_validated():
    actor = Actor.parse(" bawaslu:kab-bima@andi ")
    assert (actor.role, actor.scope, actor.id) == ("bawaslu", "kab-bima", "andi")
    assert str(actor) == "bawaslu:kab-bima@andi"
    assert Actor.parse("bawaslu:kota-mataram").scope == "kota-mataram"
    assert Actor.parse("ppk:kementerian-pupr").scope == "kementerian-pupr"
    from workflow.application import as_actor
    with pytest.raises(InvalidField, match="unknown role"):
        as_actor(Actor("judge"))
    with pytest.raises(InvalidField, match="needs one"):
        as_actor(Actor("ppk"))
    assert as_actor(Actor("bkn")) == Actor("bkn")
