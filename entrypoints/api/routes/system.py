"""The deadline clock (tick, `system` role only), tamper evidence (verify, digest, checkpoints) and health checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import text

from entrypoints.api.deps import PrincipalDep, ReaderDep, ServerDep
from entrypoints.api.schemas import Marked, TickIn
from entrypoints.problems import Unavailable
from entrypoints.views import parse_when
from workflow.errors import NotAuthorized

router = APIRouter(tags=["system"])


@router.post("/api/v1/tick", response_model=list[Marked], summary="Mark cases whose deadline passed as overdue")
def tick(principal: PrincipalDep, server: ServerDep, body: TickIn | None = None):
    if principal.actor.role != "system":
        raise NotAuthorized(f"{principal.actor} may not run the deadline clock (only the system role)")
    marked = server.app.tick(now=parse_when((body or TickIn()).now, "now"))
    return [{"case_id": str(case_id), "missed_deadline": deadline} for case_id, deadline in marked]


@router.get("/api/v1/verify", summary="Recompute the hash chain over the stored events (ok: false if tampered)")
def verify(principal: ReaderDep, server: ServerDep,
           digest: Annotated[str | None, Query(description="HEX@POSITION published earlier")] = None):
    from projections.integrity import verify as verify_chain

    return verify_chain(server.app, digest).as_dict()


@router.get("/api/v1/digest", summary="The hash chain's head HEX@POSITION, to publish (`verify` recomputes it)")
def digest(principal: ReaderDep, server: ServerDep):
    from sqlalchemy import select

    from projections.tables import event_chain

    server.read_side.catch_up()
    with server.engine.connect() as conn:
        head = conn.execute(select(event_chain.c.link, event_chain.c.position)
                            .order_by(event_chain.c.position.desc()).limit(1)).first()
    return {"digest": f"{head.link}@{head.position}" if head else None}


@router.get("/api/v1/checkpoints", summary="The log's signed checkpoints, for witnesses and outsiders (no "
            "authentication): the newest, those from tree size `since` on, and the consistency proof from `since`")
def checkpoints(server: ServerDep,
                since: Annotated[int, Query(ge=0, le=2 ** 62, description="a tree size the caller holds")] = 0):
    from projections.checkpoints import log_bundle

    return log_bundle(server.app, since)


@router.get("/healthz", summary="The process is up (no authentication); whether it signs and whether it is the "
            "projection follower")
def healthz(server: ServerDep):
    leading = server.follower.leading.is_set() if server.follower is not None else None
    return {"status": "ok", "insecure_dev": server.settings.insecure_dev, "signing": server.app.signer is not None,
            "projections": server.settings.projections, "projection_leader": leading}


@router.get("/readyz", summary="The database answers (no authentication)")
def readyz(server: ServerDep, response: Response):
    try:
        with server.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the database means not ready
        raise Unavailable(f"the database does not answer: {type(error).__name__}") from None
    return {"status": "ready"}
