"""The audits notebooks and the dashboard share (projections.legality, duties, blocking, published): each finds
what it should on a real history, and finds a planted fault."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from projections.audits import case_event_frame, case_summary_frame
from projections.blocking import blocking_curve
from projections.duties import officers_in_two_roles, sanctions_by_another_ppk
from projections.legality import transition_violations
from projections.published import compare_curve
from tests.conftest import T0, TO_RECOMMENDED, new_case, walk


def test_legal_history_passes_and_a_forged_step_or_role_is_caught(app):
    case_id = new_case(app)
    walk(app, case_id, TO_RECOMMENDED)
    events = case_event_frame(app)
    assert transition_violations(events).empty
    forged = events.copy()
    forged.loc[1, "state_after"] = "recommended"  # begin_review does not lead there
    forged.loc[2, "actor_role"] = "ppk"  # a PPK may not register
    found = transition_violations(forged)
    assert list(zip(found["version"], found["problem"])) == [(2, "not a transition"), (3, "role not allowed")]


def test_an_officer_in_two_roles_and_a_sanction_by_another_ppk(app):
    case_id = new_case(app)
    at = walk(app, case_id, [("begin_review", "bawaslu:kab-bima@rina", {}), *TO_RECOMMENDED[1:]])
    app.advance(case_id, "impose_sanction", "ppk:pemkab-bima@rina", occurred_at=at + timedelta(days=1),
                sanction="oral_reprimand", decree_number="800/1/2024")
    events, cases = case_event_frame(app), case_summary_frame(app)
    flagged = officers_in_two_roles(events)
    assert list(flagged["actor_id"]) == ["rina"] and flagged["roles"].iloc[0] == ["bawaslu", "ppk"]
    assert sanctions_by_another_ppk(events, cases).empty
    moved = cases.assign(ppk="pemkab-dompu", agency="pemkab-dompu")
    assert list(sanctions_by_another_ppk(events, moved)["case_id"]) == [str(case_id)]


def test_blocking_curve_counts_blocks_until_unblocked_or_sanctioned(app):
    ids = [new_case(app) for _ in range(3)]
    at = {case_id: walk(app, case_id, TO_RECOMMENDED) for case_id in ids}
    for k, case_id in enumerate(ids):
        app.advance(case_id, "block_personnel_data", "bkn", occurred_at=at[case_id] + timedelta(days=2 + k))
    app.advance(ids[0], "unblock_personnel_data", "bkn", occurred_at=at[ids[0]] + timedelta(days=10))
    app.advance(ids[1], "impose_sanction", "ppk:pemkab-bima", occurred_at=at[ids[1]] + timedelta(days=11),
                sanction="oral_reprimand", decree_number="800/2/2024")
    curve = blocking_curve(case_event_frame(app))
    assert list(curve["blocked"]) == [1, 2, 3, 2, 2]  # the sanction leaves the block in place
    assert list(curve["awaiting"]) == [1, 2, 3, 2, 1]  # … but no longer awaiting the PPK
    assert list(curve["ever_blocked"]) == [1, 2, 3, 3, 3]
    assert curve["blocked"].iloc[-1] == case_summary_frame(app)["personnel_data_blocked"].sum()


def test_compare_curve_against_published_points(app):
    ids = [new_case(app, at=T0 + timedelta(days=k)) for k in range(4)]
    walk(app, ids[0], TO_RECOMMENDED)
    points = [(T0.date() + timedelta(days=1), 2, 0, 0), ("2024-10-20", 8, 2, 0)]
    check = compare_curve(app, "pilkada-2024", points, scale=0.5)
    got = check.set_index(["step"]).groupby(level=0)["store"].apply(list).to_dict()
    assert got == {"reported": [2, 4], "recommended": [0, 1], "sanctioned": [0, 0]}
    assert check.loc[check["step"] == "reported", "published"].tolist() == [1, 4]
    assert check["difference"].iloc[0] == 1.0 and pd.isna(check["difference"].iloc[2])


def test_the_path_diagram_is_an_svg_of_the_states_visited_without_script():
    from projections.path_diagram import _stops, path_svg

    path = [("new", "report", "reported"), ("reported", "begin_review", "under_review"),
            ("under_review", "erase_reporter", "under_review"), ("under_review", "register", "registered")]
    assert [(s["state"], s["via"], s["inside"]) for s in _stops(path)] == [
        ("new", None, []), ("reported", "report", []), ("under_review", "begin_review", ["erase_reporter"]),
        ("registered", "register", [])]
    svg = path_svg(path, current="registered")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<script" not in svg
    assert ">under_review<" in svg and "erase_reporter" in svg and ">register<" in svg  # text, not glyphs
