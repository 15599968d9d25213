"""Two writers on the same store: the second one to save a stale case is refused and writes nothing."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from tests.conftest import new_case
from tests.workflow_support import day, store_snapshot, triggers_of
from workflow.application import Jejak
from workflow.errors import ConcurrentUpdate

BIMA = "bawaslu:kab-bima"


def test_second_writer_of_a_stale_case_is_refused(db_url):
    with Jejak(db_url) as first, Jejak(db_url) as second:
        case_id = new_case(first)
        first.advance(case_id, "begin_review", BIMA, occurred_at=day(1))
        mine, theirs = first.get_case(case_id), second.get_case(case_id)
        assert mine.version == theirs.version == 2
        first.apply_trigger(mine, "register", BIMA, occurred_at=day(2))
        second.apply_trigger(theirs, "reject_registration", BIMA, occurred_at=day(2))
        first.record_cases(mine)

        before = store_snapshot(second, case_id)
        with pytest.raises(ConcurrentUpdate) as refusal:
            second.record_cases(theirs)
        # one line, naming the case and the version that won, and no database error text
        assert str(refusal.value) == (f"case {case_id} was changed by another writer (its version 3 was recorded "
                                      "first, this command was decided on version 2); nothing was written, reload "
                                      "the case and retry")
        assert store_snapshot(second, case_id) == before
        assert store_snapshot(first, case_id) == before
        assert triggers_of(second, case_id) == ["report", "begin_review", "register"]
        assert second.get_case(case_id).state == "under_examination"
        # reloading and retrying works
        second.advance(case_id, "forward", BIMA, occurred_at=day(3))
        assert first.get_case(case_id).state == "forwarded"


def test_racing_advances_from_two_applications(db_url):
    """Both applications have loaded the case before either saves (a barrier in their clocks holds them)."""
    barrier = threading.Barrier(2, timeout=20)

    def clock():  # called by advance() after loading the case and before deciding and saving
        barrier.wait()
        return datetime.now(timezone.utc)

    with Jejak(db_url) as setup:
        case_id = new_case(setup)
        setup.advance(case_id, "begin_review", BIMA, occurred_at=day(1))
        before_race = setup.recorder.max_notification_id()

    outcomes: dict[str, object] = {}

    def run(trigger):
        try:
            with Jejak(db_url, clock=clock) as app:
                app.advance(case_id, trigger, BIMA, occurred_at=day(2))
            outcomes[trigger] = "saved"
        except Exception as error:  # noqa: BLE001 - the test inspects what was raised
            outcomes[trigger] = error

    threads = [threading.Thread(target=run, args=(t,)) for t in ("register", "reject_registration")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    saved = [t for t, outcome in outcomes.items() if outcome == "saved"]
    lost = {t: outcome for t, outcome in outcomes.items() if outcome != "saved"}
    assert len(saved) == 1, outcomes
    assert len(lost) == 1 and isinstance(next(iter(lost.values())), ConcurrentUpdate), outcomes
    with Jejak(db_url) as check:
        # exactly one event was added: the winner's
        assert check.recorder.max_notification_id() == before_race + 1
        assert triggers_of(check, case_id) == ["report", "begin_review", saved[0]]
        expected = {"register": "under_examination", "reject_registration": "not_registered"}[saved[0]]
        assert check.get_case(case_id).state == expected


def test_applications_starting_at_once_on_an_existing_store(db_url):
    """Several processes (a cron tick, users' commands) may open the same store at the same moment."""
    with Jejak(db_url) as setup:
        case_id = new_case(setup)
    barrier = threading.Barrier(4, timeout=20)
    errors, states = [], []

    def start():
        try:
            barrier.wait()
            with Jejak(db_url) as app:
                states.append(app.get_case(case_id).state)
        except Exception as error:  # noqa: BLE001 - the test reports what was raised
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert states == ["reported"] * 4
