"""Audits: JSON records by default, CSV with ``Accept: text/csv``, Arrow IPC (typed, for the Python client
and `jejak --server audit`) with ``Accept: application/vnd.apache.arrow.stream``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from entrypoints.api.deps import ReaderDep, ServerDep
from entrypoints.api.freshness import read_models
from entrypoints.api.routes.cases import MinPosition
from entrypoints.audit import AUDIT_NAMES, audit_options, run_audit
from workflow.errors import InvalidField, NotAuthorized

router = APIRouter(prefix="/api/v1/audits", tags=["audits"])
ARROW = "application/vnd.apache.arrow.stream"


@router.get("/{name}", summary="An accountability audit, with `jejak audit`'s options as query parameters",
            description="Audits: " + ", ".join(AUDIT_NAMES) + ". `personal_data_access` (who read which "
                        "reporter's data, when) is for the auditor role and the national Bawaslu (ri) only.")
def audit(name: str, principal: ReaderDep, server: ServerDep,
          by: Annotated[list[str] | None, Query(description="group by (repeatable)")] = None,
          as_of: Annotated[list[str] | None, Query(description="funnel/portfolio dates (repeatable)")] = None,
          recorded: bool = False, now: str | None = None, threshold: float | None = None,
          include_open: bool = False, include_imported: bool = False,
          accept: Annotated[str | None, Header()] = None, min_position: MinPosition = None):
    options = audit_options(name, by=by, as_of=as_of, recorded=recorded, now=now, threshold=threshold,
                            include_open=include_open, include_imported=include_imported, flag="")
    if threshold is not None and not threshold >= 0:
        raise InvalidField("threshold", f"must be 0 or more days, got {threshold}")
    if name == "personal_data_access" and not (principal.actor.role == "auditor" or
                                               (principal.actor.role, principal.actor.scope) == ("bawaslu", "ri")):
        raise NotAuthorized(f"{principal.actor} may not read the record of access to personal data "
                            "(allowed: auditor, bawaslu:ri)")
    read_side, headers = read_models(server, min_position)
    frame = run_audit(read_side, name, options, server.engine)
    accept = (accept or "").lower()
    if ARROW in accept:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW, headers=headers)
    if "text/csv" in accept:
        return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(frame.to_json(orient="records", date_format="iso"), media_type="application/json",
                    headers=headers)
