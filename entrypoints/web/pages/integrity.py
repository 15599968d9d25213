"""The integrity page (``/integrity``): the hash chain's head (digest and position) to publish, the last
`jejak verify` run and its result, the newest signed checkpoints of the Merkle log (as `/api/v1/checkpoints`
publishes them), and how anyone checks the store against a published digest or checkpoint."""

from __future__ import annotations

from fastapi import APIRouter

from entrypoints import verification_log
from entrypoints.web.render import PageDep, PageRoute
from projections import dashboard
from projections.checkpoints import recent

router = APIRouter(route_class=PageRoute, include_in_schema=False)
SHOWN = 10  # the newest checkpoints listed; the API gives them all


@router.get("/integrity", name="integrity")
def integrity(page: PageDep):
    head = dashboard.chain_head(page.read_side)
    last = verification_log.latest(page.server.engine)
    return page.render("integrity.html", nav="integrity", head=head, last=last,
                       checkpoints=recent(page.server.app, SHOWN))
