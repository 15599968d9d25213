"""The stored events as a Merkle log in the manner of RFC 9162 (Certificate Transparency), with pymerkle.

Leaf *i* is the event at the *i*-th position of the log: ``position (8 bytes, signed big-endian) ||
content_hash`` (workflow.chain), hashed as RFC 9162 hashes leaves (SHA-256 of 0x00 || data; nodes 0x01 || left
|| right). The tree is recomputed from the stored events themselves (not from any table that vouches for
them), so a signed tree head (a checkpoint) commits to exactly what was stored. An inclusion proof shows that
one event is in the tree of a given head; a consistency proof that a later head extends an earlier one (no
event changed, removed or reordered below the earlier size). Both are checked without the database.

pymerkle's in-memory tree is built at each use (about 1 s per 100,000 events here): there is no tree to keep
in step with the log, and nothing an administrator could edit in place of the events.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from pymerkle import InmemoryTree, InvalidProof, MerkleProof, verify_consistency, verify_inclusion
from pymerkle.hasher import MerkleHasher

from workflow.chain import canonical_id, content_hash
from workflow.errors import InvalidField

PAGE_SIZE = 5000


def leaf_data(position: int, content: bytes) -> bytes:
    return int(position).to_bytes(8, "big", signed=True) + content


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162's leaf hash: SHA-256(0x00 || data), as pymerkle's tree hashes its entries."""
    return MerkleHasher("sha256", security=True).hash_buff(data)


@dataclass
class LogTree:
    tree: InmemoryTree
    entries: list[tuple[int, str, int]]  # per leaf (1-based index - 1): position, case id, version

    @classmethod
    def build(cls, app, page_size: int = PAGE_SIZE) -> LogTree:
        tree, entries, start = InmemoryTree("sha256"), [], -(2 ** 63)
        while page := app.recorder.select_notifications(start=start, limit=page_size, inclusive_of_start=False):
            data = []
            for n in page:
                case_id = canonical_id(n.originator_id)
                data.append(leaf_data(n.id, content_hash(case_id, n.originator_version, n.topic, n.state)))
                entries.append((n.id, case_id, n.originator_version))
            tree.append_entries(data)
            start = page[-1].id
        return cls(tree, entries)

    @property
    def size(self) -> int:
        return len(self.entries)

    def root(self, size: int | None = None) -> bytes:
        return self.tree.get_root(self.size if size is None else size)

    def index_of(self, case_id: str, version: int | None) -> int:
        """The 1-based leaf index of a case's event (its latest without a version)."""
        found = [i for i, (_, case, v) in enumerate(self.entries, 1)
                 if case == case_id and (version is None or v == version)]
        if not found:
            raise InvalidField("case", f"no event {case_id}" + (f" v{version}" if version else "") + " in the log")
        return found[-1]

    def inclusion(self, index: int, size: int) -> dict:
        return self.tree.prove_inclusion(index, size).serialize()

    def consistency(self, prior_size: int, size: int) -> dict | None:
        return self.tree.prove_consistency(prior_size, size).serialize() if prior_size else None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _proof(data: dict, what: str) -> MerkleProof:
    try:
        return MerkleProof.deserialize(data)
    except Exception:  # noqa: BLE001 - pymerkle raises whatever a malformed dict makes it raise
        raise InvalidField(what, "not a Merkle proof as `jejak proof` writes it") from None


def inclusion_ok(data: bytes, index: int, size: int, root: bytes, proof: dict) -> bool:
    """Whether `proof` shows that the leaf `data` is leaf `index` of the tree of `size` leaves with `root`."""
    try:
        verify_inclusion(leaf_hash(data), root, _proof(proof, "proof"), index=index, size=size)
        return True
    except InvalidProof:
        return False


def consistency_ok(prior_size: int, prior_root: bytes, size: int, root: bytes, proof: dict | None) -> bool:
    """Whether `proof` shows that the tree (`size`, `root`) extends the tree (`prior_size`, `prior_root`)."""
    if prior_size == 0:
        return True
    if prior_size == size:
        return prior_root == root
    if proof is None or prior_size > size:
        return False
    try:
        verify_consistency(prior_root, root, _proof(proof, "consistency proof"), prior_size=prior_size,
                           later_size=size)
        return True
    except InvalidProof:
        return False
