"""Every (era, trigger, source state, role, jurisdiction): only the allowed combinations write.

Table-driven from the definitions themselves: for each transition row and source state, a case is put in
that state, and every actor below tries the trigger. Expected: allowed iff the row lists the actor's role
and the actor's scope covers the case (a kab-bima case, employed by pemkab-bima, in prov-ntb; once
recommended, also the PPK the recommendation is addressed to, when that is another agency). A refusal must
leave the store exactly as it was: no event, no reporter data key. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workflow import rules
from workflow.actors import Actor, covers
from workflow.application import Jejak
from workflow.decisions import may_act
from workflow.definitions import ERAS
from workflow.errors import IllegalTransition, NotAuthorized
from tests.conftest import WIB, election_on, report_fields

ACTORS = ["reporter", "auditor", "system", "kasn", "bkn", "bawaslu:kab-bima", "bawaslu:prov-ntb", "bawaslu:ri",
          "bawaslu:kab-dompu", "bawaslu:prov-ntt", "ppk:pemkab-bima", "ppk:pemkab-dompu"]
START = {"skb-2020": datetime(2020, 10, 1, 9, tzinfo=WIB), "pp94-2021": datetime(2022, 7, 1, 9, tzinfo=WIB),
         "skb-2022": datetime(2022, 10, 1, 9, tzinfo=WIB), "bkn-2024": datetime(2024, 10, 1, 9, tzinfo=WIB)}
ATTEMPT_AT = datetime(2029, 1, 1, tzinfo=WIB)  # after every deadline
FIELDS = {"recommend": {"track": "ethics", "sanction": "closed_statement"},
          "impose_sanction": {"sanction": "closed_statement", "decree_number": "800/1"},
          "escalate": {"to": "president"}, "record_departure": {"reason": "retired"}}

TO_RECOMMENDED = ["begin_review", "register", "forward", "begin_examination", "recommend"]
PATHS = {
    "reported": [], "under_review": ["begin_review"], "awaiting_correction": ["begin_review", "request_correction"],
    "under_examination": ["begin_review", "register"], "forwarded": TO_RECOMMENDED[:3],
    "under_commission_examination": TO_RECOMMENDED[:4], "recommended": TO_RECOMMENDED,
    "under_ppk_examination": TO_RECOMMENDED + ["begin_ppk_examination"],
    "overdue": TO_RECOMMENDED + ["mark_overdue"],
    "sanctioned": TO_RECOMMENDED + ["block_personnel_data", "impose_sanction"],
    "departed": TO_RECOMMENDED + ["block_personnel_data", "record_departure"],
    "cancelled": TO_RECOMMENDED + ["block_personnel_data", "cancel"],
    "not_registered": ["begin_review", "reject_registration"], "dismissed": ["begin_review", "register", "dismiss"],
    "not_proven": TO_RECOMMENDED[:4] + ["find_not_proven"], "rejected": TO_RECOMMENDED[:3] + ["reject"],
}


def store_state(app: Jejak) -> tuple[int, int]:
    """What a write would change: the log's last position and the number of reporter data keys."""
    with app.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT count(*) AS n FROM subject_keys")
        keys = cursor.fetchone()["n"]
    return app.recorder.max_notification_id() or 0, keys


def prepare(app: Jejak, era_id: str, state: str, trigger: str, addressed: str | None = None):
    """A case in `state`; blocked first when the trigger needs personnel data blocked; its recommendation
    addressed to `addressed` (default: the employer)."""
    steps = list(PATHS[state])
    if trigger == "unblock_personnel_data" and "block_personnel_data" not in steps:
        steps.append("block_personnel_data")
    at = START[era_id]
    case = app.new_case("reporter", occurred_at=at, **report_fields(election=election_on(at)))
    for step in steps:
        at += timedelta(days=60 if step == "mark_overdue" else 1)
        actor = {"begin_review": "bawaslu:kab-bima", "register": "bawaslu:kab-bima", "forward": "bawaslu:kab-bima",
                 "request_correction": "bawaslu:kab-bima", "begin_examination": ERAS[era_id].commission,
                 "recommend": ERAS[era_id].commission, "begin_ppk_examination": "ppk:pemkab-bima",
                 "impose_sanction": "ppk:pemkab-bima", "record_departure": "ppk:pemkab-bima",
                 "cancel": "bawaslu:kab-bima", "mark_overdue": "system", "block_personnel_data": "bkn",
                 "reject_registration": "bawaslu:kab-bima", "dismiss": "bawaslu:kab-bima",
                 "find_not_proven": ERAS[era_id].commission, "reject": ERAS[era_id].commission}[step]
        fields = dict(FIELDS.get(step, {}), **({"ppk": addressed} if step == "recommend" and addressed else {}))
        app.apply_trigger(case, step, actor, occurred_at=at, **fields)
    assert case.state == state
    return case


def combinations(era_id: str):
    era = ERAS[era_id]
    reachable = {row["dest"] for row in era.transitions}
    for row in era.transitions:
        if row["trigger"] == "report":
            continue
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        for state in sources:
            if state in reachable:
                yield row["trigger"], state


@pytest.mark.parametrize("addressed", [None, "pemkab-dompu"])
@pytest.mark.parametrize("era_id", list(ERAS))
def test_only_allowed_combinations_write(db_url, era_id, addressed):
    app = Jejak(db_url, clock=lambda: datetime(2029, 6, 1, tzinfo=timezone.utc))
    era = ERAS[era_id]
    wrong, tried, allowed_count = [], 0, 0
    for trigger, state in combinations(era_id):
        if addressed and "recommend" not in PATHS[state]:
            continue  # the same as with no other PPK addressed
        shared = prepare(app, era_id, state, trigger, addressed)
        app.record_cases(shared)
        legal = trigger in rules.legal_triggers(era, state, _facts(app, shared))
        agencies = {"pemkab-bima", addressed} - {None}
        for text in ACTORS:
            actor = Actor.parse(text)
            # the era's table, by the date of the act: in 2029 BKN acts where the KASN eras' table says KASN
            expected = legal and may_act(era, state, trigger, actor.role, ATTEMPT_AT, app.settings) and covers(
                actor, "prov-ntb", "kab-bima", agencies)
            case = shared
            if expected:  # a write changes the case: give each allowed actor a fresh one
                case = prepare(app, era_id, state, trigger, addressed)
                app.record_cases(case)
            before = store_state(app)
            tried += 1
            try:
                app.advance(case.id, trigger, actor, occurred_at=ATTEMPT_AT, **FIELDS.get(trigger, {}))
                outcome = "written"
            except (NotAuthorized, IllegalTransition) as refusal:
                outcome = type(refusal).__name__
            after = store_state(app)
            if (outcome == "written") != expected or (after[0] != before[0]) != expected or (
                    after[1] != before[1] and (trigger != "erase_reporter" or not expected)):
                wrong.append(f"{trigger} from {state} by {text}: expected {'write' if expected else 'refusal'}, "
                             f"got {outcome}, log {before}->{after}")
            allowed_count += expected
    app.close()
    assert not wrong, "\n".join(wrong)
    assert (tried, allowed_count) > ((150, 20) if addressed else (300, 40))  # the matrix really was exercised


@pytest.mark.parametrize("era_id", list(ERAS))
def test_only_allowed_reporters_write(db_url, era_id):
    """The `report` row: a reporter, or a Bawaslu whose region covers the report (a finding); nobody else."""
    app = Jejak(db_url)
    era, wrong = ERAS[era_id], []
    for text in ACTORS:
        actor = Actor.parse(text)
        expected = actor.role in rules.roles_for(era, "new", "report") and covers(
            actor, "prov-ntb", "kab-bima", {"pemkab-bima"})
        before = store_state(app) if app.recorder.max_notification_id() else (0, 0)
        try:
            app.report(actor, occurred_at=START[era_id], **report_fields(election=election_on(START[era_id])))
            outcome = "written"
        except (NotAuthorized, IllegalTransition) as refusal:
            outcome = type(refusal).__name__
        after = store_state(app) if app.recorder.max_notification_id() else (0, 0)
        if (outcome == "written") != expected or (after != before) != expected:
            wrong.append(f"report by {text}: expected {'write' if expected else 'refusal'}, got {outcome}, "
                         f"store {before}->{after}")
    app.close()
    assert not wrong, "\n".join(wrong)


def _facts(app: Jejak, case):
    from workflow.decisions import facts
    return facts(case, ATTEMPT_AT)


def test_auditor_never_writes():
    assert all("auditor" not in row["roles"] for era in ERAS.values() for row in era.transitions)
