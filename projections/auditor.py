"""The auditor's notebook API, in one line::

    from projections.auditor import Auditor; a = Auditor()          # JEJAK_DB, or Auditor("postgresql://…")

    a.cases()                       # one row per case (categoricals, local tz-aware datetimes)
    a.history(case_id)              # a case's events as a DataFrame
    a.case(case_id)                 # renders in Jupyter as its timeline and current state
    a.case_as_of(case_id, "2020-09-30")
    a.portfolio_as_of("2020-09-30"); a.portfolio(["2020-09-30", "2020-12-31"])
    a.responsiveness(); a.funnel(by="province", as_of=[...]); a.stage_durations(); a.overdue(); a.backdating()
    a.verify()                      # tamper evidence
    a.workflow("bkn-2024")          # renders as a mermaid state diagram

Every call catches the read models up first, so a notebook never sees stale data.
"""

from __future__ import annotations

import html
from datetime import datetime

import pandas as pd

from projections import audits
from projections.integrity import verify as _verify
from projections.places import name as official_name
from projections.readside import ReadSide
from workflow import diagram
from workflow.definitions import ERAS, NEW, get_era

__all__ = ["Auditor", "CaseView", "WorkflowDiagram"]


def _localize(frame: pd.DataFrame, tz) -> pd.DataFrame:
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert(tz)
    return frame


class Auditor:
    """Read-only access to the case records for audits and notebooks."""

    def __init__(self, db: str | None = None, *, app=None, tz: str | None = None):
        from workflow.application import Jejak

        self._owns_app = app is None
        self.app = app if app is not None else Jejak(db)
        self.read_side = ReadSide(self.app)
        self.tz = tz or self.app.settings.timezone

    def close(self) -> None:
        if self._owns_app:
            self.app.close()

    def __enter__(self) -> Auditor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def refresh(self) -> int:
        """Catch the read models up (every call does this anyway); returns how many events were applied."""
        return self.read_side.catch_up()

    def _local(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _localize(frame, self.tz)

    # --- records -----------------------------------------------------------------------------------

    def cases(self, state: str | None = None) -> pd.DataFrame:
        frame = audits.case_summary_frame(self.read_side, categorical=True)
        if state is not None:
            frame = frame[frame["state"] == state].reset_index(drop=True)
        return self._local(frame)

    def events(self, case_id=None) -> pd.DataFrame:
        return self._local(audits.case_event_frame(self.read_side, case_id, categorical=True))

    def history(self, case_id) -> pd.DataFrame:
        """A case's events in order, as a DataFrame."""
        from workflow.application import as_case_id

        case_id = as_case_id(case_id)
        frame = self.events(case_id)
        if frame.empty:
            from workflow.errors import CaseNotFound

            raise CaseNotFound(case_id)
        return frame.sort_values("version").reset_index(drop=True)

    def case(self, case_id, version: int | None = None) -> CaseView:
        """The case now (or at a version), renderable in Jupyter."""
        case = self.app.get_case(case_id, version=version)
        history = self.history(case_id)
        if version is not None:
            history = history[history["version"] <= version].reset_index(drop=True)
        return CaseView(case, history)

    def case_as_of(self, case_id, when, recorded: bool = False) -> CaseView | None:
        """The case as it stood at a date (end of that local day) or datetime; None if not reported yet."""
        instant, inclusive = audits._cutoff(self.read_side, when)
        moment = instant.to_pydatetime()
        if not inclusive:  # the end of a day, exclusive: the last microsecond before it
            moment = moment - pd.Timedelta(microseconds=1).to_pytimedelta()
        case = self.app.case_as_of(case_id, moment, recorded=recorded)
        if case is None:
            return None
        history = self.history(case_id)
        return CaseView(case, history[history["version"] <= case.version].reset_index(drop=True), as_of=when)

    def portfolio_as_of(self, when, recorded: bool = False) -> pd.DataFrame:
        return self._local(audits.portfolio_as_of(self.read_side, when, recorded))

    def portfolio(self, dates, recorded: bool = False) -> pd.DataFrame:
        return audits.portfolio(self.read_side, dates, recorded)

    # --- audits ------------------------------------------------------------------------------------

    def responsiveness(self, **options) -> pd.DataFrame:
        return self._local(audits.responsiveness(self.read_side, **options))

    def funnel(self, **options) -> pd.DataFrame:
        return self._local(audits.funnel(self.read_side, **options))

    def stage_durations(self, **options) -> pd.DataFrame:
        return self._local(audits.stage_durations(self.read_side, **options))

    def stage_stints(self, **options) -> pd.DataFrame:
        return self._local(audits.stage_stints(self.read_side, **options))

    def overdue(self, **options) -> pd.DataFrame:
        return self._local(audits.overdue(self.read_side, **options))

    def backdating(self, **options) -> pd.DataFrame:
        return self._local(audits.backdating(self.read_side, **options))

    def verify(self, digest: str | None = None):
        return _verify(self.app, digest)

    def workflow(self, era: str | None = None, state: str | None = None, path=None) -> WorkflowDiagram:
        """The workflow of an era (default: the latest) as a state diagram; `state` is drawn as the current
        one and the states in `path` (e.g. a case's history) as visited."""
        era_id = era or max(ERAS.values(), key=lambda e: e.effective_from).id
        return WorkflowDiagram(era_id, state, path)

    def __repr__(self) -> str:
        return f"Auditor({self.app.url.render_as_string(hide_password=True)!r})"


class WorkflowDiagram:
    """An era's rule table as a mermaid state diagram (renders in Jupyter and on GitHub)."""

    def __init__(self, era_id: str, state: str | None = None, path=None):
        self.era = get_era(era_id)
        self.state = state
        self.path = [str(s) for s in path] if path is not None else []  # visited states, drawn as such

    @property
    def mermaid(self) -> str:
        text = diagram.mermaid(self.era, self.state or NEW)
        for visited in dict.fromkeys(self.path):
            if visited != (self.state or NEW):
                text = text.replace(f"Class {visited} s_default", f"Class {visited} s_previous")
        return text

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid}\n```"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        text = self.mermaid
        return {"text/vnd.mermaid": text, "text/markdown": f"```mermaid\n{text}\n```", "text/plain": text}

    def __str__(self) -> str:
        return self.mermaid


class CaseView:
    """A case's current state and timeline; renders as HTML in Jupyter. No reporter identity is shown."""

    def __init__(self, case, history: pd.DataFrame, as_of=None):
        self.case = case
        self.history = history
        self.as_of = as_of

    @property
    def state(self) -> str:
        return self.case.state

    def _facts(self) -> list[tuple[str, str]]:
        c = self.case
        region = [f"{c.region[k]} ({c.region[f'{k}_code']})" if c.region.get(f"{k}_code") else c.region.get(k)
                  for k in ("province", "regency")]  # as reported, with the codes of that day
        facts = [("state", c.state), ("version", str(c.version)), ("era", c.era),
                 ("agency", _named(c.terlapor.get("agency"))), ("position group", c.terlapor.get("position_group")),
                 ("PPK", _named(c.ppk)), ("region", " / ".join(x for x in region if x)),
                 ("category", c.category), ("election", f"{c.election['kind']}-{c.election['year']}")]
        if c.deadline:
            facts.append(("deadline", f"{c.deadline} due {_due(c.due_at)}"
                                      + (" (missed)" if c.deadline_missed else "")))
        if c.recommendation:
            facts.append(("recommended", f"{c.recommendation['track']}: {c.recommendation['sanction']}"))
        if c.sanction:
            facts.append(("imposed", f"{c.sanction['track']}: {c.sanction['sanction']} "
                                     f"(decree {c.sanction['decree_number']})"))
        if c.personnel_data_blocked:
            facts.append(("personnel data", "blocked by BKN"))
        if c.escalations:
            facts.append(("escalated to", ", ".join(c.escalations)))
        return facts

    def _repr_html_(self) -> str:
        e = html.escape
        title = f"Case {e(str(self.case.id))}" + (f" as of {e(str(self.as_of))}" if self.as_of is not None else "")
        facts = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(str(v))}</td></tr>"
                        for k, v in self._facts())
        rows = []
        for r in self.history.itertuples(index=False):
            actor = str(r.actor_role) + (f":{r.actor_scope}" if isinstance(r.actor_scope, str) else "") + \
                (f"@{r.actor_id}" if isinstance(r.actor_id, str) else "")
            recorded = "" if pd.isna(r.recorded_at) else r.recorded_at.strftime("%Y-%m-%d %H:%M")
            rows.append("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in (
                r.version, r.occurred_at.strftime("%Y-%m-%d %H:%M %Z"), recorded, r.trigger, actor,
                f"{r.state_before} → {r.state_after}", "" if r.note is None or pd.isna(r.note) else r.note)) + "</tr>")
        header = "".join(f"<th>{h}</th>" for h in ("v", "occurred", "recorded", "trigger", "actor", "state", "note"))
        return (f"<div><h4>{title}</h4><table>{facts}</table>"
                f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _repr_markdown_(self) -> str:
        lines = [f"**Case {self.case.id}** — {self.case.state}", "",
                 "| v | occurred | trigger | state |", "|---|---|---|---|"]
        lines += [f"| {r.version} | {r.occurred_at} | {r.trigger} | {r.state_before} → {r.state_after} |"
                  for r in self.history.itertuples(index=False)]
        return "\n".join(lines)

    def workflow(self) -> WorkflowDiagram:
        """The case's era as a state diagram: its current state drawn as active, the states it passed through
        as visited."""
        path = [NEW, *self.history["state_after"].astype(str)]
        return WorkflowDiagram(self.case.era, self.case.state, path)

    def path_diagram(self):
        """The path this case took, as an SVG (projections.path_diagram): readable, and needs no script."""
        from projections.path_diagram import PathDiagram

        return PathDiagram(self.path, self.case.state)

    @property
    def path(self) -> list[tuple[str, str, str]]:
        """The transitions the case went through: (state before, trigger, state after), internal ones too."""
        return [(str(r.state_before), str(r.trigger), str(r.state_after))
                for r in self.history.itertuples(index=False)]

    def __repr__(self) -> str:
        return f"<Case {self.case.id} {self.case.state} v{self.case.version}>"


def _due(when) -> str:
    """A due time for people: local, and midnight as 24:00 of the deadline's last day."""
    from projections.formatting import MISSING, _moment

    return MISSING if when is None else _moment(when.tzinfo, due=True)(pd.Timestamp(when))


def _now() -> datetime:  # pragma: no cover - convenience for notebooks
    return datetime.now().astimezone()


def _named(agency: str | None) -> str | None:
    """An agency code with its official name, when it has one."""
    official = official_name("agency", agency)
    return f"{agency} ({official})" if official else agency
