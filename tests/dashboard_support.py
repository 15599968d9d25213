"""A small demo store for the dashboard's tests (the pilkada-2020 demo at a tenth of its size, about a second to
make), with planted data public pages must never show: a civil servant's name and NIP, a reporter, and a
description that is a script. The planted case is the only one of its PPK, recommended: one recommendation,
which public pages must withhold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from entrypoints.bootstrap import open_jejak
from projections.readside import ReadSide
from demo.generator import DemoClock, generate

WIB = timezone(timedelta(hours=7))
PLANTED = {"name": "Planted Pegawai Rahasia", "nip": "199912312020121999", "reporter_name": "Pelapor Tertanam",
           "description": "<script>alert(1)</script>", "agency": "pemkab-kepulauan-anambas", "note": "<b>catatan</b>"}
SCRIPT = PLANTED["description"]


def make_store(db_url: str) -> str:
    """Fill `db_url` with the small demo and the planted case; returns the planted case's id."""
    with open_jejak(db_url, clock=DemoClock()) as app:
        generate(app, "pilkada-2020", seed=0, scale=0.1, progress=False)
    with open_jejak(db_url) as app:
        t0 = datetime(2020, 10, 1, 9, tzinfo=WIB)
        case_id = app.report("reporter", occurred_at=t0, name=PLANTED["name"], nip=PLANTED["nip"],
                             position_group="administrator", agency=PLANTED["agency"], province="prov-ntb",
                             regency="kab-bima", category="social_media", election="pilkada-2020",
                             description=PLANTED["description"], reporter_name=PLANTED["reporter_name"])
        for day, trigger, actor, fields in [
                (1, "begin_review", "bawaslu:kab-bima@andi", {}), (2, "register", "bawaslu:kab-bima@andi", {}),
                (3, "forward", "bawaslu:kab-bima@andi", {}), (4, "begin_examination", "kasn@rina", {}),
                (6, "recommend", "kasn@rina", {"track": "discipline", "sanction": "written_reprimand"})]:
            app.advance(case_id, trigger, actor, occurred_at=t0 + timedelta(days=day),
                        note=PLANTED["note"] if trigger == "recommend" else None, **fields)
        ReadSide(app).catch_up()
    return str(case_id)


PUBLIC_PAGES = ["/", "/?as_of=2020-09-30", "/ppk", "/ppk?sort=received&dir=desc", "/ppk.csv", "/overdue",
                "/integrity", f"/ppk/{PLANTED['agency']}", "/ppk/pemkab-bima", "/signin"]


def secrets_in(text: str) -> list[str]:
    """The planted values that appear in `text` (a public page must show none)."""
    return [value for key, value in PLANTED.items() if key != "agency" and value in text] + \
        [value for value in ("&lt;script&gt;", "Planted") if value in text]
