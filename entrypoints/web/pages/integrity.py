"""The integrity page (``/integrity``): the hash chain's head (digest and position) to publish, the last
`jejak verify` run and its result, and how anyone holding a published digest checks the store against it.

Signed checkpoints (a digest signed by the operator, to publish) are not built yet: `checkpoints` is where
they go, and the template has their section ready."""

from __future__ import annotations

from fastapi import APIRouter

from entrypoints import verification_log
from entrypoints.web.render import PageDep, PageRoute
from projections import dashboard

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def checkpoints(page) -> list[dict] | None:
    """Signed checkpoints to list (each: digest, position, signed_at, signer, signature); None while the store
    has no way to make them, so the page says so."""
    return None


@router.get("/integrity", name="integrity")
def integrity(page: PageDep):
    head = dashboard.chain_head(page.server.read_side)
    last = verification_log.latest(page.server.engine)
    return page.render("integrity.html", nav="integrity", head=head, last=last, checkpoints=checkpoints(page))
