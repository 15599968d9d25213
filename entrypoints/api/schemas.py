"""Request and response bodies. Unknown fields are refused (422), and so are values of the wrong JSON type;
what a value means (a region code, a sanction of the era…) is checked by the commands, with their messages."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, create_model

from workflow.fields import REPORT_FIELDS

When = Annotated[StrictStr | None, Field(description="ISO 8601 date or date-time; without an offset it is read "
                                                     "in the server's JEJAK_TZ (default Asia/Jakarta)",
                                         examples=["2024-10-01T09:00+07:00"])]
Actor = Annotated[StrictStr | None, Field(description="optional: if given, it must be the actor the credential "
                                                      "proves (ROLE[:SCOPE][@ID]), else 403")]
_LISTS = {"witnesses", "evidence"}  # also accepted as a JSON list of text

ReportIn = create_model(
    "ReportIn",
    __config__=ConfigDict(extra="forbid"),
    __doc__="A report (by a reporter) or a finding (by Bawaslu): the report fields of `jejak report`.",
    actor=(Actor, None), occurred_at=(When, None),
    era=(Annotated[StrictStr | None, Field(description="override the era chosen from the date")], None),
    note=(StrictStr | None, None),
    **{key: ((StrictStr | list[StrictStr] | None) if key in _LISTS else (StrictStr | None),
             Field(None, description=description + (" [required]" if required else "")))
       for key, (required, description) in REPORT_FIELDS.items()},
)


def report_fields(body: BaseModel) -> dict[str, Any]:
    return {key: value for key, value in body.model_dump(include=set(REPORT_FIELDS)).items() if value is not None}


class TriggerIn(BaseModel):
    """A trigger's fields (`jejak advance … --set key=value`), when it happened, and a note."""

    model_config = ConfigDict(extra="forbid")
    occurred_at: When = None
    fields: dict[StrictStr, StrictStr] = Field(default_factory=dict,
                                               examples=[{"track": "discipline", "sanction": "written_reprimand"}])
    note: StrictStr | None = None
    actor: Actor = None


class TickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: When = None


class CaseState(BaseModel):
    case_id: str
    state: str
    version: int


class Triggers(BaseModel):
    case_id: str
    actor: str
    triggers: list[str]


class Marked(BaseModel):
    case_id: str
    missed_deadline: str
