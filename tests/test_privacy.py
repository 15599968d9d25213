"""The reporter's personal data never lies in the store in clear, and erasure makes it unreadable for good."""

from __future__ import annotations

import glob

import psycopg
import pytest

from workflow.application import Jejak
from workflow.errors import IllegalTransition, InvalidField
from tests.conftest import TO_RECOMMENDED, new_case, walk

PLANTED = {"reporter_name": "Zulkarnaen Wibisono", "reporter_contact": "zulkarnaen@example.org",
           "reporter_id_number": "5206011234567890"}


def raw_store_bytes(app: Jejak) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or every PostgreSQL table dumped as text."""
    if not app.store.is_postgres:
        return b"".join(open(path, "rb").read() for path in glob.glob(app.store.database + "*"))
    with psycopg.connect(dbname=app.store.database, host=app.store.host, port=app.store.port,
                         user=app.store.user) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        values = [value for (table,) in tables for row in conn.execute(f'SELECT * FROM "{table}"') for value in row]
    return b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in values)


def reported(app: Jejak, **extra):
    return new_case(app, **PLANTED, **extra)


def test_reporter_data_is_sealed_and_readable_with_its_key(app):
    case_id = reported(app)
    walk(app, case_id, TO_RECOMMENDED)
    assert app.reporter(case_id) == {"name": PLANTED["reporter_name"], "contact": PLANTED["reporter_contact"],
                                     "id_number": PLANTED["reporter_id_number"]}
    raw = raw_store_bytes(app)
    assert b"Budi Santoso" in raw  # the check can see clear text: the reported official's name is there
    for planted in PLANTED.values():
        assert planted.encode() not in raw


def test_erasure_shreds_the_key_and_the_history_still_loads(app):
    case_id = reported(app)
    walk(app, case_id, TO_RECOMMENDED)
    case = app.advance(case_id, "erase_reporter", "bawaslu:kab-bima", note="the reporter asked")
    assert case.reporter_erased and case.state == "recommended"
    assert app.reporter(case_id) is None
    assert app.subject_keys.get(case.reporter["subject"]) is None  # the key itself is gone
    assert [e.trigger for e in app.case_events(case_id)][-1] == "erase_reporter"
    assert app.get_case(case_id, version=2).state == "under_review"  # replay is unaffected
    with pytest.raises(IllegalTransition, match="no reporter data"):
        app.advance(case_id, "erase_reporter", "bawaslu:kab-bima")
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima", sanction="oral_reprimand", decree_number="800/3")
    for planted in PLANTED.values():
        assert planted.encode() not in raw_store_bytes(app)


def table_file_bytes(app: Jejak, table: str) -> bytes:
    """The bytes of the files a table lives in, dead rows included: the SQLite files, or the PostgreSQL
    relation's file read by the server itself (after a CHECKPOINT wrote its pages)."""
    if not app.store.is_postgres:
        return b"".join(open(path, "rb").read() for path in glob.glob(app.store.database + "*"))
    with psycopg.connect(dbname=app.store.database, host=app.store.host, port=app.store.port,
                         user=app.store.user, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT pg_read_binary_file(current_setting('data_directory') || '/' || "
                            "pg_relation_filepath(%s))", (table,)).fetchone()[0]


def test_an_erased_key_leaves_no_copy_in_the_database_files(app):
    """Deleting a row leaves its bytes in the file (free space, a dead row version): erasure clears them."""
    ids = [reported(app) for _ in range(12)]
    subjects = [app.get_case(case_id).reporter["subject"] for case_id in ids]
    erased, kept = app.subject_keys.get(subjects[5]), app.subject_keys.get(subjects[6])
    app.advance(ids[5], "erase_reporter", "bawaslu:kab-bima")
    raw = table_file_bytes(app, "subject_keys")
    assert kept.encode() in raw  # the bytes read are really where keys live
    assert erased.encode() not in raw


def test_only_the_case_bawaslu_may_erase(app):
    case_id = reported(app)
    from workflow.errors import NotAuthorized
    with pytest.raises(NotAuthorized):
        app.advance(case_id, "erase_reporter", "bawaslu:kab-dompu")
    with pytest.raises(NotAuthorized):
        app.advance(case_id, "erase_reporter", "bkn")
    assert app.reporter(case_id)["name"] == PLANTED["reporter_name"]


def test_data_keys_are_wrapped_by_the_master_key(db_url, monkeypatch):
    from eventsourcing.cryptography import AESCipher
    master = AESCipher.create_key(32)
    monkeypatch.setenv("JEJAK_MASTER_KEY", master)
    with Jejak(db_url) as app:
        case_id = reported(app)
        subject = app.get_case(case_id).reporter["subject"]
        assert app.reporter(case_id)["name"] == PLANTED["reporter_name"]
    monkeypatch.delenv("JEJAK_MASTER_KEY")
    with Jejak(db_url) as app:  # without the master key, the wrapped data key is useless
        with pytest.raises(InvalidField, match="JEJAK_MASTER_KEY"):
            app.reporter(case_id)
        with app.subject_keys.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT wrapped FROM subject_keys")
            assert all(row["wrapped"] for row in cursor.fetchall())
    assert subject


def test_whole_store_cipher_encrypts_every_event(db_url, monkeypatch):
    from eventsourcing.cryptography import AESCipher
    monkeypatch.setenv("JEJAK_CIPHER_KEY", AESCipher.create_key(32))
    with Jejak(db_url) as app:
        case_id = reported(app)
        walk(app, case_id, TO_RECOMMENDED)
        assert app.get_case(case_id).state == "recommended"
        notifications = app.recorder.select_notifications(start=1, limit=100)
        assert notifications and all(b"pemkab-bima" not in n.state for n in notifications)


def test_after_erasure_the_chain_verifies_and_the_audits_still_work(app):
    """Crypto-shredding changes no stored event: the hash chain (and a digest published before) still verify,
    the audits run over the erased case, and rebuilt read models equal the live ones."""
    from datetime import timedelta

    from projections import audits
    from projections.integrity import verify
    from projections.readside import ReadSide
    from tests.conftest import T0

    erased, kept = reported(app), reported(app, name="Ani")
    for case_id in (erased, kept):
        walk(app, case_id, TO_RECOMMENDED)
    published = verify(app)
    assert published.ok
    summary_before = {row["case_id"]: row for row in ReadSide(app).cases()}

    app.advance(erased, "erase_reporter", "bawaslu:kab-bima", occurred_at=T0 + timedelta(days=7))
    app.advance(kept, "impose_sanction", "ppk:pemkab-bima", occurred_at=T0 + timedelta(days=8),
                sanction="written_reprimand", decree_number="800/9/2024")

    report = verify(app, digest=published.head)
    assert report.ok and report.digest_ok, str(report)  # the earlier digest is still reached: no event changed
    assert report.events == report.chained == published.events + 2
    rows = {row["case_id"]: row for row in ReadSide(app).cases()}
    assert rows[str(erased)]["has_reporter"] is False and rows[str(kept)]["has_reporter"] is True
    assert rows[str(erased)]["state"] == summary_before[str(erased)]["state"] == "recommended"
    now = T0 + timedelta(days=30)
    for name in audits.AUDITS:
        options = {"now": now} if name in ("responsiveness", "overdue") else {}
        frame = audits.run(app, name, **options)
        assert frame is not None
    funnel = audits.funnel(app)
    assert int(funnel["recommended"].iloc[0]) == 2 and int(funnel["sanctioned"].iloc[0]) == 1
    responsiveness = audits.responsiveness(app, now=now)
    assert int(responsiveness["received"].sum()) == 2 and int(responsiveness["followed_up"].sum()) == 1
    assert len(audits.case_event_frame(app, erased)) == len(TO_RECOMMENDED) + 2
    read_side = ReadSide(app)
    live = read_side.snapshot()
    read_side.rebuild()
    assert read_side.snapshot(catch_up=False) == live
    for planted in PLANTED.values():
        assert planted.encode() not in raw_store_bytes(app)


def test_a_case_saved_with_several_events_at_once_keeps_its_reporter_key(app):
    """Batch paths (the demo, record_cases) build a case through several steps before its first save: the
    reporter's data key must be kept with it, or the sealed data could never be read again."""
    from datetime import timedelta

    from tests.conftest import T0

    case = app.new_case("reporter", occurred_at=T0, **{**report_fields_planted()})
    app.apply_trigger(case, "begin_review", "bawaslu:kab-bima", occurred_at=T0 + timedelta(days=1))
    app.apply_trigger(case, "register", "bawaslu:kab-bima", occurred_at=T0 + timedelta(days=2))
    app.record_cases(case)
    assert app.reporter(case.id)["name"] == PLANTED["reporter_name"]
    assert app._new_subject_keys == {}  # nothing left waiting in memory


def test_demo_reporters_stay_readable(db_url):
    from demo import generator

    with Jejak(db_url, clock=generator.DemoClock()) as app:
        generator.generate(app, "pilkada-2024", seed=2, scale=0.03, progress=False)
        ids = {n.originator_id for n in app.recorder.select_notifications(start=0, limit=5000)}
        sealed = [i for i in ids if app.get_case(i).reporter]
        assert sealed and all(app.reporter(i)["name"] for i in sealed)


def report_fields_planted() -> dict:
    from tests.conftest import report_fields

    return report_fields(**PLANTED)
