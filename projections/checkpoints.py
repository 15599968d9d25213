"""Signed checkpoints of the Merkle log, witnesses' co-signatures, and their acceptance by a verifier.

A checkpoint is a C2SP signed note (https://c2sp.org/tlog-checkpoint): plain text an outsider can read::

    <origin: the log's key name>
    <tree size>
    <base64 root hash>
    time <ISO 8601, UTC>

    — <key name> <base64 signature>

signed by the institution's key (the writer's, workflow.signing). A witness (another institution) co-signs a
checkpoint only after checking that it extends the last one it signed (a consistency proof), and remembers
that one in a small state file: a log that is rewritten, shrunk or shown differently to different people is
refused. A verifier accepts a checkpoint only with signatures of at least K keys it trusts.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from projections.merkle_log import LogTree, b64, consistency_ok
from workflow.errors import InvalidField, JejakError
from workflow.signing import SignerKey, VerifierKey, signature_line, sign_note, split_note, verified_signers


class CheckpointRefused(JejakError):
    """A checkpoint without enough valid signatures, or one that does not extend an earlier head."""

    exit_code = 1


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str

    @property
    def text(self) -> str:
        return split_note(self.note)[0]

    @classmethod
    def parse(cls, note: str, what: str = "checkpoint") -> Checkpoint:
        text, _ = split_note(note, what)
        lines = text.split("\n")
        try:
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
        except (IndexError, ValueError, binascii.Error):
            raise InvalidField(what, "not a checkpoint", allowed="ORIGIN, SIZE, BASE64 ROOT on the first three "
                               "lines, then the signatures (as `jejak checkpoint` writes it)") from None
        if not origin or size < 0 or len(root) != 32:
            raise InvalidField(what, "not a checkpoint of a SHA-256 log")
        return cls(origin, size, root, note)


def checkpoint_text(origin: str, size: int, root: bytes, when: datetime) -> str:
    return f"{origin}\n{size}\n{b64(root)}\ntime {when.astimezone(timezone.utc).isoformat(timespec='seconds')}\n"


def make_checkpoint(app, signer: SignerKey, tree: LogTree | None = None) -> Checkpoint:
    """Sign the log's current head and keep it in the store (published by `/api/v1/checkpoints`)."""
    tree = tree or LogTree.build(app)
    root = tree.root()
    note = sign_note(checkpoint_text(signer.name, tree.size, root, datetime.now(timezone.utc)), signer)
    app.recorder.checkpoints.add(app.recorder.datastore, tree.size, b64(root), note)
    return Checkpoint(signer.name, tree.size, root, note)


def log_bundle(app, since: int = 0, tree: LogTree | None = None) -> dict:
    """What a witness fetches: the latest checkpoint, the checkpoints from size `since` on, and the consistency
    proof from `since` to the latest (the body of `/api/v1/checkpoints?since=N`, or a file)."""
    stored = app.recorder.checkpoints.list_since(app.recorder.datastore, since)
    latest = app.recorder.checkpoints.last(app.recorder.datastore)
    if latest is None:
        return {"checkpoint": None, "checkpoints": [], "consistency": None}
    size = latest["size"]
    if since > size:
        raise InvalidField("since", f"the log's latest checkpoint has size {size}, not {since} or more")
    tree = tree or LogTree.build(app)
    proof = tree.consistency(since, size) if 0 < since <= size <= tree.size else None
    return {"checkpoint": latest["note"], "checkpoints": [row["note"] for row in stored],
            "consistency": {"from": since, "to": size, "proof": proof}}


def recent(app, limit: int) -> list[dict]:
    """The `limit` newest stored checkpoints, newest first, each with the names that signed it (the log's key and
    any witnesses' co-signatures the note carries): names only, for display; `accept` checks the signatures."""
    rows = app.recorder.checkpoints.newest(app.recorder.datastore, limit)
    return [{"size": row["size"], "root": row["root"], "signed_at": datetime.fromisoformat(row["created_at"]),
             "signers": list(dict.fromkeys(name for name, _, _ in split_note(row["note"])[1]))} for row in rows]


def accept(note: str, keys: list[VerifierKey], min_signatures: int, what: str = "checkpoint") -> Checkpoint:
    """The checkpoint, if at least `min_signatures` of the trusted `keys` signed it."""
    checkpoint = Checkpoint.parse(note, what)
    _, valid = verified_signers(note, keys, what)
    if len(valid) < min_signatures:
        raise CheckpointRefused(f"{what} of size {checkpoint.size} has {len(valid)} valid signature(s) by trusted "
                                f"keys ({', '.join(valid) or 'none'}), {min_signatures} required")
    return checkpoint


def read_trusted_keys(directory: str) -> list[VerifierKey]:
    """Every ``*.pub`` verifier key in a directory (one per institution: the log's, the witnesses')."""
    path = Path(directory)
    if not path.is_dir():
        raise InvalidField("--trusted-keys", f"{directory!r} is not a directory")
    keys = [VerifierKey.parse(file.read_text(encoding="utf-8"), str(file)) for file in sorted(path.glob("*.pub"))]
    if not keys:
        raise InvalidField("--trusted-keys", f"no *.pub key in {directory!r}")
    return keys


# --- witnesses --------------------------------------------------------------------------------------------------

def witness(bundle: dict, key: SignerKey, log_keys: list[VerifierKey], state_file: str) -> str:
    """Co-sign the bundle's checkpoint if its log signed it and it extends the last one this witness signed."""
    if not bundle.get("checkpoint"):
        raise CheckpointRefused("the log has published no checkpoint yet")
    checkpoint = accept(bundle["checkpoint"], log_keys, 1, "the log's checkpoint")
    state = load_state(state_file)
    prior = state.get(checkpoint.origin)
    if prior is not None:
        prior_size, prior_root = prior["size"], base64.b64decode(prior["root"])
        consistency = bundle.get("consistency") or {}
        if checkpoint.size < prior_size:
            raise CheckpointRefused(f"the log shrank: this witness signed size {prior_size}, now {checkpoint.size}")
        if prior_size and consistency.get("from") != prior_size and checkpoint.size != prior_size:
            raise CheckpointRefused(f"no consistency proof from size {prior_size}: fetch the log with "
                                    f"?since={prior_size}")
        if not consistency_ok(prior_size, prior_root, checkpoint.size, checkpoint.root, consistency.get("proof")):
            raise CheckpointRefused(f"the checkpoint of size {checkpoint.size} does not extend the one of size "
                                    f"{prior_size} this witness signed: history was rewritten")
    state[checkpoint.origin] = {"size": checkpoint.size, "root": b64(checkpoint.root)}
    save_state(state_file, state)
    return checkpoint.note + signature_line(checkpoint.text, key)


def load_state(path: str) -> dict:
    """A witness's or a verifier's state file; empty if there is none yet."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise InvalidField("--state", f"cannot read {path!r} ({error})") from None


def save_state(path: str, state: dict) -> None:
    """Write a small JSON state file (a witness's, a verifier's) whole or not at all."""
    temporary = f"{path}.tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(temporary, path)  # a crash leaves the old state or the new, never half of one
