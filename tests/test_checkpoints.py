"""Signed checkpoints, witnesses, inclusion proofs and the verifier's memory (issue 20), on both stores: what
the database's own administrator cannot get past, and what an outsider checks with nothing but the files."""

from __future__ import annotations

import base64
import json
import tempfile

import pytest

from entrypoints.cli.main import main
from projections.checkpoints import CheckpointRefused, accept, log_bundle, make_checkpoint, witness
from projections.merkle_log import LogTree, b64
from projections.proofs import check_proof, make_proof, store_against
from tests.conftest import T0, TO_RECOMMENDED, WRITER_KEY, new_case, walk
from tests.test_projections_integrity import _sql
from workflow.chain import CHAIN_TABLE
from workflow.signing import SignerKey, signature_line

OMBUDSMAN, BKN = SignerKey.generate("ombudsman.test"), SignerKey.generate("bkn.test")


@pytest.fixture
def logged(app):
    for hours in (0, 1):
        case_id = new_case(app, T0.replace(hour=9 + hours))
        walk(app, case_id, TO_RECOMMENDED[:3], start=T0.replace(hour=9 + hours))
    return app  # 8 events


def _cosigned(app, tmp_path, witnesses=(OMBUDSMAN, BKN)) -> str:
    """The newest checkpoint, co-signed by each witness after its consistency check."""
    note = make_checkpoint(app, WRITER_KEY).note
    for key in witnesses:
        bundle = {**log_bundle(app, 0), "checkpoint": note}
        note = witness(bundle, key, [WRITER_KEY.verifier], str(tmp_path / f"{key.name}.json"))
    return note


def test_a_checkpoint_needs_k_trusted_signatures(logged, tmp_path):
    note = _cosigned(logged, tmp_path)
    trusted = [WRITER_KEY.verifier, OMBUDSMAN.verifier, BKN.verifier]
    assert accept(note, trusted, 3).size == 8
    with pytest.raises(CheckpointRefused, match="2 valid signature"):
        accept(note, [WRITER_KEY.verifier, OMBUDSMAN.verifier], 3)  # BKN's key not trusted: too few
    root_line = note.split("\n")[2]
    forged = note.replace(root_line, b64(LogTree.build(logged).root(4)))  # another root, the same signatures
    with pytest.raises(CheckpointRefused, match="0 valid signature"):
        accept(forged, trusted, 1)
    impostor = SignerKey("ombudsman.test", SignerKey.generate("x").private)  # the witness's name, not its key
    text = note.split("\n\n")[0] + "\n"
    with pytest.raises(CheckpointRefused, match="1 valid signature"):
        accept(make_checkpoint(logged, WRITER_KEY).note + signature_line(text, impostor), trusted, 2)


def test_an_inclusion_proof_verifies_offline_and_fails_on_any_flipped_byte(logged):
    tree = LogTree.build(logged)
    checkpoint = make_checkpoint(logged, WRITER_KEY, tree)
    case_id = tree.entries[5][1]
    proof = make_proof(logged, case_id, 2, checkpoint, tree)
    trusted = [WRITER_KEY.verifier]
    logged.close()  # nothing below touches the store
    assert check_proof(proof, trusted, 1).ok
    assert check_proof(json.loads(json.dumps(proof)), [], 1).ok  # unsigned check: says so
    state = bytearray(base64.b64decode(proof["event"]["state"]))
    for flip in (0, len(state) // 2, len(state) - 1):
        edited = bytearray(state)
        edited[flip] ^= 1
        bad = {**proof, "event": {**proof["event"], "state": base64.b64encode(edited).decode()}}
        assert not check_proof(bad, trusted, 1).ok
    path = proof["proof"]["path"]
    for i in range(len(path)):
        bad_path = list(path)
        bad_path[i] = ("0" if path[i][0] != "0" else "1") + path[i][1:]
        assert not check_proof({**proof, "proof": {**proof["proof"], "path": bad_path}}, trusted, 1).ok
    assert not check_proof({**proof, "event": {**proof["event"], "version": 3}}, trusted, 1).ok
    with pytest.raises(CheckpointRefused):  # the root flipped: the log's signature no longer holds
        root_line = proof["checkpoint"].split("\n")[2]
        flipped = ("B" if root_line[0] == "A" else "A") + root_line[1:]  # a root starting with "A" stayed as it was
        check_proof({**proof, "checkpoint": proof["checkpoint"].replace(root_line, flipped)}, trusted, 1)


def test_a_witness_refuses_a_rewritten_or_shrunk_log(logged, tmp_path):
    state = str(tmp_path / "witness.json")
    first = make_checkpoint(logged, WRITER_KEY)
    witness(log_bundle(logged, 0), OMBUDSMAN, [WRITER_KEY.verifier], state)
    # the administrator, holding even the writer's key, edits an event and signs a new head
    _sql(logged, "UPDATE stored_events SET state = state || x'20' WHERE notification_id = 3")
    make_checkpoint(logged, WRITER_KEY)
    with pytest.raises(CheckpointRefused, match="does not extend"):
        witness(log_bundle(logged, first.size), OMBUDSMAN, [WRITER_KEY.verifier], state)
    _sql(logged, "DELETE FROM stored_events WHERE notification_id >= 6")
    make_checkpoint(logged, WRITER_KEY)
    with pytest.raises(CheckpointRefused, match="shrank|does not extend"):
        witness(log_bundle(logged, 5), OMBUDSMAN, [WRITER_KEY.verifier], state)


def test_a_store_is_checked_against_a_checkpoint_whatever_its_chain_says(logged):
    """Tail cut with its chain rows, or an edit with the chain rebuilt and re-signed by a stolen writer key:
    the chain in the store is consistent again, an earlier checkpoint is not."""
    checkpoint = make_checkpoint(logged, WRITER_KEY)
    _sql(logged, "DELETE FROM stored_events WHERE notification_id >= 7")
    _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position >= 7")
    assert "fewer than the 8" in store_against(LogTree.build(logged), checkpoint)
    logged.advance(LogTree.build(logged).entries[0][1], "begin_examination", "bkn", occurred_at=T0.replace(day=9))
    logged.advance(LogTree.build(logged).entries[0][1], "recommend", "bkn", occurred_at=T0.replace(day=10),
                   track="discipline", sanction="written_reprimand")
    assert "not those the checkpoint signed" in store_against(LogTree.build(logged), checkpoint)


def _well_formed_edit(app) -> str:
    """The first report's civil servant given another position title: the event still reads and obeys the rules."""
    if app.store.is_postgres:
        return ("UPDATE stored_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'Kepala Seksi', "
                "'Kepala Bidang'), 'UTF8') WHERE notification_id = 1")
    return ("UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), 'Kepala Seksi', 'Kepala Bidang') "
            "AS BLOB) WHERE rowid = 1")


@pytest.mark.parametrize("cut", ["tail", "edit_and_rechain"])
def test_the_cli_verifier_remembers_its_head_and_a_checkpoint_exposes_a_laundered_log(logged, tmp_path, capsys, cut):
    db = str(logged.store)
    (tmp_path / "trusted").mkdir()
    for key in (WRITER_KEY, OMBUDSMAN):
        (tmp_path / "trusted" / f"{key.name.replace('/', '_')}.pub").write_text(f"{key.verifier}\n")
    (tmp_path / "cp").write_text(_cosigned(logged, tmp_path, (OMBUDSMAN,)))
    checked = ["--db", db, "verify", "--checkpoint", str(tmp_path / "cp"), "--trusted-keys",
               str(tmp_path / "trusted"), "--min-signatures", "2"]
    assert main(checked) == 0 and main(["--db", db, "verify"]) == 0  # remembered: head @8
    if cut == "tail":
        _sql(logged, "DELETE FROM stored_events WHERE notification_id = 8")
        _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position = 8")
    else:  # the administrator holds the writer's key too: a well-formed edit of a report, the chain re-signed
        _sql(logged, _well_formed_edit(logged))
        _sql(logged, f"DELETE FROM {CHAIN_TABLE} WHERE position >= 1")
        with logged.recorder.datastore.transaction(commit=True) as cursor:
            logged.recorder.chain.append_after(cursor, 0)
    assert main(["--db", db, "verify", "--no-remember"]) == 0  # the store alone looks consistent
    assert main(["--db", db, "verify"]) == 1
    assert ("log_shrunk" if cut == "tail" else "log_diverged") in capsys.readouterr().out
    assert main(checked + ["--no-remember"]) == 1
    assert "DOES NOT HOLD" in capsys.readouterr().out


def test_cli_proof_checkpoint_and_witness_files(logged, tmp_path, capsys):
    db, files = str(logged.store), tmp_path
    (files / "log.pub").write_text(f"{WRITER_KEY.verifier}\n")
    (files / "omb.key").write_text(f"{OMBUDSMAN}\n")
    case_id = LogTree.build(logged).entries[0][1]
    assert main(["--db", db, "proof", case_id, "--version", "2", "--out", str(files / "p.json")]) == 0
    assert main(["verify", "--proof", str(files / "p.json")]) == 0
    assert "NOT checked" in capsys.readouterr().out
    assert main(["--db", db, "checkpoint", "--since", "0", "--out", str(files / "b.json")]) == 0
    witnessed = ["witness", "--key", str(files / "omb.key"), "--log", str(files / "b.json"), "--log-key",
                 str(files / "log.pub"), "--state", str(files / "w.json"), "--out", str(files / "cp")]
    assert main(witnessed) == 0
    assert "\u2014 ombudsman.test " in (files / "cp").read_text()
    assert main(["witness", "--key", str(files / "log.pub"), "--log", "x", "--log-key", str(files / "log.pub")]) == 2
    assert "jejak: error: --key" in capsys.readouterr().err


def test_the_server_publishes_checkpoints_without_authentication(db_url, monkeypatch):
    from fastapi.testclient import TestClient

    from entrypoints.api.app import create_app
    from entrypoints.api.checkpointer import checkpoint_if_grown
    from entrypoints.api.settings import ServerSettings

    monkeypatch.setenv("JEJAK_CHECKPOINT_MINUTES", "0")
    with TestClient(create_app(ServerSettings(db=db_url, insecure_dev=True))) as client:
        server = client.app.state.server
        assert client.get("/api/v1/checkpoints").json()["checkpoint"] is None
        new_case(server.app)
        assert checkpoint_if_grown(server) and not checkpoint_if_grown(server)  # once per growth
        first = client.get("/api/v1/checkpoints").json()
        assert accept(first["checkpoint"], [WRITER_KEY.verifier], 1).size == 1
        new_case(server.app)
        assert checkpoint_if_grown(server)
        later = client.get("/api/v1/checkpoints", params={"since": 1}).json()
        assert later["consistency"]["from"] == 1 and len(later["checkpoints"]) == 2
        with tempfile.TemporaryDirectory() as directory:
            path = f"{directory}/w.json"
            witness(first, OMBUDSMAN, [WRITER_KEY.verifier], path)
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
            assert witness(later, OMBUDSMAN, [WRITER_KEY.verifier], path).count("\u2014 ") == 2
        assert state[WRITER_KEY.name]["size"] == 1
        assert client.get("/api/v1/checkpoints", params={"since": -1}).status_code == 422


def test_a_witness_fetches_from_a_real_server(logged, tmp_path, capsys):
    """`jejak witness --log URL` against `jejak serve` (its public /api/v1/checkpoints), twice: the second time with
    the consistency proof from the size it signed first."""
    from tests.server_support import ServerProcess

    (tmp_path / "log.pub").write_text(f"{WRITER_KEY.verifier}\n")
    (tmp_path / "omb.key").write_text(f"{OMBUDSMAN}\n")
    make_checkpoint(logged, WRITER_KEY)
    server = ServerProcess(str(logged.store), tmp_path / "serve.log", "--insecure-dev",
                           env={"JEJAK_CHECKPOINT_MINUTES": "0"})
    try:
        server.wait_ready()
        argv = ["witness", "--key", str(tmp_path / "omb.key"), "--log", server.url, "--log-key",
                str(tmp_path / "log.pub"), "--state", str(tmp_path / "w.json")]
        assert main(argv) == 0 and "\u2014 ombudsman.test " in capsys.readouterr().out
        new_case(logged, T0.replace(hour=12))
        make_checkpoint(logged, WRITER_KEY)
        assert main(argv) == 0
        assert accept(capsys.readouterr().out, [WRITER_KEY.verifier, OMBUDSMAN.verifier], 2).size == 9
    finally:
        server.stop()
