"""Property-based: random command sequences against the engine (hypothesis stateful testing).

Random reports and random commands — any trigger (and junk ones), any actor (right, wrong and malformed
jurisdictions, every role), random and wrong fields, times before, after and in the future — on a real store.
After every command:

- a refusal is a ``JejakError`` subclass and the store is unchanged (no event, no version, no key row);
- an accepted command recorded exactly one event whose (state before, trigger) pair is a row of the case's era
  table, by a role that row allows, leading to the state that row names;
- the live case object equals the case loaded again.

At the end of each sequence: each case replayed at every version (by the same application and by a fresh one)
equals the live object as it was after that version's command, and the read models equal a replay (each case's
``case_summary`` row and ``case_event`` rows agree with its events; the whole read side equals a rebuild).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from uuid import uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from projections.readside import ReadSide
from projections.tables import case_event, case_summary
from tests.conftest import WIB
from workflow import rules
from workflow.application import Jejak
from workflow.definitions import ERAS, NEW, ROLES, TRIGGERS, get_era
from workflow.errors import JejakError

PLACES = [dict(agency="pemkab-bima", province="prov-ntb", regency="kab-bima"),
          dict(agency="pemkot-kediri", province="prov-jatim", regency="kota-kediri"),
          dict(agency="kementerian-pupr", province="prov-dki", regency=None)]
SCOPES = ["ri", "prov-ntb", "kab-bima", "kab-dompu", "prov-jatim", "kota-kediri", "prov-dki", "pemkab-bima",
          "pemkot-kediri", "kementerian-pupr", "lembaga-bps", None]
JUNK = ["", " ", "'; DROP TABLE stored_events; --", "x" * 3000, "\x00\x07", "ünïcödé", "None", "[]"]
junk_text = st.one_of(st.sampled_from(JUNK), st.text(max_size=30))
any_value = st.one_of(st.none(), junk_text, st.integers(), st.lists(st.text(max_size=5), max_size=3),
                      st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), st.booleans())

# Valid-looking fields per trigger, so that sequences get far into the workflow.
GOOD_FIELDS = {
    "recommend": st.one_of(
        st.fixed_dictionaries({"track": st.just("discipline"),
                               "sanction": st.sampled_from(["written_reprimand", "oral_reprimand",
                                                            "honourable_dismissal"])},
                              optional={"ppk": st.sampled_from(["pemkab-bima", "lembaga-bps"])}),
        st.fixed_dictionaries({"track": st.sampled_from(["ethics", "non_asn"]),
                               "sanction": st.sampled_from(["public_statement", "contract_termination",
                                                            "demotion_12m"])},
                              optional={"ppk": st.sampled_from(["pemkab-bima", "bima"])})),
    "impose_sanction": st.fixed_dictionaries({"sanction": st.sampled_from(["written_reprimand", "oral_reprimand",
                                                                           "public_statement", "nonsense"]),
                                              "decree_number": st.sampled_from(["800/1/2024", "SK-7", " "])},
                                             optional={"decree_date": st.sampled_from(["2020-01-01", "2030-01-01",
                                                                                       "1 Jan", ""])}),
    "escalate": st.fixed_dictionaries({"to": st.sampled_from(["president", "kemendagri", "nobody"])}),
    "record_departure": st.fixed_dictionaries({"reason": st.sampled_from(["retired", "left", "died"])}),
}
fields_strategy = st.dictionaries(st.sampled_from(["track", "sanction", "ppk", "decree_number", "decree_date", "to",
                                                   "reason", "junk", "state", "'; --"]), any_value, max_size=3)
actor_strategy = st.one_of(
    st.builds(lambda role, scope, ident: role + (f":{scope}" if scope else "") + (f"@{ident}" if ident else ""),
              st.sampled_from([*ROLES, "admin"]), st.sampled_from(SCOPES), st.sampled_from([None, "andi", "x" * 150])),
    junk_text,
)
CLOSING_OR_HOUSEKEEPING = {"cancel", "record_departure", "erase_reporter", "dismiss", "reject_registration",
                           "find_not_proven", "reject", "unblock_personnel_data"}
MAIN_LINE = {"begin_review", "register", "forward", "begin_examination", "recommend", "begin_ppk_examination",
             "impose_sanction", "mark_overdue", "escalate", "block_personnel_data"}
# occurred_at relative to the case's last event (hours), or absent (now), or in the future
time_strategy = st.one_of(st.none(), st.integers(1, 24 * 20), st.integers(-72, 24 * 60), st.just("future"))


def case_state(case) -> dict:
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def store_marks(app: Jejak) -> tuple:
    """What a refused command must not change: the last notification id and the number of data keys."""
    app.subject_keys._ensure_table()
    with app.subject_keys.datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM subject_keys")
        keys = cursor.fetchone()["n"]
    return app.recorder.max_notification_id(), keys


def allowed_step(era_id: str, before: str, trigger: str, role: str) -> str | None:
    """The destination the era's table gives for (state, trigger) and role, or None if it has no such row."""
    for row in get_era(era_id).transitions:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        if row["trigger"] == trigger and before in sources and role in row["roles"]:
            return row["dest"] or before
    return None


def machine_for(app: Jejak, fresh: Jejak):
    class Engine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.cases: dict = {}  # case id -> {version: live state after that version}, in order of creation
            self.nonce = uuid4().hex[:8]  # examples share the store: keep their external refs apart

        @precondition(lambda self: len(self.cases) < 3)  # a few cases per sequence, taken far
        @rule(place=st.sampled_from(PLACES), finding=st.booleans(), era=st.sampled_from([None, *ERAS, "pp-1999"]),
              days=st.integers(-400, 2000),
              extra=st.one_of(st.just({}), st.dictionaries(st.sampled_from(["nip", "event_date", "witnesses",
                                                                            "external_ref", "category", "bogus"]),
                                                           any_value, max_size=2)))
        def report(self, place, finding, era, days, extra):
            at = datetime(2020, 9, 1, 9, tzinfo=WIB) + timedelta(days=days)
            actor = f"bawaslu:{place['regency'] or place['province']}" if finding else "reporter"
            fields = dict(name="Budi", position_group="pelaksana", category="social_media", election="pilkada-2020",
                          **{k: v for k, v in place.items() if v}, **({} if finding else {"reporter_name": "Siti"}))
            fields.update(extra)
            if isinstance(fields.get("external_ref"), str) and fields["external_ref"].strip():
                fields["external_ref"] = f"{self.nonce}-{fields['external_ref']}"  # repeats within one sequence
            before = store_marks(app)
            try:
                case_id = app.report(actor, occurred_at=at, era=era, **fields)
            except JejakError:
                assert store_marks(app) == before, "a refused report wrote something"
                return
            except Exception as error:  # noqa: BLE001
                raise AssertionError(f"report raised {type(error).__name__}, not a JejakError: {error}") from error
            case = app.get_case(case_id)
            assert case.version == 1 and case.state == "reported"
            assert allowed_step(case.era, NEW, "report", actor.split(":")[0]) == "reported"
            self.cases[case_id] = {1: copy.deepcopy(case_state(case))}

        @precondition(lambda self: self.cases)
        @rule(data=st.data(), trigger=st.one_of(st.sampled_from(TRIGGERS), junk_text), actor=actor_strategy,
              hours=time_strategy, good=st.booleans())
        def command(self, data, trigger, actor, hours, good):
            """Most commands are sane in every respect (to get far into the workflow); the others are wrong in
            any mix of trigger, actor, fields and time."""
            if data.draw(st.integers(0, 19)) == 0:
                return self.command_on_no_case(data.draw(st.one_of(st.builds(uuid4), junk_text)), trigger)
            case_id = data.draw(st.sampled_from(list(self.cases)))
            sane = data.draw(st.integers(0, 9)) < 7
            legal = app.triggers(case_id)
            if legal and (sane or data.draw(st.booleans())):  # a trigger legal now
                onward = [t for t in legal if t in MAIN_LINE] or [t for t in legal if t not in CLOSING_OR_HOUSEKEEPING]
                trigger = data.draw(st.sampled_from(onward if onward and data.draw(st.integers(0, 9)) < 8
                                                    else legal))
            if sane or good:
                fields = data.draw(GOOD_FIELDS[trigger]) if trigger in GOOD_FIELDS else {}
            else:
                fields = data.draw(fields_strategy)
            if sane or data.draw(st.booleans()):  # an actor whose role and jurisdiction fit
                case = app.get_case(case_id)
                roles = sorted(rules.roles_for(get_era(case.era), case.state, trigger)) or ["bkn"]
                role = data.draw(st.sampled_from(roles))
                bawaslu = data.draw(st.sampled_from(["ri", case.region["province"],
                                                     case.region["regency"] or case.region["province"]]))
                actor = {"bawaslu": f"bawaslu:{bawaslu}", "ppk": f"ppk:{case.ppk}"}.get(role, role)
            if sane:
                hours = data.draw(st.one_of(st.none(), st.integers(1, 24 * 20)))
            self.fire(case_id, trigger, actor, fields, hours)

        @precondition(lambda self: self.cases)
        @rule(data=st.data(), trigger=st.one_of(st.sampled_from(TRIGGERS), junk_text), actor=actor_strategy,
              hours=time_strategy, good=st.booleans())
        def command_again(self, data, trigger, actor, hours, good):
            self.command(data, trigger, actor, hours, good)  # (twice the weight of the other rules)

        @precondition(lambda self: self.cases)
        @rule(data=st.data(), steps=st.integers(1, 6))
        def drive(self, data, steps):
            """Several sane commands along the main line in a row: reaches the PPK stage within a sequence."""
            case_id = data.draw(st.sampled_from(list(self.cases)))
            for _ in range(steps):
                case = app.get_case(case_id)
                legal = [t for t in app.triggers(case_id) if t in MAIN_LINE]
                if not legal:
                    return
                trigger = data.draw(st.sampled_from(legal))
                role = data.draw(st.sampled_from(sorted(rules.roles_for(get_era(case.era), case.state, trigger))))
                actor = {"bawaslu": "bawaslu:ri", "ppk": f"ppk:{case.ppk}"}.get(role, role)
                fields = data.draw(GOOD_FIELDS[trigger]) if trigger in GOOD_FIELDS else {}
                self.fire(case_id, trigger, actor, fields, data.draw(st.integers(1, 24 * 20)))

        def command_on_no_case(self, case_id, trigger):
            before = store_marks(app)
            try:
                app.advance(case_id, trigger, "bkn")
            except JejakError:
                pass
            else:
                raise AssertionError("a command on no case was accepted")
            assert store_marks(app) == before

        def fire(self, case_id, trigger, actor, fields, hours):
            before_case = app.get_case(case_id)
            if hours is None:
                at = None
            elif hours == "future":
                at = datetime.now(timezone.utc) + timedelta(days=2)
            else:
                at = before_case.last_occurred_at + timedelta(hours=hours)
            before = store_marks(app)
            try:
                live = app.advance(case_id, trigger, actor, occurred_at=at, **fields)
            except JejakError:
                assert store_marks(app) == before, "a refused command wrote something"
                assert app.get_case(case_id).version == before_case.version
                return
            except Exception as error:  # noqa: BLE001
                raise AssertionError(f"{trigger!r} by {actor!r} with {fields!r} raised {type(error).__name__}, "
                                     f"not a JejakError: {error}") from error
            assert store_marks(app)[0] == before[0] + 1  # exactly one event
            assert live.version == before_case.version + 1
            [event] = app.case_events(case_id)[-1:]
            dest = allowed_step(before_case.era, before_case.state, event.trigger, event.actor["role"])
            assert dest is not None, f"{before_case.state} --{event.trigger}/{event.actor['role']}--> not in the table"
            assert event.state == live.state == dest
            if event.trigger == "mark_overdue":  # its conditions: the deadline had passed and was not yet marked
                assert before_case.due_at <= event.occurred_at and not before_case.deadline_missed
            if event.trigger == "block_personnel_data":
                assert not before_case.personnel_data_blocked
            assert case_state(app.get_case(case_id)) == case_state(live)
            self.cases[case_id][live.version] = copy.deepcopy(case_state(live))

        def teardown(self):
            read_side = ReadSide(app)
            read_side.catch_up()
            with read_side.engine.connect() as conn:
                for case_id, versions in self.cases.items():
                    for version, state in versions.items():
                        assert case_state(app.get_case(case_id, version=version)) == state
                        assert case_state(fresh.get_case(case_id, version=version)) == state
                    last = versions[max(versions)]
                    assert case_state(fresh.get_case(case_id)) == last
                    events = app.case_events(case_id)
                    summary = conn.execute(select(case_summary).where(case_summary.c.case_id == str(case_id))).one()
                    assert (summary.state, summary.version, summary.deadline, summary.due_at,
                            summary.personnel_data_blocked) == (last["state"], last["_version"], last["deadline"],
                                                                last["due_at"], last["personnel_data_blocked"])
                    rows = conn.execute(select(case_event.c.version, case_event.c.trigger, case_event.c.state_after)
                                        .where(case_event.c.case_id == str(case_id))
                                        .order_by(case_event.c.notification_id)).all()
                    assert [tuple(r) for r in rows] == [(e.originator_version, e.trigger, e.state) for e in events]

    return Engine


def test_random_command_sequences(db_url):
    with Jejak(db_url) as app, Jejak(db_url) as fresh:
        machine = machine_for(app, fresh)
        run_state_machine_as_test(machine, settings=settings(
            max_examples=8, stateful_step_count=40, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
        read_side = ReadSide(app)
        live = read_side.snapshot()
        read_side.rebuild()
        assert read_side.snapshot(catch_up=False) == live  # the read models built step by step equal a rebuild
