"""The master key from a file (JEJAK_MASTER_KEY_FILE), and the CLI's warning, once per store, that reporter data is
only obfuscated without a master key."""

from __future__ import annotations

import pytest
from eventsourcing.cryptography import AESCipher

from entrypoints.cli.main import main
from tests.conftest import new_case
from tests.test_cli import REPORT
from workflow.application import Jejak
from workflow.errors import InvalidField, UnprotectedKeyWarning
from workflow.privacy import configured_master_key


@pytest.fixture
def no_master_key(monkeypatch):
    monkeypatch.delenv("JEJAK_MASTER_KEY", raising=False)
    monkeypatch.delenv("JEJAK_MASTER_KEY_FILE", raising=False)


def test_the_master_key_can_come_from_a_file(db_url, tmp_path, monkeypatch, no_master_key):
    key_file = tmp_path / "master.key"
    key_file.write_text(AESCipher.create_key(32) + "\n")  # as `echo KEY > FILE` writes it
    monkeypatch.setenv("JEJAK_MASTER_KEY_FILE", str(key_file))
    with Jejak(db_url) as app:
        case_id = new_case(app)
        assert app.reporter(case_id)["name"] == "Siti Aminah"
        with app.subject_keys.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT wrapped FROM subject_keys")
            assert [row["wrapped"] for row in cursor.fetchall()] == [True]
    monkeypatch.delenv("JEJAK_MASTER_KEY_FILE")
    with Jejak(db_url) as app, pytest.raises(InvalidField, match="JEJAK_MASTER_KEY_FILE"):
        app.reporter(case_id)  # the wrapped data key is useless without the file


@pytest.mark.parametrize("content, problem", [(None, "cannot read"), ("", "is empty"),
                                               ("not base64 at all", "unusable key")])
def test_an_unusable_key_file_is_refused_clearly(tmp_path, monkeypatch, no_master_key, content, problem):
    key_file = tmp_path / "master.key"
    if content is not None:
        key_file.write_text(content)
    monkeypatch.setenv("JEJAK_MASTER_KEY_FILE", str(key_file))
    with pytest.raises(InvalidField, match=f"JEJAK_MASTER_KEY_FILE: .*{problem}"):
        Jejak(f"sqlite:///{tmp_path / 'store.db'}")


def test_both_a_key_and_a_key_file_are_refused(tmp_path, no_master_key):
    key_file = tmp_path / "master.key"
    key_file.write_text(AESCipher.create_key(32))
    with pytest.raises(InvalidField, match="both"):
        configured_master_key({"JEJAK_MASTER_KEY": AESCipher.create_key(32), "JEJAK_MASTER_KEY_FILE": str(key_file)})
    assert configured_master_key({}) is None


def test_python_callers_are_warned_when_a_key_is_stored_unprotected(tmp_path, no_master_key):
    with Jejak(f"sqlite:///{tmp_path / 'store.db'}") as app, pytest.warns(UnprotectedKeyWarning, match="obfuscated"):
        new_case(app)


def test_the_cli_warns_once_per_store(tmp_path, monkeypatch, capsys, no_master_key):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def report(store: str) -> str:
        assert main(["--db", f"sqlite:///{tmp_path / store}", *REPORT]) == 0
        return capsys.readouterr().err

    first = report("a.db")
    assert first.startswith("jejak: warning: reporter data is only obfuscated") and first.count("\n") == 1
    assert "JEJAK_MASTER_KEY_FILE" in first
    assert report("a.db") == ""  # said once for this store
    assert report("b.db") == first  # another store: said again
    monkeypatch.setenv("JEJAK_MASTER_KEY", AESCipher.create_key(32))
    assert report("c.db") == ""  # a master key: nothing to say


def test_the_cli_refuses_an_unreadable_key_file_in_one_line(tmp_path, monkeypatch, capsys, no_master_key):
    monkeypatch.setenv("JEJAK_MASTER_KEY_FILE", str(tmp_path / "missing.key"))
    assert main(["--db", f"sqlite:///{tmp_path / 'store.db'}", *REPORT]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jejak: error: JEJAK_MASTER_KEY_FILE: cannot read") and err.count("\n") == 1
