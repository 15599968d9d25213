"""Tamper evidence: `jejak verify` checks the stored events against the write side's signed hash chain.

The chain (``jejak_chain``, workflow.chain) was written in the transaction that stored each event. `verify`
recomputes it from the raw events table (``app.recorder.select_notifications``) and compares, position by
position, reporting every edited, deleted, inserted or reordered event; it checks that every chain row is
covered by a valid signature of a writer key (rows inserted or rewritten by SQL carry none); it replays every
case through its era's rules and checks that each event was recorded after the case's previous one. Every
problem names the case and version it concerns.

What a chain in the database cannot show (the whole log rewritten and re-signed by someone holding the
writer's key, or a tail cut together with its chain rows) is caught by comparison with a head kept outside
the store: a published digest ``HEX@POSITION`` (``digest=``), the verifier's remembered head (``remembered=``,
kept by the CLI in the user's state directory) or a signed checkpoint (projections.checkpoints).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from eventsourcing.utils import get_topic

from workflow.case import Case
from workflow.chain import GENESIS, canonical_id, chain_message, content_hash, link
from workflow.errors import InvalidField
from workflow.replay_check import check_step
from workflow.signing import VerifierKey

_REPORTED_TOPIC = get_topic(Case.Reported)
PAGE_SIZE = 5000
_DIGEST = re.compile(r"^\s*([0-9a-fA-F]{64})@(\d+)\s*$")


def parse_digest(text: str) -> tuple[str, int]:
    match = _DIGEST.match(text or "")
    if not match:
        raise InvalidField("digest", f"cannot read {text!r}", allowed="HEX@POSITION, as printed by 'jejak verify'")
    return match[1].lower(), int(match[2])


@dataclass
class Problem:
    position: int
    kind: str  # edited, deleted, inserted, reordered, chain_broken, unsigned, bad_signature, out_of_sequence,
    #           not_a_report, rule_violation, unreadable, digest_mismatch, digest_missing
    detail: str
    case_id: str | None = None
    version: int | None = None


@dataclass
class VerifyReport:
    events: int  # stored events read
    chained: int  # rows in the write side's chain
    head: str | None  # digest of the stored events as they are now: HEX@POSITION
    problems: list[Problem] = field(default_factory=list)
    digest: str | None = None  # the digest checked, if any
    digest_ok: bool | None = None
    signed: int | None = None  # chain rows covered by a valid writer signature; None: no writer key to check with
    writer_keys: list[str] = field(default_factory=list)
    signature_rows: int = 0  # chain rows carrying a signature (checked or not)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "chained": self.chained, "signed": self.signed,
                "writer_keys": self.writer_keys, "signature_rows": self.signature_rows, "head": self.head,
                "digest": self.digest, "digest_ok": self.digest_ok, "problems": [asdict(p) for p in self.problems]}

    def frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in self.problems],
                            columns=["position", "kind", "detail", "case_id", "version"])

    def __str__(self) -> str:
        lines = [f"{self.events} stored events, {self.chained} chained at write time; head {self.head or '(empty)'}"]
        if self.signed is None and self.signature_rows:
            lines.append(f"signatures NOT checked: {self.signature_rows} chain rows carry one, but no writer key was "
                         "given (--writer-key PUB, or JEJAK_SIGNING_KEY)")
        elif self.signed is None:
            lines.append("UNSIGNED MODE: no writer key to check signatures with (set JEJAK_SIGNING_KEY or give "
                         "--writer-key): the chain alone does not hold against the database's administrator")
        else:
            lines.append(f"{self.signed} of {self.chained} chain rows signed by {', '.join(self.writer_keys)}")
        if self.digest:
            lines.append(f"digest {self.digest}: {'matches' if self.digest_ok else 'DOES NOT MATCH'}")
        lines.append("OK: no tampering found" if self.ok else f"TAMPERING: {len(self.problems)} problem(s)")
        lines += [f"  position {p.position}: {p.kind} — "
                  + (f"case {p.case_id} v{p.version}: " if p.case_id else "") + p.detail for p in self.problems]
        return "\n".join(lines)


def _raw_pages(app, page_size: int):
    start = -(2 ** 63)  # from the very first row: a row forged below the log's first id is read too
    while True:
        page = app.recorder.select_notifications(start=start, limit=page_size, inclusive_of_start=False)
        if not page:
            return
        yield from page
        start = page[-1].id


class _Checker:
    """The state of one pass over the log and the chain, merged by position."""

    def __init__(self, app, writer_keys: list[VerifierKey], rules: bool):
        self.app, self.rules = app, rules
        self.keys = {key.key_id.hex(): key for key in writer_keys}
        self.problems: list[Problem] = []
        self.cases: dict[str, object] = {}  # case -> the aggregate replayed so far (None: no longer replayable)
        self.last_version: dict[str, int] = {}
        self.mismatched: dict[int, tuple] = {}  # position -> (content, case, version, chain row or None)
        self.missing: dict[int, dict] = {}  # chain rows without a stored event
        self.previous_raw = self.previous_row = GENESIS
        self.previous_seq = 0
        self.uncovered: list[dict] = []  # rows waiting for a signature that covers them
        self.signed = self.signature_rows = 0

    def problem(self, position, kind, detail, case_id=None, version=None):
        self.problems.append(Problem(position, kind, detail, case_id, version))

    def chain_row(self, row: dict) -> None:
        expected = link(self.previous_row, row["position"], bytes.fromhex(row["content_hash"])).hex()
        if expected != row["link"] or row["seq"] != self.previous_seq + 1:
            self.problem(row["position"], "chain_broken", "the chain row was altered here (its link or seq does "
                         "not follow from the previous row)", row["originator_id"], row["originator_version"])
        self.previous_row, self.previous_seq = bytes.fromhex(row["link"]), row["seq"]
        self.uncovered.append(row)
        if row["signature"] is not None:
            self.signature_rows += 1
            if self.keys:
                self._signature(row)

    def _signature(self, row: dict) -> None:
        key = self.keys.get(row["key_id"] or "")
        message = chain_message(row["signed_from"], row["seq"], row["link"])
        try:
            valid = key is not None and key.verify(bytes.fromhex(row["signature"]), message)
        except ValueError:
            valid = False
        if not valid:
            self.problem(row["position"], "bad_signature",
                         "its signature is not a writer key's" if key is None else "its signature does not verify",
                         row["originator_id"], row["originator_version"])
            return
        covered = [r for r in self.uncovered if r["seq"] >= row["signed_from"]]
        self.signed += len(covered)
        self.uncovered = [r for r in self.uncovered if r["seq"] < row["signed_from"]]
        self._report_uncovered()

    def _report_uncovered(self) -> None:
        for row in self.uncovered:
            self.problem(row["position"], "unsigned", "no writer signature covers this chain row (written by "
                         "SQL, or by a writer without the key)", row["originator_id"], row["originator_version"])
        self.uncovered = []

    def raw_event(self, raw, row: dict | None) -> None:
        case_id = canonical_id(raw.originator_id)
        version = raw.originator_version
        if not self._sequence(raw, case_id, version):
            self.cases[case_id] = None  # a case out of sequence cannot be replayed further
        content = content_hash(case_id, version, raw.topic, raw.state)
        self.previous_raw = link(self.previous_raw, raw.id, content)
        if row is None:
            self.mismatched[raw.id] = (content.hex(), case_id, version, None)
        elif row["content_hash"] != content.hex():
            self.mismatched[raw.id] = (content.hex(), case_id, version, row)
        if self.rules and self.cases.get(case_id, 0) is not None:
            self._replay(raw, case_id, version)

    def _sequence(self, raw, case_id: str, version: int) -> bool:
        last = self.last_version.get(case_id, 0)
        self.last_version[case_id] = max(last, version)
        if version != last + 1:
            self.problem(raw.id, "out_of_sequence", f"follows {f'v{last}' if last else 'no report of that case'}",
                         case_id, version)
            return False
        if version == 1 and raw.topic != _REPORTED_TOPIC:
            self.problem(raw.id, "not_a_report", f"begins with {raw.topic}, not a report", case_id, version)
            return False
        return True

    def _replay(self, raw, case_id: str, version: int) -> None:
        case = self.cases.get(case_id)
        try:
            event = self.app.mapper.to_domain_event(raw)
            for detail in check_step(case, event):
                self.problem(raw.id, "rule_violation", detail, case_id, version)
            self.cases[case_id] = event.mutate(case)
        except Exception as error:  # noqa: BLE001 - forged bytes can fail anywhere in decoding or replaying
            self.problem(raw.id, "unreadable", f"cannot be replayed ({type(error).__name__})", case_id, version)
            self.cases[case_id] = None  # the rest of this case cannot be judged

    def finish(self) -> None:
        if self.keys:
            self._report_uncovered()
        self.problems += _classify(self.mismatched, self.missing)


def verify(app, digest: str | None = None, *, writer_keys: list[VerifierKey] | None = None, rules: bool = True,
           remembered: str | None = None, page_size: int = PAGE_SIZE) -> VerifyReport:
    """Recompute the chain from the stored events and compare it with the write side's (and a digest).
    `writer_keys`: the keys whose signatures vouch for the chain (default: the writer's own, when configured).
    `remembered`: the head this verifier verified before (entrypoints.cli.integrity keeps it): the log must extend
    it."""
    wanted = parse_digest(digest) if digest else None
    kept = parse_digest(remembered) if remembered else None
    kept_ok = None
    if writer_keys is None:
        writer_keys = [app.signer.verifier] if app.signer else []
    check = _Checker(app, writer_keys, rules)
    events = chained = 0
    head_position, digest_ok = None, None
    raw_iter, chain_iter = _raw_pages(app, page_size), app.recorder.chain.rows(app.recorder.datastore, page_size)
    raw, row = next(raw_iter, None), next(chain_iter, None)
    while raw is not None or row is not None:
        if row is not None and (raw is None or row["position"] < raw.id):
            chained += 1
            check.chain_row(row)
            check.missing[row["position"]] = row
            row = next(chain_iter, None)
            continue
        events += 1
        matching = row if row is not None and row["position"] == raw.id else None
        if matching is not None:
            chained += 1
            check.chain_row(matching)
            row = next(chain_iter, None)
        check.raw_event(raw, matching)
        head_position = raw.id
        if wanted and raw.id == wanted[1]:
            digest_ok = check.previous_raw.hex() == wanted[0]
        if kept and raw.id == kept[1]:
            kept_ok = check.previous_raw.hex() == kept[0]
        raw = next(raw_iter, None)
    check.finish()
    problems = check.problems
    if wanted:
        if digest_ok is None:
            problems.append(Problem(wanted[1], "digest_missing",
                                    f"no stored event at position {wanted[1]}: the digest cannot be checked "
                                    "(deleted with its chain rows, or the digest is from another store)"))
            digest_ok = False
        elif not digest_ok:
            problems.append(Problem(wanted[1], "digest_mismatch",
                                    "the chain recomputed from the stored events does not reach the published "
                                    "digest: some event at or before this position was changed"))
    if kept and not kept_ok:
        problems.append(Problem(kept[1], "log_shrunk" if kept_ok is None else "log_diverged",
                                f"this verifier verified the log up to position {kept[1]} before: "
                                + ("that event is gone (the log was cut)" if kept_ok is None else
                                   "the log up to there is no longer the one it verified (history rewritten)")))
    problems.sort(key=lambda p: (p.position, p.kind))
    head = f"{check.previous_raw.hex()}@{head_position}" if head_position is not None else None
    return VerifyReport(events=events, chained=chained, head=head, problems=problems,
                        digest=f"{wanted[0]}@{wanted[1]}" if wanted else None, digest_ok=digest_ok,
                        signed=check.signed if writer_keys else None,
                        writer_keys=[str(key) for key in writer_keys], signature_rows=check.signature_rows)


def _classify(mismatched: dict, missing: dict) -> list[Problem]:
    """Tell edits from reorderings: content found at another chained position was moved, not edited."""
    chain_by_content = {row["content_hash"]: row for row in missing.values()}
    chain_by_content.update({entry[3]["content_hash"]: entry[3] for entry in mismatched.values() if entry[3]})
    problems = []
    for position, (content, case_id, version, row) in mismatched.items():
        moved_from = chain_by_content.get(content)
        if moved_from is not None and moved_from["position"] != position:
            problems.append(Problem(position, "reordered", f"the event was at position {moved_from['position']}",
                                    case_id, version))
        elif row is None:
            problems.append(Problem(position, "inserted", "the event was not chained when it was stored (written "
                                    "by SQL, not by Jejak)", case_id, version))
        elif (row["originator_id"], row["originator_version"]) == (case_id, version):
            problems.append(Problem(position, "edited", "its stored bytes changed after it was chained",
                                    case_id, version))
        else:
            problems.append(Problem(position, "edited", f"was {row['originator_id']} v{row['originator_version']}",
                                    case_id, version))
    moved = {entry[0] for entry in mismatched.values()}
    for position, row in missing.items():
        if row["content_hash"] in moved:
            continue  # reported as reordered where it is now
        problems.append(Problem(position, "deleted", "the event is gone (its chain row remains)",
                                row["originator_id"], row["originator_version"]))
    return problems
