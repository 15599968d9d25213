"""Legal eras as data files: each era's rule table, roles, deadlines, start date and catalogue is a TOML file
(`workflow/era_files/*.toml`, and any in the directory `JEJAK_ERAS_DIR` names), so that a new era is a new file,
not new code.

A file may `extends` an era loaded before it: it inherits that era's table, roles and deadlines, adds its own
`[[transitions]]` and `[roles]`, and replaces the deadlines and keys it names. Everything is checked on loading
against the code's vocabulary (states, triggers with an event class, conditions the rules can evaluate, the
sanction catalogues): a mistake in a file is one clear error naming the file, never a half-loaded era.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from workflow import sanctions
from workflow.errors import InvalidField
from workflow.sanctions import Sanction

SHIPPED = Path(__file__).parent / "era_files"
COMMISSION = "commission"  # placeholder in a rule table: the era's commission (KASN until Aug 2024, then BKN)
ANY_STATE = "*"  # as a source: every state but the initial pseudo-state
DISCIPLINE_CATALOGUES = {"pp53-2010": sanctions.PP_53_2010, "pp94-2021": sanctions.PP_94_2021}
_TOP_KEYS = {"id", "extends", "title", "effective_from", "revision", "commission", "discipline", "basis", "roles",
             "deadlines", "transitions", "handovers"}
_ROW_KEYS = {"trigger", "source", "dest", "roles", "conditions", "unless"}
_DEADLINE_KEYS = {"days", "working_days", "party", "basis", "verified"}
_HANDOVER_KEYS = {"role", "to", "on", "basis"}


class EraFileError(InvalidField):
    """An era file that cannot be loaded as it is written."""

    def __init__(self, path: Path | str, message: str):
        super().__init__(f"era file {path}", message)


@dataclass(frozen=True)
class Deadline:
    """How long a stage may take. `days=None` means no deadline is published (off by default)."""

    days: int | None
    working_days: bool = False
    party: str = ""  # the role that owes the next step
    basis: str = ""
    verified: bool = False

    def describe(self) -> str:
        if self.days is None:
            return "none"
        return f"{self.days} {'working ' if self.working_days else ''}days"


@dataclass(frozen=True)
class Handover:
    """A body that ceased to exist: from `on` (a setting, ``JEJAK_HANDOVER_<ROLE>``) the acts the era's table gives
    to `role` fall to `to`, on the cases of this era still open, and `role` may act no more. The case keeps its
    era (its procedure); only who acts changes, by the date of the act."""

    role: str
    to: str
    on: date
    basis: str = ""


@dataclass(frozen=True)
class Era:
    """A legal era's workflow: the rule table, deadlines and sanctions in force from a date."""

    id: str
    title: str
    effective_from: date
    revision: int
    commission: str  # the role that examines and recommends: kasn, bkn, …
    discipline: dict[str, Sanction]
    deadlines: dict[str, Deadline]
    table: list[dict] = field(default_factory=list)  # the rule table, "commission" unresolved
    roles: dict[str, str] = field(default_factory=dict)  # role -> who it is
    basis: str = ""
    source: str = ""  # the file it was loaded from
    handovers: tuple[Handover, ...] = ()

    @property
    def version(self) -> str:
        """The workflow version recorded on every event decided under this era."""
        return f"{self.id}@{self.revision}"

    @property
    def transitions(self) -> list[dict]:
        """The rule table with the commission placeholder resolved to this era's role."""
        return [{**row, "roles": [self.commission if r == COMMISSION else r for r in row["roles"]]}
                for row in self.table]

    def acting_for(self, trigger: str, role: str) -> str | None:
        """The ended role whose act this is, when `role` fires `trigger` only by a handover (BKN recommending on a
        KASN-era case from Sept 2024); None when the table gives it to `role` itself."""
        roles = {r for row in self.transitions if row["trigger"] == trigger for r in row["roles"]}
        if role in roles:
            return None
        return next((h.role for h in self.handovers if h.to == role and h.role in roles), None)

    def sanctions(self, track: str) -> dict[str, Sanction]:
        return {"ethics": sanctions.ETHICS, "discipline": self.discipline, "non_asn": sanctions.NON_ASN}[track]

    @property
    def all_sanctions(self) -> dict[str, Sanction]:
        return {**sanctions.ETHICS, **self.discipline, **sanctions.NON_ASN}


@dataclass(frozen=True)
class Vocabulary:
    """What the code knows how to run: an era file may use these and nothing else."""

    states: tuple[str, ...]
    triggers: tuple[str, ...]
    conditions: tuple[str, ...]
    initial: str


def era_files(extra_dir: str | None = None) -> list[Path]:
    """The shipped era files, then those of `extra_dir` (JEJAK_ERAS_DIR), each set in name order."""
    files = sorted(SHIPPED.glob("*.toml"))
    if extra_dir:
        directory = Path(extra_dir)
        if not directory.is_dir():
            raise EraFileError(directory, "JEJAK_ERAS_DIR names no directory")
        files += sorted(directory.glob("*.toml"))
    return files


def load_eras(paths: Iterable[Path], vocabulary: Vocabulary, known: Mapping[str, Era] | None = None
              ) -> dict[str, Era]:
    """Load era files in order, a file extending an era from `known` or from an earlier file; by start date."""
    eras = dict(known or {})
    pending = [Path(p) for p in paths]
    while pending:  # a file may extend one that comes later in name order: load what can be, then again
        ready = [p for p in pending if _parent_id(p) in (None, *eras)]
        if not ready:
            raise EraFileError(pending[0], f"extends {_parent_id(pending[0])!r}, which no era file defines")
        for path in ready:
            era = load_era(path, vocabulary, eras)
            eras[era.id] = era
            pending.remove(path)
    starts = sorted(eras.values(), key=lambda e: e.effective_from)
    for earlier, later in zip(starts, starts[1:]):
        if earlier.effective_from == later.effective_from:
            raise EraFileError(later.source, f"starts on {later.effective_from}, as {earlier.id} does: one era "
                                             "per day")
    return {era.id: era for era in starts}


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise EraFileError(path, f"cannot read it: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise EraFileError(path, f"not valid TOML: {error}") from None


def _parent_id(path: Path) -> str | None:
    return _read(path).get("extends")


def load_era(path: Path, vocabulary: Vocabulary, known: Mapping[str, Era]) -> Era:
    """One era file, checked against the vocabulary; `known`: the eras it may extend (and must not repeat)."""
    data = _read(path)

    def fail(message: str) -> EraFileError:
        return EraFileError(path, message)

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    era_id = data.get("id")
    if not isinstance(era_id, str) or not era_id or not era_id.replace("-", "").isalnum() or era_id != era_id.lower():
        raise fail(f"id must be lower-case letters, digits and '-', got {era_id!r}")
    if era_id in known:
        raise fail(f"era {era_id!r} is defined twice (also in {known[era_id].source})")
    parent = known[data["extends"]] if "extends" in data else None
    base = dict(title=parent.title, commission=parent.commission, discipline=parent.discipline,
                deadlines=dict(parent.deadlines), table=list(parent.table), roles=dict(parent.roles),
                handovers=parent.handovers) if parent else dict(deadlines={}, table=[], roles={}, handovers=())
    for key in ("title", "effective_from", "revision") + (() if parent else ("commission", "discipline")):
        if key not in data and key not in base:
            raise fail(f"{key} is required" + ("" if parent else " (or extends = another era)"))
    start = data["effective_from"]
    if not isinstance(start, date) or hasattr(start, "hour"):
        raise fail(f"effective_from must be a date (YYYY-MM-DD, unquoted), got {start!r}")
    revision = data["revision"]
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise fail(f"revision must be a whole number from 1, got {revision!r}")
    roles = {**base["roles"], **_roles(data.get("roles", {}), fail)}
    commission = data.get("commission", base.get("commission"))
    if commission not in roles:
        raise fail(f"commission {commission!r} is not one of its roles ({', '.join(roles)})")
    discipline = base.get("discipline")
    if "discipline" in data:
        discipline = DISCIPLINE_CATALOGUES.get(data["discipline"])
        if discipline is None:
            raise fail(f"unknown discipline catalogue {data['discipline']!r} "
                       f"(allowed: {', '.join(DISCIPLINE_CATALOGUES)})")
    deadlines = {**base["deadlines"], **_deadlines(data.get("deadlines", {}), roles, fail)}
    table = base["table"] + [_row(row, i, roles, vocabulary, fail)
                             for i, row in enumerate(data.get("transitions", []), start=1)]
    if not any(row["trigger"] == "report" for row in table):
        raise fail("the rule table has no 'report' transition: no case could start")
    handovers = base["handovers"] + tuple(_handover(spec, i, roles, fail)
                                          for i, spec in enumerate(data.get("handovers", []), start=1))
    return Era(id=era_id, title=_text(data.get("title", base.get("title")), "title", fail), effective_from=start,
               revision=revision, commission=commission, discipline=discipline, deadlines=deadlines, table=table,
               roles=roles, basis=str(data.get("basis", "")), source=str(path), handovers=handovers)


def _text(value: Any, name: str, fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{name} must be text")
    return value


def _roles(roles: Any, fail) -> dict[str, str]:
    if not isinstance(roles, dict):
        raise fail("[roles] must be a table of role = description")
    for role, text in roles.items():
        if not role.isalpha() or not role.islower() or role == COMMISSION:
            raise fail(f"role {role!r} must be lower-case letters (and not {COMMISSION!r})")
        _text(text, f"role {role}", fail)
    return dict(roles)


def _deadlines(table: Any, roles: Mapping[str, str], fail) -> dict[str, Deadline]:
    if not isinstance(table, dict):
        raise fail("[deadlines] must be a table of deadline tables")
    deadlines = {}
    for name, spec in table.items():
        if not isinstance(spec, dict) or set(spec) - _DEADLINE_KEYS:
            raise fail(f"deadline {name!r}: keys allowed: {', '.join(sorted(_DEADLINE_KEYS))}")
        days = spec.get("days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 < days < 10_000):
            raise fail(f"deadline {name!r}: days must be a whole number from 1 (or no days: none published)")
        party = spec.get("party", "")
        if party and party not in roles:
            raise fail(f"deadline {name!r}: party {party!r} is not one of the era's roles")
        deadlines[name] = Deadline(days, bool(spec.get("working_days", False)), party, str(spec.get("basis", "")),
                                   bool(spec.get("verified", False)))
    return deadlines


def _handover(spec: Any, number: int, roles: Mapping[str, str], fail) -> Handover:
    if not isinstance(spec, dict) or set(spec) - _HANDOVER_KEYS or not {"role", "to", "on"} <= set(spec):
        raise fail(f"handover {number}: needs role, to and on (keys allowed: {', '.join(sorted(_HANDOVER_KEYS))})")
    for key in ("role", "to"):
        if spec[key] not in roles:
            raise fail(f"handover {number}: {key} {spec[key]!r} is not one of the era's roles")
    if spec["role"] == spec["to"]:
        raise fail(f"handover {number}: a role cannot hand over to itself")
    if not isinstance(spec["on"], date) or hasattr(spec["on"], "hour"):
        raise fail(f"handover {number}: on must be a date (YYYY-MM-DD, unquoted), got {spec['on']!r}")
    return Handover(spec["role"], spec["to"], spec["on"], str(spec.get("basis", "")))


def _row(row: Any, number: int, roles: Mapping[str, str], vocabulary: Vocabulary, fail) -> dict:
    where = f"transition {number}"
    if not isinstance(row, dict) or set(row) - _ROW_KEYS or not {"trigger", "source", "roles"} <= set(row):
        raise fail(f"{where}: needs trigger, source and roles (keys allowed: {', '.join(sorted(_ROW_KEYS))})")
    if row["trigger"] not in vocabulary.triggers:
        raise fail(f"{where}: unknown trigger {row['trigger']!r} (a trigger needs an event class: "
                   f"{', '.join(vocabulary.triggers)})")
    where = f"transition {number} ({row['trigger']})"
    source = row["source"]
    if source == ANY_STATE:
        source = [s for s in vocabulary.states if s != vocabulary.initial]
    for state in _as_list(source) + ([row["dest"]] if "dest" in row else []):
        if state not in vocabulary.states:
            raise fail(f"{where}: unknown state {state!r}")
    for role in _as_list(row["roles"]):
        if role != COMMISSION and role not in roles:
            raise fail(f"{where}: role {role!r} is not declared in [roles]")
    for key in ("conditions", "unless"):
        for name in _as_list(row.get(key, [])):
            if name not in vocabulary.conditions:
                raise fail(f"{where}: unknown {key} {name!r} (allowed: {', '.join(vocabulary.conditions)})")
    resolved = {"trigger": row["trigger"], "source": source, "dest": row.get("dest"), "roles": _as_list(row["roles"])}
    resolved.update({key: row[key] for key in ("conditions", "unless") if key in row})
    return resolved


def _as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]
