"""The readers' copy of the hash chain (`event_chain`), for the reader role and exports.

The chain that vouches for the events is the write side's ``jejak_chain`` (workflow.chain), written in the
transaction that stores them and signed by the writer; this copy holds the same hashes, computed as the events
are caught up, and vouches for nothing: `jejak verify` never trusts it, so rebuilding it launders nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from projections.row_writer import insert_rows
from projections.tables import event_chain
from workflow.chain import GENESIS, canonical_id, content_hash, link


class EventChain:
    """The projection that extends the readers' copy with each page of stored notifications."""

    name = "event_chain"
    table = event_chain
    raw = True  # gets the stored notifications, not domain events

    def apply(self, conn: Connection, notifications) -> None:
        head = conn.execute(select(event_chain.c.seq, event_chain.c.link)
                            .order_by(event_chain.c.position.desc()).limit(1)).first()
        seq, previous = (head.seq, bytes.fromhex(head.link)) if head else (0, GENESIS)
        rows = []  # in the table's column order
        for n in notifications:
            originator = canonical_id(n.originator_id)
            # the stored id (a UUID), not its text: text would be parsed again to be made canonical
            content = content_hash(n.originator_id, n.originator_version, n.topic, n.state)
            previous = link(previous, n.id, content)
            seq += 1
            rows.append((n.id, seq, originator, n.originator_version, content.hex(), previous.hex()))
        if rows:
            insert_rows(conn, event_chain, rows)
