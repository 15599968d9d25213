"""`jejak demo`: a synthetic but realistic dataset, driven through the real commands.

Every case is filed with ``Jejak.new_case`` and moved with ``Jejak.apply_trigger``, so every rule, actor and
field check of the engine applies; cases are saved many per transaction (``Jejak.record_cases``) for speed.
Nothing is inserted behind the engine's back.

How a dataset is made (``generate``):

1. *Plan.* Each case gets a life: who reports it, where, about whom, and its path through the workflow with
   an ``occurred_at`` for every step. The times of the three milestones that were published for the 2020
   regional elections (reported, recommended by KASN, followed up by the PPK) are drawn from the published
   cumulative curve (stratified inverse sampling), then matched to cases: each case wishes for a lag drawn
   from the PPK's own slowness, and the earliest wish among the cases already eligible takes the next
   milestone time. So the curve is met by construction and slow PPKs are really slow. The steps in between
   (review, registration, forwarding...) are spread between the milestones in office hours; deadlines are
   computed with the store's own settings and a ``system`` tick records ``mark_overdue`` whenever one passes.
2. *Stamp.* Each step is recorded (the event's ``timestamp``) a few minutes or hours after it happened; a
   few percent are entered weeks late (backdated entries), as happens when paper files are keyed in later.
3. *Replay.* All steps of all cases are applied in the order they were recorded, with the application's
   clock set to each step's recorded time, and saved in batches.

Same seed, same data: one ``random.Random`` per election, seeded from the seed; case ids derive from
``external_ref`` ("demo-pilkada-2020-000123"). ``scale`` multiplies the number of cases.
"""

from __future__ import annotations

import heapq
import math
import random
import time as timer
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from demo.calibration import (AS_OF_2024, DAY, FIRST_NAMES, HORIZON_2020, HOUR, INCIDENTS, LAST_NAMES,
                              LIGHTER_SANCTION_RATE, POSITIONS, RECOMMENDATIONS, WIB, apportioned)
from demo.elections import ElectionPlans
from demo.plan import CasePlan, _destinations
from demo.recording import Recording, demo_case_id, demo_ref  # noqa: F401 - demo_ref is public
from demo.summary import Summary
from workflow import codes
from workflow.application import Jejak
from workflow.definitions import get_era
from workflow.errors import CaseNotFound, InvalidField

class DemoPresent(InvalidField):
    """The store already holds all of an election's demo data."""

    def __init__(self, election: str):
        super().__init__("election", f"the store already holds the {election} demo data")


@dataclass(frozen=True)
class ElectionSpec:
    name: str
    era: str
    kind: str
    year: int


ELECTIONS = {
    "pilkada-2020": ElectionSpec("pilkada-2020", "skb-2020", "pilkada", 2020),
    "pilkada-2024": ElectionSpec("pilkada-2024", "bkn-2024", "pilkada", 2024),
}


class DemoClock:
    """The recording clock of a simulation: returns whatever time the generator set last."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(timezone.utc)



def has_demo_data(app: Jejak, election: str) -> bool:
    """Whether the store already holds this election's demo cases (they all share deterministic ids)."""
    try:
        app.get_case(demo_case_id(election, 0))
    except CaseNotFound:
        return False
    return True


# --- the simulation ------------------------------------------------------------------------------------------

class _Simulation(ElectionPlans, Recording, Summary):
    def __init__(self, app: Jejak, spec: ElectionSpec, seed: int, scale: float):
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1000):
            raise InvalidField("scale", f"must be a number above 0 (at most 1000), got {scale!r}")
        self.app, self.spec, self.scale = app, spec, scale
        self.era = get_era(spec.era)
        self.settings = app.settings
        self.dest = _destinations(self.era)
        self.rng = random.Random(f"jejak-demo:{spec.name}:{seed}")
        self.plans: list[CasePlan] = []
        self.ppk_speed: dict[str, float] = {}
        self.never_ppks: list[str] = []

    # helpers ----------------------------------------------------------------------------------------------

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def office(self, t: datetime) -> datetime:
        """The next office-hours moment (Mon–Fri, 08:00–16:00 WIB) at or after t, keeping the order of a day."""
        local = t.astimezone(WIB)
        day, frac = local.date(), (local.hour * 3600 + local.minute * 60 + local.second) / 86400
        if local.hour >= 16:
            day, frac = day + DAY, self.rng.random() * 0.3
        elif local.hour < 8:
            frac = self.rng.random() * 0.3
        else:
            frac = (frac - 8 / 24) * 3
        while day.weekday() >= 5:
            day += DAY
        return datetime.combine(day, time(8), tzinfo=WIB) + timedelta(hours=8 * min(max(frac, 0.0), 0.999))

    def within(self, t: datetime, low: datetime, high: datetime | None) -> datetime:
        """t in office hours if that still fits before `high`, else t itself, kept inside [low, high)."""
        snapped = self.office(t)
        if high is not None and snapped >= high:
            snapped = t
        if high is not None:
            snapped = min(snapped, high - timedelta(minutes=5))
        return max(snapped, low)

    def sequence(self, plan: CasePlan, items: list[tuple], end: datetime | None, fill: float = 0.85,
                 tail: timedelta = timedelta()) -> None:
        """Fire (trigger, actor, typical duration, fields) one after another from the plan's last step,
        squeezing the durations (and a `tail` kept free for what comes next) to fit before `end` if needed."""
        start = plan.last
        total = sum((d for _, _, d, _ in items), tail)
        factor = 1.0
        if end is not None and total > (end - start) * fill:
            factor = max((end - start) * fill / total, 0.0) if total else 1.0
        t = start
        for trigger, actor, duration, fields in items:
            t = t + duration * factor
            plan.step(trigger, actor, self.within(t, plan.last, end), **fields)
            t = max(t, plan.last)

    def times_from_curve(self, knots: list[tuple[date, float]], count: int) -> list[datetime]:
        """`count` times whose cumulative curve follows the knots (stratified inverse sampling), in office hours."""
        final = knots[-1][1]
        points = [(datetime.combine(d, time(0), tzinfo=WIB) + DAY, c / final * count) for d, c in knots]
        points[0] = (points[0][0] - DAY, 0.0)
        out, seg = [], 0
        for k in range(count):
            target = k + self.rng.random()
            while points[seg + 1][1] < target:
                seg += 1
            (t0, c0), (t1, c1) = points[seg], points[seg + 1]
            t = t0 + (t1 - t0) * ((target - c0) / (c1 - c0))
            out.append(t)
        return sorted(self.office(t) for t in out)

    def apportion(self, shares: dict[str, float], total: int) -> list[str]:
        """Exactly `total` labels in the given shares (largest remainder), shuffled."""
        labels = [k for k, n in apportioned(shares, total).items() for _ in range(n)]
        self.rng.shuffle(labels)
        return labels

    def weighted(self, weights: dict[str, float]) -> str:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def nip(self, group: str, on: date) -> str | None:
        if group == "non_asn":
            return None
        birth = date(self.rng.randint(1965, 1996), self.rng.randint(1, 12), self.rng.randint(1, 28))
        appointed = min(birth.year + self.rng.randint(22, 32), on.year - 1)
        return f"{birth:%Y%m%d}{appointed}{self.rng.randint(1, 12):02d}{self.rng.randint(1, 2)}" \
               f"{self.rng.randint(1, 999):03d}"

    @staticmethod
    def bawaslu(plan: CasePlan) -> str:
        """Provincial Bawaslu for provincial civil servants, the regency/city Bawaslu otherwise."""
        return f"bawaslu:{plan.province}" if plan.agency.startswith("pemprov-") else f"bawaslu:{plan.regency}"

    def ppk(self, plan: CasePlan) -> str:
        return f"ppk:{plan.agency}"

    def decree(self, plan: CasePlan, at: datetime) -> str:
        unit = {"pemprov": "BKD", "pemkab": "BKPSDM", "pemkot": "BKPSDM"}.get(plan.agency.split("-")[0], "KEP")
        return f"800/{self.rng.randint(10, 999)}/{unit}/{at.year}"

    # the report --------------------------------------------------------------------------------------------

    def new_plan(self, index: int, at: datetime, region: tuple[str, str], category: str, group: str) -> CasePlan:
        rng = self.rng
        regency = region[1]  # its province as it stood on the day (REGIONS_2020: Merauke in Papua until 2022)
        province = codes.province_on(regency, at.astimezone(WIB).date())
        kind, _, name = regency.partition("-")
        roll = rng.random()
        if roll < 0.15:
            agency = "pemprov-" + province.removeprefix("prov-")
        elif roll < 0.175 and group != "non_asn":
            agency = "kementerian-agama"
        else:
            agency = ("pemkab-" if kind == "kab" else "pemkot-") + name
        place = ("Kabupaten " if kind == "kab" else "Kota ") + name.replace("-", " ").title()
        descriptions, evidence = INCIDENTS[category]
        public = rng.random() < 0.45  # a public report (laporan); otherwise a Bawaslu finding (temuan)
        fields = dict(
            name=self.person(), nip=self.nip(group, at.date()), position=rng.choice(POSITIONS[group]),
            position_group=group, agency=agency, province=province, regency=regency, category=category,
            election=self.spec.name, description=rng.choice(descriptions), place=place,
            event_date=(at.astimezone(WIB).date() - timedelta(days=rng.randint(0, 6))).isoformat(),
            evidence=", ".join(rng.sample(evidence, rng.randint(1, len(evidence)))),
            external_ref=demo_ref(self.spec.name, index),
        )
        if public:
            fields.update(reporter_name=self.person(),
                          reporter_contact=f"08{rng.randint(11, 59)}-{rng.randint(1000, 9999)}-"
                                           f"{rng.randint(1000, 9999)}")
            if rng.random() < 0.5:
                fields["witnesses"] = self.person()
        fields = {k: v for k, v in fields.items() if v is not None}
        plan = CasePlan(self, index, "reporter", at, fields)
        if not public:
            plan.steps[0].actor, plan.public = self.bawaslu(plan), False
        return plan

    def to_commission(self, plan: CasePlan, end: datetime | None, examine: bool = True,
                      allow_return: bool = True) -> None:
        """Review, registration, forwarding to the commission, and (optionally) the start of its examination."""
        rng, bawaslu, commission = self.rng, self.bawaslu(plan), self.era.commission
        items = [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {})]
        if plan.public and rng.random() < 0.08:
            items += [("request_correction", bawaslu, self.days(0.2, 1.5), {}),
                      ("submit_correction", "reporter", self.days(0.5, 4.5), {})]
        late = rng.random() < 0.22  # Bawaslu misses its handling deadline
        items += [("register", bawaslu, self.days(0.3, 2.5), {}),
                  ("forward", bawaslu, self.days(5.5, 14) if late else self.days(0.8, 4.5), {})]
        if examine:
            items.append(("begin_examination", commission, self.days(0.5, 10), {}))
            if allow_return and rng.random() < 0.03:
                items += [("return_to_bawaslu", commission, self.days(3, 15), {}),
                          ("forward", bawaslu, self.days(1, 5), {}),
                          ("begin_examination", commission, self.days(0.5, 5), {})]
        # keep room for the commission's own examination before `end`, when that is a recommendation
        self.sequence(plan, items, end, tail=self.days(2, 20) if examine else timedelta())

    def recommend(self, plan: CasePlan, at: datetime) -> None:
        group = plan.steps[0].fields["position_group"]
        track = "non_asn" if group == "non_asn" else None
        code = self.weighted(RECOMMENDATIONS["non_asn" if track else self.spec.era])
        track = track or self.era.all_sanctions[code].track
        plan.recommended_sanction = code
        plan.step("recommend", self.era.commission, at, track=track, sanction=code)

    def impose(self, plan: CasePlan, at: datetime) -> None:
        code = plan.recommended_sanction
        severity = self.era.all_sanctions[code].severity
        tracks = ("non_asn",) if self.era.all_sanctions[code].track == "non_asn" else ("ethics", "discipline")
        lighter = sorted((s for s in self.era.all_sanctions.values() if s.track in tracks and s.severity < severity),
                         key=lambda s: -s.severity)
        if lighter and self.rng.random() < LIGHTER_SANCTION_RATE:
            code = self.rng.choice(lighter[:3]).code
        plan.step("impose_sanction", self.ppk(plan), at, sanction=code, decree_number=self.decree(plan, at))

    def ppk_phase(self, plan: CasePlan, end: datetime | None, horizon: datetime, blocking_from: datetime,
                  escalate_after: timedelta = timedelta(days=30), blocking: float = 1.0) -> None:
        """After the recommendation: the PPK's examination, the overdue tick, BKN's blocking, the commission's
        escalation, and the end of the story (`end` = the sanction time when there is one)."""
        rng, fate = self.rng, plan.fate
        recommended, overdue = plan.last, plan.tick
        stop = end or horizon
        events: list[tuple[datetime, str, str, dict, str | None]] = []
        if fate == "departed":
            stop = min(recommended + self.days(5, 150), horizon)
        elif fate == "cancelled":
            stop = min(recommended + self.days(10, 90), horizon)
        examined = None
        if fate in ("sanctioned", "pending") and rng.random() < (0.6 if fate == "sanctioned" else 1.0):
            examined = recommended + (stop - recommended) * rng.uniform(0.1, 0.8)
            events.append((examined, "begin_ppk_examination", self.ppk(plan), {}, None))
        if overdue is not None and overdue < stop:
            # the case sits in `overdue` from the tick until the PPK next acts
            quiet_end = examined if examined and examined > overdue else stop
            if quiet_end - overdue > escalate_after + 10 * DAY and rng.random() < (0.45 if fate == "never" else 0.2):
                at = overdue + escalate_after + (quiet_end - overdue - escalate_after - 5 * DAY) * rng.random()
                target = self.weighted({"kemenpan-rb": 6, "kemendagri": 3, "president": 1})
                events.append((at, "escalate", self.era.commission, {"to": target},
                               "rekomendasi belum ditindaklanjuti PPK"))
            block_from = max(overdue, blocking_from) + self.days(1, 10)
            p_block = blocking * {"sanctioned": 0.7, "never": 0.7, "departed": 0.5}.get(fate, 0.3)
            if block_from < stop - 2 * DAY and rng.random() < p_block:
                if fate == "sanctioned":
                    at = max(block_from, stop - self.days(2, 75))
                else:
                    at = block_from + (stop - 2 * DAY - block_from) * rng.random() * 0.5
                events.append((at, "block_personnel_data", "bkn", {}, "permintaan KASN: PPK belum menindaklanjuti"))
        events = [(self.within(at, recommended, stop), k, *rest) for k, (at, *rest) in enumerate(events)]
        for at, _, trigger, actor, fields, note in sorted(events, key=lambda e: e[:2]):
            plan.catch_up(at)
            if trigger == "escalate" and plan.state != "overdue":
                continue  # the PPK moved first after all
            plan.step(trigger, actor, at, note, **fields)
        if fate == "sanctioned":
            self.impose(plan, end)
        elif fate == "departed":
            if rng.random() < 0.6:
                plan.step("record_departure", self.ppk(plan), stop, reason=rng.choice(["retired", "resigned"]))
            else:
                plan.step("record_departure", "bkn", stop, reason="left")
        elif fate == "cancelled":
            plan.step("cancel", self.era.commission, stop, "rekomendasi dicabut setelah klarifikasi")
        if plan.blocked and fate in ("sanctioned", "departed"):
            if rng.random() < 0.7:
                at = self.office(plan.last + timedelta(days=rng.gammavariate(1.5, 25)))
                if at < horizon:
                    plan.step("unblock_personnel_data", "bkn", at)
        elif plan.blocked and rng.random() < 0.08:
            at = self.office(plan.last + self.days(20, 120))
            if at < horizon:
                plan.step("unblock_personnel_data", "bkn", at, "diblokir karena kekeliruan data")
        plan.catch_up(horizon)

    # matching milestone times to cases ---------------------------------------------------------------------

    @staticmethod
    def match(times: list[datetime], candidates: list[tuple[datetime, datetime, int]]) -> dict[int, datetime]:
        """Give each time (ascending) to the eligible candidate (ready <= time) with the earliest wish.
        candidates: (ready, wish, index). When nobody is ready yet, the time waits for the next one."""
        candidates = sorted(candidates)
        heap: list[tuple[datetime, int, datetime]] = []
        out, j, floor = {}, 0, None
        for t in times:
            if floor is not None and t < floor:
                t = floor
            while j < len(candidates) and candidates[j][0] <= t:
                heapq.heappush(heap, (candidates[j][1], candidates[j][2], candidates[j][0]))
                j += 1
            if not heap:
                if j == len(candidates):
                    break
                t = candidates[j][0] + timedelta(minutes=30)
                while j < len(candidates) and candidates[j][0] <= t:
                    heapq.heappush(heap, (candidates[j][1], candidates[j][2], candidates[j][0]))
                    j += 1
            _, index, ready = heapq.heappop(heap)
            out[index] = t
            floor = t
        return out

    def speed(self, agency: str) -> float:
        if agency not in self.ppk_speed:
            self.ppk_speed[agency] = math.exp(self.rng.gauss(0, 0.6))
        return self.ppk_speed[agency]

    # elections ---------------------------------------------------------------------------------------------


def generate(app: Jejak, election: str = "pilkada-2020", seed: int = 0, scale: float = 1.0,
             progress: bool = True, resume: bool = False) -> dict[str, Any]:
    """Fill the store with one election's demo cases (or "all"); returns a summary per election.

    Raises InvalidField if the store already holds that election's demo data; with ``resume``, only if it
    holds all of it: a run that was killed part-way is completed (same seed and scale).
    """
    names = list(ELECTIONS) if election == "all" else [election]
    for name in names:
        if name not in ELECTIONS:
            raise InvalidField("election", f"no demo for {name!r}", allowed=[*ELECTIONS, "all"])
        if has_demo_data(app, name) and not resume:
            raise DemoPresent(name)
    saved_clock = app.clock
    if not isinstance(app.clock, DemoClock):
        app.clock = DemoClock()
    started = timer.perf_counter()
    out: dict[str, Any] = {"seed": seed, "scale": scale, "elections": {}}
    try:
        for name in names:
            t0 = timer.perf_counter()
            sim = _Simulation(app, ELECTIONS[name], seed, scale)
            if name == "pilkada-2020":
                sim.plan_2020()
                as_of, cap = HORIZON_2020, None
            else:
                sim.plan_2024()
                as_of, cap = AS_OF_2024, AS_OF_2024
            sim.stamp(cap)
            done = sim.stored_prefix() if resume else 0
            if done == len(sim.order()):
                raise DemoPresent(name)
            sim.replay(progress, start=done)
            summary = sim.summary(as_of)
            summary["seconds"] = round(timer.perf_counter() - t0, 2)
            out["elections"][name] = summary
    finally:
        app.clock = saved_clock
    out["seconds"] = round(timer.perf_counter() - started, 2)
    return out
