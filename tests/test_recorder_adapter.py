"""The importer's fast path leans on eventsourcing's internals (`workflow.recorder_adapter`): this fails loudly,
naming what moved, when a new version of the library changes them, before an import writes anything wrong."""

from __future__ import annotations

import inspect

from eventsourcing.persistence import StoredEvent

from workflow.recorder_adapter import check_internals, existing_case_ids, insert_stored_events
from tests.conftest import T0, report_fields


def test_the_internals_the_fast_path_uses_are_there(app):
    missing = check_internals(app.recorder, app.store.is_postgres)
    assert not missing, (f"eventsourcing changed what workflow/recorder_adapter.py relies on: {', '.join(missing)} "
                         "is gone; adapt the adapter before raising the pin in pyproject.toml")
    recorder = app.recorder
    if app.store.is_postgres:
        for name in ("_lock_table", "_notify_channel"):  # each takes the cursor of the inserting transaction
            assert list(inspect.signature(getattr(recorder, name)).parameters) == ["curs"], name
        assert recorder.datastore.originator_id_type in ("uuid", "text")
    else:
        statement = recorder.insert_events_statement
        assert statement.count("?") == 4 and recorder.events_table_name in statement, statement


def test_the_fast_path_writes_what_the_recorder_reads_back(app):
    """Events inserted by the adapter are the recorder's own: read back, in order, with their notifications."""
    case = app.new_case("reporter", occurred_at=T0, **report_fields())
    app.apply_trigger(case, "begin_review", "bawaslu:kab-bima", occurred_at=T0)
    stored = [app.mapper.to_stored_event(e) for e in case.collect_events()]
    app.subject_keys.store({case.reporter["subject"]: app._new_subject_keys.pop(case.reporter["subject"])})
    insert_stored_events(app, [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored])
    assert existing_case_ids(app, [case.id]) == {case.id}
    back = app.recorder.select_events(case.id)
    assert [(e.originator_version, e.topic, e.state) for e in back] == \
        [(s.originator_version, s.topic, s.state) for s in stored]
    assert [n.originator_version for n in app.recorder.select_notifications(start=1, limit=10)] == [1, 2]
    assert app.get_case(case.id).state == "under_review"
    assert isinstance(back[0], StoredEvent)
