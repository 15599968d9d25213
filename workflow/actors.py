"""Who acts, and on which cases they may act.

An actor is written ``ROLE[:SCOPE][@ID]``: ``bawaslu:kab-bima@andi`` is officer *andi* of the Bawaslu of
Bima regency, ``ppk:pemkab-bima`` the staffing authority of the Bima regency government, ``bkn`` the national
civil-service agency, ``system`` the deadline clock. Scopes are ``ri`` (national), a region of the official
list (Kemendagri code or alias: ``52``, ``prov-ntb``, ``kab-bima``, ``kota-mataram``) or an agency of the official
list (``pemprov-``, ``pemkab-``, ``pemkot-``, ``kementerian-``, ``lembaga-``), checked by `workflow.codes` and kept
in canonical form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflow import codes
from workflow.definitions import AGENCY_TYPES, ROLES
from workflow.errors import InvalidField, NotAuthorized

CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
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
        return actor.canonical()

    def canonical(self) -> Actor:
        """The same actor with its scope in canonical form (``pemkab-52.06`` is ``pemkab-bima``)."""
        if self.role == "bawaslu" and self.scope not in (None, "ri"):
            return Actor(self.role, codes.canonical_region(self.scope), self.id)
        if self.role == "ppk" and self.scope is not None:
            return Actor(self.role, codes.canonical_agency(self.scope), self.id)
        return self

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


def check_region(code: str, name: str, national_ok: bool = False) -> str:
    """A region code or alias of any period (an actor's scope), in canonical form."""
    if national_ok and code == "ri":
        return code
    allowed = "ri, " * national_ok + "a Kemendagri code (52, 52.06) or an alias (prov-ntb, kab-bima, kota-mataram)"
    return codes.region(code, name, codes.ANY_REGION, allowed=allowed).alias


def check_agency(code: str, name: str = "agency") -> str:
    """An agency code of any period, in canonical form."""
    return codes.agency(code, name)


def agency_type(code: str) -> str:
    return AGENCY_TYPES[code.split("-", 1)[0]]


def covers(actor: Actor, province: str, regency: str | None, agencies: set[str]) -> bool:
    """Whether the actor's jurisdiction covers a case in this region, employed by one of these agencies."""
    if actor.role == "bawaslu":
        if actor.scope == "ri":
            return True
        scope = codes.canonical_region(actor.scope)  # a case's region as reported, and as it lies today
        return scope in {codes.canonical_region(province), codes.canonical_region(regency),
                         codes.current_province(regency)}
    if actor.role == "ppk":
        return codes.canonical_agency(actor.scope) in {codes.canonical_agency(a) for a in agencies}
    return True  # national bodies, the reporter and the system clock


def require_jurisdiction(actor: Actor, case_id: object, province: str, regency: str | None,
                         agencies: set[str]) -> None:
    if not covers(actor, province, regency, agencies):
        where = (f"agency {' / '.join(sorted(agencies))}" if actor.role == "ppk"
                 else f"region {province}{'/' + regency if regency else ''}")
        raise NotAuthorized(f"{actor} has no jurisdiction over case {case_id} ({where})")
