"""Tamper evidence: a SHA-256 hash chain over the stored events, in notification order.

For each stored event (a row of ``stored_events``)::

    content_hash = SHA256(len-prefixed originator id, version, topic, state bytes)
    link         = SHA256(previous link || position, 8 bytes signed big-endian || content_hash)  (genesis: 32 zero bytes)

where *position* is the notification id. The projection `event_chain` keeps one row per event as it is
caught up. `verify` recomputes the chain from the raw events table (``app.recorder.select_notifications``) and
compares it with the projection, position by position, reporting every edited, deleted, inserted or
reordered event; the digest ``HEX@POSITION`` (the link at a position) can be published and later checked with
``verify(app, digest=...)`` — even if someone rewrote both the events and `event_chain`.

An event edited before the chain projection saw it cannot be told from an original: run `jejak verify` (or
`jejak project --follow`) regularly and publish digests. Events the chain sees for the first time are
checked for form (each is its case's next version; a case begins with its report) and counted in the report.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import Connection, select

from projections.bulk import insert_rows
from projections.tables import event_chain
from workflow.case import Case
from workflow.errors import InvalidField

GENESIS = bytes(32)
_REPORTED_TOPIC = get_topic(Case.Reported)
PAGE_SIZE = 5000
_DIGEST = re.compile(r"^\s*([0-9a-fA-F]{64})@(\d+)\s*$")


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _originator(originator_id) -> str:
    return str(originator_id) if isinstance(originator_id, UUID) else str(UUID(str(originator_id)))


def content_hash(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The hash of one stored event; `originator_id` is a UUID or its canonical text (`_originator`)."""
    if isinstance(state, str):  # a SQL edit can leave TEXT where a BLOB was
        state = state.encode("utf-8", "surrogateescape")
    originator = originator_id if type(originator_id) is str else _originator(originator_id)
    parts = (originator.encode(), str(int(version)).encode(), (topic or "").encode(), bytes(state or b""))
    return hashlib.sha256(b"".join([_field(part) for part in parts])).digest()


def link(previous: bytes, position: int, content: bytes) -> bytes:
    # signed: the same bytes as unsigned for every real position (> 0), and a forged negative one still links
    return hashlib.sha256(previous + int(position).to_bytes(8, "big", signed=True) + content).digest()


def parse_digest(text: str) -> tuple[str, int]:
    match = _DIGEST.match(text or "")
    if not match:
        raise InvalidField("digest", f"cannot read {text!r}", allowed="HEX@POSITION, as printed by 'jejak verify'")
    return match[1].lower(), int(match[2])


class EventChain:
    """The projection that extends the chain with each page of stored notifications."""

    name = "event_chain"
    table = event_chain
    raw = True  # gets the stored notifications, not domain events

    def apply(self, conn: Connection, notifications) -> None:
        head = conn.execute(select(event_chain.c.seq, event_chain.c.link)
                            .order_by(event_chain.c.position.desc()).limit(1)).first()
        seq, previous = (head.seq, bytes.fromhex(head.link)) if head else (0, GENESIS)
        rows = []
        for n in notifications:
            originator = _originator(n.originator_id)
            content = content_hash(originator, n.originator_version, n.topic, n.state)
            previous = link(previous, n.id, content)
            seq += 1
            rows.append(dict(position=n.id, seq=seq, originator_id=originator,
                             originator_version=n.originator_version, content_hash=content.hex(),
                             link=previous.hex()))
        if rows:
            insert_rows(conn, event_chain, rows)


@dataclass
class Problem:
    position: int
    kind: str  # edited, deleted, inserted, reordered, chain_broken, digest_mismatch, digest_missing,
    #           out_of_sequence, not_a_report (events chained for the first time that cannot be a case's next)
    detail: str
    case_id: str | None = None
    version: int | None = None


@dataclass
class VerifyReport:
    events: int  # stored events read
    chained: int  # events in the event_chain projection
    head: str | None  # digest of the stored events as they are now: HEX@POSITION
    problems: list[Problem] = field(default_factory=list)
    digest: str | None = None  # the digest checked, if any
    digest_ok: bool | None = None
    newly_chained: int = 0  # of the chained, those this verification's catch-up chained (vouched for from now on)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "chained": self.chained,
                "newly_chained": self.newly_chained, "head": self.head,
                "digest": self.digest, "digest_ok": self.digest_ok, "problems": [asdict(p) for p in self.problems]}

    def frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in self.problems],
                            columns=["position", "kind", "detail", "case_id", "version"])

    def __str__(self) -> str:
        lines = [f"{self.events} stored events, {self.chained} chained ({self.newly_chained} for the first time "
                 f"now); head {self.head or '(empty)'}"]
        if self.digest:
            lines.append(f"digest {self.digest}: {'matches' if self.digest_ok else 'DOES NOT MATCH'}")
        lines.append("OK: no tampering found" if self.ok else f"TAMPERING: {len(self.problems)} problem(s)")
        lines += [f"  position {p.position}: {p.kind} — {p.detail}" for p in self.problems]
        return "\n".join(lines)


def _raw_pages(app, page_size: int):
    start = -(2 ** 63)  # from the very first row: a row forged below the log's first id is read too
    while True:
        page = app.recorder.select_notifications(start=start, limit=page_size, inclusive_of_start=False)
        if not page:
            return
        yield from page
        start = page[-1].id


def _chain_pages(conn: Connection, page_size: int):
    start = -1
    while True:
        page = conn.execute(select(event_chain).where(event_chain.c.position > start)
                            .order_by(event_chain.c.position).limit(page_size)).all()
        if not page:
            return
        yield from page
        start = page[-1].position


def verify(app, digest: str | None = None, *, catch_up: bool = True, page_size: int = PAGE_SIZE) -> VerifyReport:
    """Recompute the chain from the stored events and compare it with `event_chain` (and a digest)."""
    from projections.readside import ReadSide

    wanted = parse_digest(digest) if digest else None
    read_side = ReadSide(app)
    with read_side.engine.connect() as conn:  # what the chain vouched for before this verification
        vouched = conn.execute(select(event_chain.c.position).order_by(event_chain.c.position.desc())
                               .limit(1)).scalar()
    if catch_up:
        read_side.catch_up()
    last_version: dict[str, int] = {}  # case -> its latest version in the log so far
    problems: list[Problem] = []
    mismatched: dict[int, tuple[str, object, int]] = {}  # position -> raw (content, originator, version)
    missing: dict[int, object] = {}  # chained positions without a stored event -> chain row
    events = chained = newly = 0
    previous_raw = GENESIS
    previous_chain = GENESIS
    head_position = None
    digest_ok = None
    with read_side.engine.connect() as conn:
        chain_head = conn.execute(select(event_chain.c.position).order_by(event_chain.c.position.desc())
                                  .limit(1)).scalar()
        raw_iter, chain_iter = _raw_pages(app, page_size), _chain_pages(conn, page_size)
        raw, chain = next(raw_iter, None), next(chain_iter, None)
        while raw is not None or chain is not None:
            if chain is not None and (raw is None or chain.position < raw.id):
                chained += 1
                newly += vouched is None or chain.position > vouched
                previous_chain = _check_chain_row(chain, previous_chain, problems)
                missing[chain.position] = chain
                chain = next(chain_iter, None)
                continue
            # a stored event
            events += 1
            case_id = _originator(raw.originator_id)
            if vouched is None or raw.id > vouched:
                _check_sequence(raw, case_id, last_version.get(case_id, 0), problems)
            last_version[case_id] = raw.originator_version
            content = content_hash(case_id, raw.originator_version, raw.topic, raw.state)
            previous_raw = link(previous_raw, raw.id, content)
            head_position = raw.id
            if wanted and raw.id == wanted[1]:
                digest_ok = previous_raw.hex() == wanted[0]
            if chain is not None and chain.position == raw.id:
                chained += 1
                newly += vouched is None or chain.position > vouched
                previous_chain = _check_chain_row(chain, previous_chain, problems)
                if chain.content_hash != content.hex():
                    mismatched[raw.id] = (content.hex(), raw.originator_id, raw.originator_version, chain)
                chain = next(chain_iter, None)
            elif chain_head is not None and raw.id <= chain_head:
                mismatched[raw.id] = (content.hex(), raw.originator_id, raw.originator_version, None)
            raw = next(raw_iter, None)
    problems += _classify(mismatched, missing)
    if wanted:
        if digest_ok is None:
            problems.append(Problem(wanted[1], "digest_missing",
                                    f"no stored event at position {wanted[1]}: the digest cannot be checked "
                                    "(deleted, or the digest is from another store)"))
            digest_ok = False
        elif not digest_ok:
            problems.append(Problem(wanted[1], "digest_mismatch",
                                    "the chain recomputed from the stored events does not reach the published "
                                    "digest: some event at or before this position was changed"))
    problems.sort(key=lambda p: (p.position, p.kind))
    head = f"{previous_raw.hex()}@{head_position}" if head_position is not None else None
    return VerifyReport(events=events, chained=chained, newly_chained=newly, head=head, problems=problems,
                        digest=f"{wanted[0]}@{wanted[1]}" if wanted else None, digest_ok=digest_ok)


def _check_sequence(raw, case_id: str, last_version: int, problems: list[Problem]) -> None:
    """An event the chain had not vouched for yet must be its case's next: the version after the case's latest
    in the log, and a case begins with its report. (A well-formed event forged at the end of the log cannot
    be told from a real one: that is what published digests are for.)"""
    version = raw.originator_version
    if version != last_version + 1:
        problems.append(Problem(raw.id, "out_of_sequence", f"{case_id} v{version} follows "
                                + (f"v{last_version}" if last_version else "no report of that case"),
                                case_id, version))
    elif version == 1 and raw.topic != _REPORTED_TOPIC:
        problems.append(Problem(raw.id, "not_a_report", f"{case_id} begins with {raw.topic}, not a report",
                                case_id, version))


def _check_chain_row(row, previous: bytes, problems: list[Problem]) -> bytes:
    expected = link(previous, row.position, bytes.fromhex(row.content_hash)).hex()
    if expected != row.link:
        problems.append(Problem(row.position, "chain_broken", "the event_chain table itself was altered here",
                                row.originator_id, row.originator_version))
    return bytes.fromhex(row.link)


def _classify(mismatched: dict, missing: dict) -> list[Problem]:
    """Tell edits from reorderings: content found at another chained position was moved, not edited."""
    chain_by_content = {row.content_hash: row for row in missing.values()}
    chain_by_content.update({entry[3].content_hash: entry[3] for entry in mismatched.values() if entry[3]})
    problems = []
    for position, (content, originator_id, version, chain) in mismatched.items():
        case_id = _originator(originator_id)
        moved_from = chain_by_content.get(content)
        if moved_from is not None and moved_from.position != position:
            problems.append(Problem(position, "reordered",
                                    f"event {case_id} v{version} was at position {moved_from.position}",
                                    case_id, version))
        elif chain is None:
            problems.append(Problem(position, "inserted",
                                    f"event {case_id} v{version} was not in the log when it was chained",
                                    case_id, version))
        elif (chain.originator_id, chain.originator_version) == (case_id, version):
            problems.append(Problem(position, "edited", f"the stored bytes of {case_id} v{version} changed",
                                    case_id, version))
        else:
            problems.append(Problem(position, "edited",
                                    f"was {chain.originator_id} v{chain.originator_version}, now {case_id} "
                                    f"v{version}", case_id, version))
    moved = {entry[0] for entry in mismatched.values()}
    for position, row in missing.items():
        if row.content_hash in moved:
            continue  # reported as reordered where it is now
        problems.append(Problem(position, "deleted",
                                f"event {row.originator_id} v{row.originator_version} is gone",
                                row.originator_id, row.originator_version))
    return problems
