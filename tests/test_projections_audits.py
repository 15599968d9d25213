"""Each audit on a small fixed scenario, against hand-computed values (SQLite and PostgreSQL).

Five cases, T0 = 2024-10-01 09:00 WIB (bkn-2024 era), each step recorded when it occurred except E:
  A  pemkab-bima  report d0 … recommend (written_reprimand, 11) d5, impose oral_reprimand (10) d9
  B  pemkab-bima  same to d5, impose written_reprimand d21 (PPK deadline 2024-10-21 00:00 WIB: missed)
  C  pemkab-bima  same to d5, mark_overdue d22 — still pending
  D  pemkot-kediri report d0, begin_review d1, register d2 — Bawaslu deadline 2024-10-09 00:00 WIB passes
  E  pemkab-bima  reported as of d0 but recorded at d25: backdated
Case i's times are shifted by i minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from projections import audits
from projections.places import with_names
from tests.conftest import T0, WIB, report_fields

NOW = datetime(2024, 11, 1, 0, 0, tzinfo=WIB)
MIN = 1 / 1440
SANCTION = "impose_sanction"


@pytest.fixture
def scenario(clocked_app, clock):
    app = clocked_app
    plan = []  # (at, case, trigger, actor, fields)
    places = {"A": "pemkab-bima", "B": "pemkab-bima", "C": "pemkab-bima", "D": "pemkot-kediri"}
    for i, name in enumerate("ABCD"):
        shift = timedelta(minutes=i)
        plan.append((T0 + shift, name, "report", None, {}))
        steps = [("begin_review", "bawaslu:ri", {}), ("register", "bawaslu:ri", {})]
        if name != "D":
            steps += [("forward", "bawaslu:ri", {}), ("begin_examination", "bkn", {}),
                      ("recommend", "bkn", {"track": "discipline", "sanction": "written_reprimand"})]
        for day, (trigger, actor, fields) in enumerate(steps, start=1):
            plan.append((T0 + timedelta(days=day) + shift, name, trigger, actor, fields))
    plan.append((T0 + timedelta(days=9), "A", SANCTION, "ppk:pemkab-bima",
                 {"sanction": "oral_reprimand", "decree_number": "800/1"}))
    plan.append((T0 + timedelta(days=21, minutes=1), "B", SANCTION, "ppk:pemkab-bima",
                 {"sanction": "written_reprimand", "decree_number": "800/2"}))
    plan.append((T0 + timedelta(days=22, minutes=2), "C", "mark_overdue", "system", {}))
    ids = {}
    for at, name, trigger, actor, fields in sorted(plan, key=lambda p: p[0]):
        clock.at = at
        if trigger == "report":
            place = places[name]
            where = dict(agency=place, province="prov-ntb", regency="kab-bima") if place == "pemkab-bima" else \
                dict(agency=place, province="prov-jatim", regency="kota-kediri")
            ids[name] = app.report("reporter", occurred_at=at, **report_fields(**where))
        else:
            app.advance(ids[name], trigger, actor, occurred_at=at, **fields)
    clock.at = T0 + timedelta(days=25)
    ids["E"] = app.report("reporter", occurred_at=T0, **report_fields())
    clock.at = NOW
    return app, {name: str(case_id) for name, case_id in ids.items()}


def test_responsiveness(scenario):
    app, _ = scenario
    frame = audits.responsiveness(app, now=NOW)
    assert len(frame) == 1
    row = frame.iloc[0].to_dict()
    assert row["ppk"] == "pemkab-bima"
    assert (row["received"], row["followed_up"], row["pending"], row["closed_otherwise"], row["overdue"],
            row["missed_deadline"], row["blocked"], row["lighter"]) == (3, 2, 1, 0, 1, 1, 0, 1)
    assert row["follow_up_rate"] == pytest.approx(2 / 3)
    assert row["median_days"] == pytest.approx(10.0)  # A 4 days, B 16 days
    assert row["p90_days"] == pytest.approx(4 + 0.9 * 12)
    assert row["share_lighter"] == pytest.approx(0.5)


def test_funnel(scenario):
    app, _ = scenario
    row = audits.funnel(app).iloc[0]
    assert [row[s] for s in audits.FUNNEL_STEPS] == [5, 4, 3, 3, 2]
    assert (row["registered_rate"], row["forwarded_rate"], row["recommended_rate"]) == (0.8, 0.75, 1.0)
    assert row["sanctioned_rate"] == pytest.approx(2 / 3) and row["overall_rate"] == pytest.approx(0.4)
    by = audits.funnel(app, by="province").set_index("province")
    assert list(by.loc["prov-jatim", list(audits.FUNNEL_STEPS)]) == [1, 1, 0, 0, 0]
    assert list(by.loc["prov-ntb", list(audits.FUNNEL_STEPS)]) == [4, 3, 3, 3, 2]
    curve = audits.funnel(app, as_of=["2024-10-03", "2024-10-10", "2024-10-31"]).set_index("as_of")
    assert list(curve.loc["2024-10-03", list(audits.FUNNEL_STEPS)]) == [5, 4, 0, 0, 0]
    assert list(curve.loc["2024-10-10", list(audits.FUNNEL_STEPS)]) == [5, 4, 3, 3, 1]
    assert list(curve.loc["2024-10-31", list(audits.FUNNEL_STEPS)]) == [5, 4, 3, 3, 2]
    recorded = audits.funnel(app, as_of="2024-10-03", recorded=True).iloc[0]
    assert recorded["reported"] == 4  # E was only recorded on 2024-10-26


def test_stage_durations(scenario):
    app, _ = scenario
    frame = audits.stage_durations(app, now=NOW).set_index("stage")
    assert list(frame.index) == ["intake", "bawaslu_handling", "commission_examination", "ppk_follow_up"]
    assert frame.loc["intake", "cases"] == 4 and frame.loc["intake", "median_days"] == 2.0
    assert frame.loc["intake", "with_deadline"] == 0 and pd_isna(frame.loc["intake", "share_over_deadline"])
    assert (frame.loc["bawaslu_handling", "cases"], frame.loc["bawaslu_handling", "median_days"]) == (3, 1.0)
    assert frame.loc["commission_examination", "max_days"] == 2.0
    ppk = frame.loc["ppk_follow_up"]
    assert (ppk["cases"], ppk["mean_days"], ppk["max_days"], ppk["with_deadline"], ppk["over_deadline"]) == \
        (2, 10.0, 16.0, 2, 1)
    assert ppk["share_over_deadline"] == 0.5
    with_open = audits.stage_durations(app, now=NOW, include_open=True).set_index("stage")
    # D's open Bawaslu stint (2024-10-03 09:03 to NOW) went past its deadline
    assert with_open.loc["bawaslu_handling", "over_deadline"] == 1
    assert with_open.loc["ppk_follow_up", "cases"] == 3


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_overdue(scenario):
    app, ids = scenario
    frame = audits.overdue(app, now=NOW)
    assert list(frame["case_id"]) == [ids["D"], ids["C"]]
    assert list(frame["days_overdue"]) == [pytest.approx(23.0), pytest.approx(11.0)]
    assert list(frame["responsible"]) == ["bawaslu:kota-kediri", "ppk:pemkab-bima"]
    assert list(frame["marked"]) == [False, True]
    assert list(frame["state"]) == ["under_examination", "overdue"]


def test_backdating(scenario):
    app, ids = scenario
    frame = audits.backdating(app)
    assert list(frame["kind"]) == ["late_recording", "out_of_order"]
    assert set(frame["case_id"]) == {ids["E"]}
    assert frame.iloc[0]["lag_days"] == pytest.approx(25.0)
    assert frame.iloc[1]["earlier_by_days"] == pytest.approx(22 + 2 * MIN)
    events = audits.case_event_frame(app)
    mark = events[events["trigger"] == "mark_overdue"]["notification_id"].iloc[0]
    assert frame.iloc[1]["after_notification_id"] == mark
    assert audits.backdating(app, threshold_days=30).empty


def test_portfolio_as_of(scenario):
    app, ids = scenario
    frame = audits.portfolio_as_of(app, "2024-10-04").set_index("case_id")
    assert frame["state"].to_dict() == {ids["A"]: "forwarded", ids["B"]: "forwarded", ids["C"]: "forwarded",
                                        ids["D"]: "under_examination", ids["E"]: "reported"}
    assert len(audits.portfolio_as_of(app, "2024-10-04", recorded=True)) == 4
    counts = audits.portfolio(app, ["2024-09-30", "2024-11-01"]).set_index("as_of")
    assert counts.loc["2024-09-30"].sum() == 0
    assert (counts.loc["2024-11-01", "sanctioned"], counts.loc["2024-11-01", "overdue"],
            counts.loc["2024-11-01", "under_examination"], counts.loc["2024-11-01", "reported"]) == (2, 1, 1, 1)


def test_cutoffs_at_the_boundary(scenario):
    """Cutoffs are compared in SQL: a datetime is inclusive to the microsecond (naive: local time), a date
    ends at the local midnight after it."""
    app, ids = scenario
    recommended = T0 + timedelta(days=5, minutes=1)  # B's recommendation (A's is a minute earlier, C's later)
    tick = timedelta(microseconds=1)
    counts = [audits.funnel(app, as_of=when).iloc[0]["recommended"] for when in
              (recommended, recommended - tick, recommended.replace(tzinfo=None), "2024-10-05", "2024-10-06")]
    assert counts == [2, 1, 2, 0, 3]
    due = datetime(2024, 10, 9, 0, 0, tzinfo=WIB)  # D's Bawaslu deadline
    at_due = audits.overdue(app, now=due)
    assert list(at_due["case_id"]) == [ids["D"]] and list(at_due["days_overdue"]) == [0.0]
    assert audits.overdue(app, now=due - tick).empty


def test_stage_stints(scenario):
    app, ids = scenario
    stints = audits.stage_stints(app, now=NOW)
    d = stints[stints["case_id"] == ids["D"]].reset_index(drop=True)
    assert list(d["stage"]) == ["intake", "bawaslu_handling"] and list(d["open"]) == [False, True]
    assert d.loc[0, "left_at"] == d.loc[1, "entered_at"] == T0 + timedelta(days=2, minutes=3)
    assert d.loc[0, "days"] == 2.0 and d.loc[1, "over_deadline"]
    a = stints[stints["case_id"] == ids["A"]]
    assert list(a["stage"]) == ["intake", "bawaslu_handling", "commission_examination", "ppk_follow_up"]
    assert list(a["days"]) == [2.0, 1.0, 2.0, 4.0] and not a["open"].any()
    assert list(stints["case_id"]) == sorted(stints["case_id"])  # by case, then entry


def test_no_match_keeps_the_columns_dtypes(scenario):
    """Cases are filtered in SQL; when none match, the columns keep the dtypes the whole table gives them."""
    app, _ = scenario
    some, none = audits.overdue(app, now=NOW), audits.overdue(app, now=T0)
    assert none.empty
    read = ["case_id", "state", "stage", "deadline", "due_at", "era", "province", "regency", "ppk", "escalated"]
    assert none[read].dtypes.to_dict() == some[read].dtypes.to_dict()


def durations_from_stints(app, now, include_open: bool, by: list[str]):
    """stage_durations as it was computed before case_summary kept stints: from every stint of every case."""
    import pandas as pd

    stints = audits.stage_stints(app, now=now)
    if not include_open:
        stints = stints[~stints["open"]]
    if by:
        stints = stints.merge(audits.case_summary_frame(app)[["case_id", *by]], on="case_id", how="left")
    stints = stints.assign(has_deadline=stints["due_at"].notna(), over=stints["over_deadline"].eq(True))
    per_case = stints.groupby(["stage", *by, "case_id"], observed=True).agg(
        days=("days", "sum"), has_deadline=("has_deadline", "any"), over=("over", "any")).reset_index()
    out = per_case.groupby(["stage", *by], observed=True).agg(
        cases=("case_id", "size"), mean_days=("days", "mean"), median_days=("days", "median"),
        p90_days=("days", lambda s: s.quantile(0.9)), max_days=("days", "max"),
        with_deadline=("has_deadline", "sum"), over_deadline=("over", "sum")).reset_index()
    out[["cases", "with_deadline", "over_deadline"]] = out[["cases", "with_deadline", "over_deadline"]].astype("int64")
    out["share_over_deadline"] = (out["over_deadline"] / out["with_deadline"]).where(out["with_deadline"] > 0)
    out["stage"] = out["stage"].astype(str)
    return with_names(pd.DataFrame(out))


@pytest.mark.parametrize("include_open", [False, True])
def test_stage_durations_from_the_summary_equal_those_from_every_stint(db_url, include_open):
    """On the demo's varied histories (returns to Bawaslu, corrections, overdue and open cases), the stints
    case_summary keeps per stage give what the stints read from every event give."""
    import pandas as pd

    from demo import generator
    from workflow.application import Jejak

    with Jejak(db_url) as app:
        generator.generate(app, "all", seed=3, scale=0.05, progress=False)
        stints = audits.case_summary_frame(app).filter(like="stints_")
        assert (stints > 1).any(axis=None), "no case went through a stage twice: a weak test"
        now = datetime(2021, 1, 15, tzinfo=WIB)  # cases of 2024 are "open" here too: any `now` must agree
        for by in ([], ["province"], ["agency_type", "election"]):
            got = audits.stage_durations(app, now=now, include_open=include_open, by=by)
            assert len(got) >= 4
            pd.testing.assert_frame_equal(got, durations_from_stints(app, now, include_open, by),
                                          check_exact=False, rtol=1e-9, check_dtype=False)


@pytest.mark.parametrize("threshold_days", [-1, 20])  # every event flagged; only E's report
def test_backdating_reports_the_flagged_events_own_columns(scenario, threshold_days):
    """Whether the flagged events are few (read one by one) or most of the log (read at once), each row
    carries the columns of its own event."""
    app, _ = scenario
    frame = audits.backdating(app, threshold_days=threshold_days, order_tolerance_days=30)
    events = audits.case_event_frame(app).set_index("notification_id")
    late = frame[frame["kind"] == "late_recording"]
    lag = (events["recorded_at"] - events["occurred_at"]) / pd.Timedelta(days=1)
    assert sorted(late["notification_id"]) == sorted(lag[lag > threshold_days].index)
    assert len(late) == (len(events) if threshold_days < 0 else 1)
    for name in ("case_id", "version", "trigger", "actor_role", "actor_scope", "occurred_at", "recorded_at"):
        assert list(frame[name]) == list(events.loc[frame["notification_id"], name]), name


def test_every_audit_gives_the_same_frame_through_the_helper_process_as_row_by_row(tmp_path, monkeypatch):
    """A large SQLite store is read through ADBC in a helper process, a small one row by row: on the demo's
    varied histories each audit gives the same frame either way, dtypes included."""
    from projections import frames
    from demo import generator
    from workflow.application import Jejak

    now = datetime(2021, 1, 15, tzinfo=WIB)
    audits_to_run = {
        "responsiveness": lambda app: audits.responsiveness(app, now=now),
        "funnel": lambda app: audits.funnel(app, by="province"),
        "stage_stints": lambda app: audits.stage_stints(app, now=now),
        "stage_durations": lambda app: audits.stage_durations(app, now=now, include_open=True),
        "overdue": lambda app: audits.overdue(app, now=now),
        "backdating": lambda app: audits.backdating(app, threshold_days=0.5),
        "portfolio_as_of": lambda app: audits.portfolio_as_of(app, now),
        "case_event_frame": lambda app: audits.case_event_frame(app),
    }
    with Jejak(f"sqlite:///{tmp_path / 'jejak.db'}") as app:
        generator.generate(app, "all", seed=3, scale=0.05, progress=False)
        row_by_row = {name: run(app) for name, run in audits_to_run.items()}
        monkeypatch.setattr(frames, "ARROW_READER_MIN_EVENTS", 0)
        monkeypatch.setattr(frames, "_row_columns", lambda *args: pytest.fail("read row by row"))
        for name, run in audits_to_run.items():
            assert len(row_by_row[name]) > 0, f"{name}: an empty frame is a weak test"
            pd.testing.assert_frame_equal(run(app), row_by_row[name], obj=name)
