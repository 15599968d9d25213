"""Proofs for one event, and a store checked against a checkpoint.

An inclusion proof file (JSON, written by `jejak proof`) holds a signed checkpoint, the event as stored
(case, version, topic, state bytes in base64, position) and the Merkle path from its leaf to the
checkpoint's root. `check_proof` needs nothing else: no database, no Jejak key but the verifier's trusted
ones; a flipped byte anywhere (in the event, the path or the root) makes it fail.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from projections.checkpoints import Checkpoint, accept
from projections.merkle_log import LogTree, inclusion_ok, leaf_data
from workflow.chain import canonical_id, content_hash
from workflow.errors import InvalidField
from workflow.signing import VerifierKey, verified_signers

PROOF_FORMAT = "jejak-inclusion-proof/1"


def make_proof(app, case_id: str, version: int | None, checkpoint: Checkpoint, tree: LogTree) -> dict:
    """The inclusion proof of a case's event (its latest without `version`) against `checkpoint`."""
    index = tree.index_of(canonical_id(case_id), version)
    if index > checkpoint.size:
        raise InvalidField("checkpoint", f"the newest checkpoint (size {checkpoint.size}) does not cover this "
                           f"event (leaf {index}): run `jejak checkpoint` first")
    position, case, event_version = tree.entries[index - 1]
    stored = app.recorder.select_notifications(start=position, limit=1)[0]
    return {"format": PROOF_FORMAT, "checkpoint": checkpoint.note, "leaf_index": index, "tree_size": checkpoint.size,
            "event": {"position": position, "case_id": case, "version": event_version, "topic": stored.topic,
                      "state": base64.b64encode(bytes(stored.state)).decode()},
            "proof": tree.inclusion(index, checkpoint.size)}


@dataclass
class ProofCheck:
    ok: bool
    case_id: str | None = None
    version: int | None = None
    size: int | None = None
    signers: list[str] = field(default_factory=list)
    detail: str = ""

    def __str__(self) -> str:
        what = f"event {self.case_id} v{self.version}" if self.case_id else "the proof"
        signed = (f"checkpoint of size {self.size} signed by {', '.join(self.signers)}" if self.signers
                  else f"checkpoint of size {self.size} (signatures NOT checked: give --trusted-keys)")
        return (f"OK: {what} is in the log; {signed}" if self.ok else f"PROOF FAILS: {what}: {self.detail}")


def check_proof(data: dict, keys: list[VerifierKey], min_signatures: int) -> ProofCheck:
    """Check an inclusion proof file offline; with `keys`, its checkpoint needs `min_signatures` of them."""
    if not isinstance(data, dict) or data.get("format") != PROOF_FORMAT:
        raise InvalidField("--proof", "not an inclusion proof",
                           allowed=f"a file written by `jejak proof` ({PROOF_FORMAT})")
    try:
        event, index, size = data["event"], int(data["leaf_index"]), int(data["tree_size"])
        state = base64.b64decode(event["state"], validate=True)
        case_id, version = canonical_id(event["case_id"]), int(event["version"])
        leaf = leaf_data(int(event["position"]), content_hash(case_id, version, event["topic"], state))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise InvalidField("--proof", "its event or leaf index cannot be read") from None
    checkpoint = accept(data.get("checkpoint") or "", keys, min_signatures) if keys else \
        Checkpoint.parse(data.get("checkpoint") or "")
    signers = sorted(verified_signers(checkpoint.note, keys)[1]) if keys else []
    result = ProofCheck(False, case_id, version, checkpoint.size, signers)
    if size != checkpoint.size:
        result.detail = f"the proof is for a tree of size {size}, the checkpoint's is {checkpoint.size}"
    elif not inclusion_ok(leaf, index, size, checkpoint.root, data.get("proof")):
        result.detail = "the Merkle path does not lead from this event to the checkpoint's root"
    else:
        result.ok = True
    return result


def store_against(tree: LogTree, checkpoint: Checkpoint) -> str | None:
    """None if the store's log extends the checkpoint; else what is wrong (a tail cut, or history rewritten)."""
    if checkpoint.size > tree.size:
        return (f"the log holds {tree.size} events, fewer than the {checkpoint.size} of the checkpoint: "
                "events were deleted")
    if tree.root(checkpoint.size) != checkpoint.root:
        return (f"the first {checkpoint.size} events are not those the checkpoint signed: some were edited, "
                "deleted, inserted or reordered")
    return None
