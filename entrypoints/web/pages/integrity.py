"""The integrity page (``/integrity``): the hash chain's head (digest and position) to publish, the last
`jejak verify` run and its result, the newest signed checkpoints of the Merkle log (as `/api/v1/checkpoints`
publishes them), and how anyone checks the store against a published digest or checkpoint."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from entrypoints import verification_log
from entrypoints.web.render import PageDep, PageRoute
from projections import dashboard
from projections.checkpoints import Checkpoint
from workflow.signing import split_note

router = APIRouter(route_class=PageRoute, include_in_schema=False)
SHOWN = 10  # the newest checkpoints listed; the API gives them all


def checkpoints(page) -> list[dict]:
    """The newest signed checkpoints, newest first: tree size, root hash, when signed, who signed (the log's
    key and any witnesses' co-signatures carried in the note). Names only: the page cannot know which keys a
    reader trusts, so `jejak verify --checkpoint` checks the signatures."""
    recorder = page.server.app.recorder
    store = getattr(recorder, "checkpoints", None)
    rows = store.list_since(recorder.datastore, 0) if store is not None else []
    shown = []
    for row in sorted(rows, key=lambda r: (r["size"], r["created_at"]), reverse=True)[:SHOWN]:
        checkpoint = Checkpoint.parse(row["note"])
        signers = list(dict.fromkeys(name for name, _, _ in split_note(row["note"])[1]))
        shown.append({"size": checkpoint.size, "root": row["root"], "signers": signers,
                      "signed_at": datetime.fromisoformat(row["created_at"])})
    return shown


@router.get("/integrity", name="integrity")
def integrity(page: PageDep):
    head = dashboard.chain_head(page.read_side)
    last = verification_log.latest(page.server.engine)
    return page.render("integrity.html", nav="integrity", head=head, last=last, checkpoints=checkpoints(page))
