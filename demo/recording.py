"""Recording a planned demo (a mixin of the generator's simulation): when each step was recorded, and the
replay through the real commands, in batches, resumable after a kill."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from demo.calibration import BACKDATED_RATE, BATCH_EVENTS, HOUR
from workflow.application import EXTERNAL_REF_NAMESPACE
from workflow.errors import InvalidField


def demo_ref(election: str, index: int) -> str:
    return f"demo-{election}-{index:06d}"


def demo_case_id(election: str, index: int) -> UUID:
    return uuid5(EXTERNAL_REF_NAMESPACE, demo_ref(election, index))


class Recording:
    def stamp(self, cap: datetime | None) -> None:
        """When each step was recorded: minutes to hours after it happened, a few percent weeks later;
        never before an earlier step of the case, never after the system's next tick saw it."""
        rng = self.rng
        for plan in self.plans:
            steps = plan.steps
            limit, limits = None, []
            for s in reversed(steps):
                limits.append(limit)
                if s.trigger == "mark_overdue":
                    limit = s.at
            limits.reverse()
            prev = None
            for k, (s, lim) in enumerate(zip(steps, limits)):
                if s.trigger == "mark_overdue":
                    rec = s.at + timedelta(seconds=rng.randint(1, 20))
                else:
                    roll = rng.random()
                    if roll < BACKDATED_RATE and s.trigger in ("report", "register", "recommend",
                                                                "impose_sanction", "record_departure"):
                        rec = self.office(s.at + self.days(14, 42))  # keyed in weeks later
                    elif roll < 0.75:
                        rec = s.at + timedelta(minutes=rng.uniform(2, 120))  # keyed in right away
                    else:
                        rec = self.office(s.at + HOUR * rng.uniform(2, 30))  # later that day or the next
                    if lim is not None:
                        rec = min(rec, max(lim - timedelta(minutes=1), s.at))
                if cap is not None:  # leave a second for each later step, so the order holds under the cap
                    rec = max(min(rec, cap - timedelta(seconds=len(steps) - k)), s.at)
                if prev is not None:
                    rec = max(rec, prev + timedelta(seconds=1))
                s.recorded = prev = rec

    def order(self) -> list[tuple[datetime, int, int]]:
        """Every step as (recorded, plan index, step index), in the order the replay records them."""
        return sorted((s.recorded, p.index, k) for p in self.plans for k, s in enumerate(p.steps))

    def stored_prefix(self) -> int:
        """How many of this demo's events the store already holds (0, or the first batches of a run that was
        killed, or all of them). Refused if they are not a prefix of this run (another seed or scale)."""
        ids = {demo_case_id(self.spec.name, p.index): p.index for p in self.plans}
        stored: Counter = Counter()
        start = 0
        while page := self.app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False):
            for n in page:
                index = ids.get(n.originator_id if isinstance(n.originator_id, UUID) else UUID(str(n.originator_id)))
                if index is not None:
                    stored[index] += 1
            start = page[-1].id
        done = sum(stored.values())
        if Counter(index for _, index, _ in self.order()[:done]) != stored:
            raise InvalidField("election", f"the store already holds {self.spec.name} demo data ({done} events) "
                                           "made with another seed or scale; nothing added (run it with that "
                                           "--seed and --scale to complete it, or use a fresh --db)")
        return done

    def replay(self, progress: bool, start: int = 0) -> int:
        """Record the steps, in batches of BATCH_EVENTS (one transaction each), from step `start` on: a run
        that was killed is resumed after the batches it saved."""
        app = self.app
        clock = app.clock
        order = self.order()
        live: dict[int, Any] = {}
        dirty: dict[int, Any] = {}
        bar = _progress(len(order), f"demo {self.spec.name}", progress)
        bar.update(start)
        try:
            for n, (recorded, index, k) in enumerate(order, start=1):
                if n <= start:
                    continue
                plan = self.plans[index]
                step = plan.steps[k]
                clock.now = recorded
                if k > 0 and index not in live:  # begun by the killed run
                    live[index] = app.get_case(demo_case_id(self.spec.name, index))
                if k == 0:
                    live[index] = app.new_case(step.actor, occurred_at=step.at, era=self.era.id, note=step.note,
                                               **step.fields)
                else:
                    app.apply_trigger(live[index], step.trigger, step.actor, occurred_at=step.at, note=step.note,
                                      **step.fields)
                dirty[index] = live[index]
                if k == len(plan.steps) - 1:
                    del live[index]
                if n % BATCH_EVENTS == 0 or n == len(order):
                    app.record_cases(*dirty.values())
                    dirty.clear()
                    bar.update(n - bar.n)
        finally:
            bar.close()
        return len(order)


def _progress(total: int, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; keep working without it
        enabled = False
    if not enabled:
        class _Null:
            n = 0

            def update(self, k):
                self.n += k

            def close(self):
                pass
        return _Null()
    return tqdm(total=total, desc=desc, unit="event", file=sys.stderr, dynamic_ncols=True)
