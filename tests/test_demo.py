"""The demo dataset: deterministic, calibrated on the published 2020 figures, and showing every pattern the
notebooks look for. Generated once per module, on SQLite only (a full 2,034-case run takes a few seconds)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

import pytest

from demo import calibration, generator, published
from workflow.application import Jejak
from workflow.definitions import get_era
from workflow.errors import InvalidField


def read_events(app: Jejak) -> list:
    """Every stored event, in notification order, as domain events."""
    events, start = [], 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=1000)
        if not page:
            return events
        events.extend(app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1


def by_case(events) -> dict:
    cases = defaultdict(list)
    for e in events:
        cases[e.originator_id].append(e)
    return cases


def end_of(day) -> datetime:
    return datetime.combine(day, time(0), tzinfo=calibration.WIB) + timedelta(days=1)


@pytest.fixture(scope="module")
def pilkada_2020(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "jejak.db"
    with Jejak(f"sqlite:///{path}", clock=generator.DemoClock()) as app:
        summary = generator.generate(app, "pilkada-2020", seed=0, scale=1.0, progress=False)
        print(f"\npilkada-2020 at scale 1: {summary['seconds']} s")
        yield app, summary, by_case(read_events(app))


def first(events, trigger):
    return next((e.occurred_at for e in events if e.trigger == trigger), None)


def test_same_seed_same_events(tmp_path):
    def run(name: str, seed: int) -> dict:
        with Jejak(f"sqlite:///{tmp_path / name}", clock=generator.DemoClock()) as app:
            generator.generate(app, "all", seed=seed, scale=0.05, progress=False)
            return {case_id: [(e.trigger, e.occurred_at, e.timestamp, str(e.actor), e.state) for e in events]
                    for case_id, events in by_case(read_events(app)).items()}

    a, b, other = run("a.db", 7), run("b.db", 7), run("c.db", 8)
    assert a == b
    assert len(a) == round(2034 * 0.05) + round(1158 * 0.05)
    assert a != other


def test_final_funnel_matches_published_shares(pilkada_2020):
    _, _, cases = pilkada_2020
    reported = len(cases)
    recommended = sum(1 for events in cases.values() if first(events, "recommend"))
    followed_up = sum(1 for events in cases.values() if first(events, "impose_sanction"))
    assert abs(reported - 2034) <= 0.02 * 2034
    assert abs(recommended / reported - 0.785) <= 0.02
    assert abs(followed_up / recommended - 0.885) <= 0.02


def test_cumulative_curve_within_ten_percent(pilkada_2020):
    _, _, cases = pilkada_2020
    for day, *points in published.PUBLISHED_2020_CURVE:
        cut = end_of(day)
        for trigger, expected in zip(("report", "recommend", "impose_sanction"), points):
            got = sum(1 for events in cases.values() if (t := first(events, trigger)) and t < cut)
            assert abs(got - expected) <= 0.10 * expected, (day, trigger, got, expected)


def test_shares_and_hotspots(pilkada_2020):
    _, _, cases = pilkada_2020
    reports = [events[0] for events in cases.values()]
    n = len(reports)
    for category, share in published.PUBLISHED_CATEGORY_SHARES.items():
        assert abs(sum(r.category == category for r in reports) / n - share) <= 0.01
    for group, share in published.PUBLISHED_POSITION_SHARES.items():
        assert abs(sum(r.terlapor["position_group"] == group for r in reports) / n - share) <= 0.01
    provinces = defaultdict(int)
    regencies = defaultdict(int)
    for r in reports:
        provinces[r.region["province"]] += 1
        regencies[r.region["regency"]] += 1
    assert sorted(provinces, key=provinces.get, reverse=True)[:5] == list(published.PUBLISHED_2020_PROVINCES)
    assert sorted(regencies, key=regencies.get, reverse=True)[:5] == list(published.PUBLISHED_2020_REGENCIES)


def test_every_pattern_occurs(pilkada_2020):
    _, summary, cases = pilkada_2020
    era = get_era("skb-2020")
    overdue = blocked_then_unblocked = lighter = backdated = escalated = never_acted = 0
    for events in cases.values():
        triggers = [e.trigger for e in events]
        overdue += any(e.trigger == "mark_overdue" and e.state == "overdue" for e in events)
        if "block_personnel_data" in triggers and "unblock_personnel_data" in triggers:
            blocked_then_unblocked += triggers.index("block_personnel_data") < triggers.index(
                "unblock_personnel_data")
        recommended = next((e.sanction for e in events if e.trigger == "recommend"), None)
        imposed = next((e.sanction for e in events if e.trigger == "impose_sanction"), None)
        if imposed:
            lighter += era.all_sanctions[imposed].severity < era.all_sanctions[recommended].severity
        backdated += any(e.timestamp - e.occurred_at >= timedelta(days=7) for e in events)
        escalated += "escalate" in triggers
        never_acted += events[-1].state == "overdue" and not any(e.actor["role"] == "ppk" for e in events)
        for earlier, later in zip(events, events[1:]):  # recorded times never go backwards within a case
            assert earlier.timestamp <= later.timestamp
        assert all(e.timestamp >= e.occurred_at for e in events)
    assert min(overdue, blocked_then_unblocked, lighter, backdated, escalated, never_acted) >= 1
    # backdated entries are a few percent, not the rule
    assert backdated <= 0.1 * len(cases)
    assert len(summary["elections"]["pilkada-2020"]["slowest_ppks"]) == 5


def test_actors_are_realistic(pilkada_2020):
    _, _, cases = pilkada_2020
    scopes = defaultdict(set)
    for events in cases.values():
        for e in events:
            scopes[e.actor["role"]].add(e.actor["scope"])
            if e.trigger == "mark_overdue":
                assert e.actor["role"] == "system"
    assert {s.split("-")[0] for s in scopes["bawaslu"]} == {"kab", "kota", "prov"}
    assert {s.split("-")[0] for s in scopes["ppk"]} >= {"pemkab", "pemkot", "pemprov"}
    assert set(scopes) <= {"reporter", "bawaslu", "kasn", "bkn", "ppk", "system"}
    assert "kasn" in scopes and "bkn" in scopes


def test_refuses_a_second_run(pilkada_2020):
    app, _, _ = pilkada_2020
    assert generator.has_demo_data(app, "pilkada-2020")
    with pytest.raises(InvalidField, match="already holds"):
        generator.generate(app, "pilkada-2020", progress=False)


def test_pilkada_2024_as_of_4_december(tmp_path):
    with Jejak(f"sqlite:///{tmp_path / 'jejak.db'}", clock=generator.DemoClock()) as app:
        summary = generator.generate(app, "pilkada-2024", seed=1, scale=0.25, progress=False)
        cases = by_case(read_events(app))
    parts = summary["elections"]["pilkada-2024"]["published_parts"]
    assert len(cases) == round(1158 * 0.25)
    for part in parts.values():
        assert part["cases"] == part["published_scaled"]
    states = defaultdict(int)
    for events in cases.values():
        assert all(e.workflow_version == "bkn-2024@1" for e in events)
        assert events[-1].timestamp <= calibration.AS_OF_2024
        states[events[-1].state] += 1
    assert states["forwarded"] + states["under_commission_examination"] == parts["awaiting_bkn"]["cases"]


def test_cli_summary(tmp_path, capsys):
    from entrypoints.cli.main import main
    db = f"sqlite:///{tmp_path / 'jejak.db'}"
    assert main(["--db", db, "demo", "--election", "pilkada-2024", "--scale", "0.02", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "pilkada-2024" in out and "funnel" in out
    assert f"JEJAK_DB=sqlite:///{tmp_path / 'jejak.db'} " in out and "jupyter lab notebooks/" in out
    assert main(["demo", "--election", "pilkada-2024", "--scale", "0.02", "--db", db]) == 1
    assert "already holds" in capsys.readouterr().err


def test_cli_summary_names_the_five_slowest_ppks(tmp_path, capsys):
    from entrypoints.cli.main import main

    db = f"sqlite:///{tmp_path / 'jejak.db'}"
    assert main(["--db", db, "demo", "--election", "pilkada-2020", "--scale", "0.1", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if "slowest PPKs" in line)
    slowest = lines[start + 1:start + 6]
    assert all("days" in line and "followed up" in line for line in slowest) and not lines[start + 6].strip()
    days = [float(line.split()[1]) for line in slowest]
    assert days == sorted(days, reverse=True)
