"""Who acts, and on which cases they may act.

An actor is written ``ROLE[:SCOPE][@ID]``: ``bawaslu:kab-bima@andi`` is officer *andi* of the Bawaslu of
Bima regency, ``ppk:pemkab-bima`` the staffing authority of the Bima regency government, ``bkn`` the national
civil-service agency, ``system`` the deadline clock. Scopes are short stable codes: ``ri`` (national),
``prov-…`` (province), ``kab-…`` / ``kota-…`` (regency / city), and agency codes starting with their type
(``pemprov-``, ``pemkab-``, ``pemkot-``, ``kementerian-``, ``lembaga-``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflow.definitions import AGENCY_TYPES, ROLES
from workflow.errors import InvalidField, NotAuthorized

CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REGION_PREFIXES = ("prov-", "kab-", "kota-")
_ACTOR = re.compile(r"^(?P<role>[a-z]+)(?::(?P<scope>[^@]+))?(?:@(?P<id>.+))?$")


@dataclass(frozen=True)
class Actor:
    role: str
    scope: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, text: str) -> Actor:
        match = _ACTOR.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise InvalidField("actor", f"cannot read {text!r}", allowed="ROLE[:SCOPE][@ID], e.g. bawaslu:kab-bima")
        actor = cls(match["role"], match["scope"], match["id"])
        actor.validate()
        return actor

    def validate(self) -> None:
        if self.role not in ROLES:
            raise InvalidField("actor role", f"unknown role {self.role!r}", allowed=ROLES)
        if self.role in ("bawaslu", "ppk") and not self.scope:
            example = "bawaslu:kab-bima or bawaslu:ri" if self.role == "bawaslu" else "ppk:pemkab-bima"
            raise InvalidField("actor scope", f"{self.role} acts within a jurisdiction and needs one",
                               allowed=example)
        if self.scope is not None:
            if self.role == "bawaslu":
                check_region(self.scope, "actor scope", national_ok=True)
            elif self.role == "ppk":
                check_agency(self.scope, "actor scope")
            elif not CODE.match(self.scope):
                raise InvalidField("actor scope", f"not a code: {self.scope!r}", allowed="lower-case words joined by -")
        if self.id is not None and self.role == "reporter":  # it would be stored in clear on every event
            raise InvalidField("actor id", "a reporter is not named in the actor: their name goes in "
                                           "reporter_name, which is kept sealed and can be erased",
                               allowed="reporter (no @ID)")
        if self.id is not None and (not self.id.strip() or len(self.id) > 100 or not self.id.isprintable()):
            raise InvalidField("actor id", "must be 1 to 100 characters, all printable (no control characters)")

    def as_dict(self) -> dict:
        return {"role": self.role, "scope": self.scope, "id": self.id}

    def __str__(self) -> str:
        return self.role + (f":{self.scope}" if self.scope else "") + (f"@{self.id}" if self.id else "")


def check_region(code: str, name: str, national_ok: bool = False, prefixes=REGION_PREFIXES) -> str:
    if national_ok and code == "ri":
        return code
    if not (isinstance(code, str) and CODE.match(code) and code.startswith(prefixes)):
        allowed = ("ri, " if national_ok else "") + ", ".join(p + "…" for p in prefixes)
        raise InvalidField(name, f"not a region code: {code!r}", allowed=allowed)
    return code


def check_agency(code: str, name: str = "agency") -> str:
    if not (isinstance(code, str) and CODE.match(code) and code.split("-", 1)[0] in AGENCY_TYPES
            and "-" in code):
        raise InvalidField(name, f"not an agency code: {code!r}",
                           allowed=", ".join(f"{p}-…" for p in AGENCY_TYPES) + " (e.g. pemkab-bima)")
    return code


def agency_type(code: str) -> str:
    return AGENCY_TYPES[code.split("-", 1)[0]]


def covers(actor: Actor, province: str, regency: str | None, agencies: set[str]) -> bool:
    """Whether the actor's jurisdiction covers a case in this region, employed by one of these agencies."""
    if actor.role == "bawaslu":
        return actor.scope in ("ri", province) or (regency is not None and actor.scope == regency)
    if actor.role == "ppk":
        return actor.scope in agencies
    return True  # national bodies, the reporter and the system clock


def require_jurisdiction(actor: Actor, case_id: object, province: str, regency: str | None,
                         agencies: set[str]) -> None:
    if not covers(actor, province, regency, agencies):
        where = (f"agency {' / '.join(sorted(agencies))}" if actor.role == "ppk"
                 else f"region {province}{'/' + regency if regency else ''}")
        raise NotAuthorized(f"{actor} has no jurisdiction over case {case_id} ({where})")
