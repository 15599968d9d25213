"""How each election's cases are planned (a mixin of the generator's simulation): 2020 from the published
curve, 2024 as of BKN's 4 December statement."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from demo.calibration import (AS_OF_2024, BLOCKING_FROM, CATEGORY_SHARES, CURVE_2020, CURVE_2024_REPORTS, DAY,
                              HORIZON_2020, HOUR, POSITION_SHARES, REGIONS_2020, WIB)
from demo.plan import CasePlan
from demo.published import PUBLISHED_2020_FINAL, PUBLISHED_2024_PARTS, PUBLISHED_2024_TOTAL


class ElectionPlans:
    def regions(self, count: int, flatten: float = 1.0) -> list[tuple[str, str]]:
        weights = {f"{p}|{r}": w ** flatten for p, regs in REGIONS_2020.items() for r, w in regs.items()}
        return [tuple(label.split("|")) for label in self.apportion(weights, count)]

    def plan_2020(self) -> None:
        rng = self.rng
        n = max(1, round(PUBLISHED_2020_FINAL["reported"] * self.scale))
        m = round(PUBLISHED_2020_FINAL["recommended"] * self.scale)
        s = round(PUBLISHED_2020_FINAL["followed_up"] * self.scale)
        report_times = self.times_from_curve(CURVE_2020["report"], n)
        regions = self.regions(n)
        categories = self.apportion(CATEGORY_SHARES, n)
        groups = self.apportion(POSITION_SHARES, n)
        plans = [self.new_plan(i, report_times[i], regions[i], categories[i], groups[i]) for i in range(n)]
        self.plans = plans

        # Which cases KASN recommends on: early ones a little more often (the published curve starts steep).
        early = datetime(2020, 6, 27, tzinfo=WIB)
        keys = sorted(((rng.random() ** (1 / (1.8 if p.last < early else 1.0)), p.index) for p in plans),
                      reverse=True)
        recommended = sorted(i for _, i in keys[:m])
        chosen = set(recommended)
        for p in plans:
            if p.index not in chosen:
                p.fate = self.weighted({"not_registered": 20, "dismissed": 30, "not_proven": 40, "cancelled": 10})

        # When: the published curve, each time to the ready case that wished for it first.
        times = self.times_from_curve(CURVE_2020["recommend"], m)
        wishes = [(plans[i].last + 2 * DAY, plans[i].last + timedelta(days=2 + rng.gammavariate(1.5, 12)), i)
                  for i in recommended]
        rec_at = self.match(times, wishes)
        # The recommendation of 15 Apr 2020 that was still unexecuted six months later.
        slow = min(rec_at, key=lambda i: (abs(rec_at[i] - datetime(2020, 4, 15, 10, tzinfo=WIB)), i))
        if plans[slow].last + 2 * DAY <= datetime(2020, 4, 15, 10, tzinfo=WIB):
            rec_at[slow] = datetime(2020, 4, 15, 10, tzinfo=WIB)

        # PPKs that never act, chosen among the smaller ones, for about 45% of the recommendations never
        # followed up; the rest of those end departed, cancelled or still pending.
        per_agency = Counter(plans[i].agency for i in recommended)
        agencies = sorted(a for a, c in per_agency.items() if c <= 12 * self.scale and a != "kementerian-agama")
        rng.shuffle(agencies)
        unfollowed, never = m - s, []
        budget = round(0.45 * unfollowed)
        for agency in agencies:
            if sum(per_agency[a] for a in never) + per_agency[agency] <= budget:
                never.append(agency)
        self.never_ppks = never
        never_set = set(never)
        for i in recommended:
            plans[i].fate = "never" if plans[i].agency in never_set or i == slow else ""
        rest = [i for i in recommended if not plans[i].fate]
        rng.shuffle(rest)
        others = unfollowed - sum(1 for i in recommended if plans[i].fate == "never")
        for k, i in enumerate(rest):
            if k < others:
                plans[i].fate = ("departed", "cancelled", "pending")[0 if k < others * 0.35 else
                                                                    1 if k < others * 0.55 else 2]
            else:
                plans[i].fate = "sanctioned"
        to_sanction = [i for i in recommended if plans[i].fate == "sanctioned"]
        times = self.times_from_curve(CURVE_2020["impose_sanction"], len(to_sanction))
        wishes = [(rec_at[i] + DAY, rec_at[i] + timedelta(days=1 + self.speed(plans[i].agency)
                                                          * rng.gammavariate(1.3, 25)), i) for i in to_sanction]
        sanction_at = self.match(times, wishes)

        for p in plans:
            i = p.index
            if i in chosen:
                self.to_commission(p, rec_at[i])
                self.recommend(p, rec_at[i])
                if i == slow:
                    self.slow_case(p)
                else:
                    self.ppk_phase(p, sanction_at.get(i), HORIZON_2020, BLOCKING_FROM)
            else:
                self.unrecommended(p)

    def slow_case(self, plan: CasePlan) -> None:
        """The recommendation of 15 Apr 2020, still unexecuted six months later: escalated to the President."""
        plan.step("block_personnel_data", "bkn", datetime(2020, 9, 21, 10, tzinfo=WIB),
                  "permintaan KASN: PPK belum menindaklanjuti")
        plan.step("escalate", "kasn", datetime(2020, 10, 16, 10, tzinfo=WIB),
                  "rekomendasi 15 April 2020 belum dilaksanakan setelah enam bulan", to="president")
        plan.catch_up(HORIZON_2020)

    def unrecommended(self, plan: CasePlan) -> None:
        rng, bawaslu, fate = self.rng, self.bawaslu(plan), plan.fate
        if fate == "not_registered":
            items = [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {})]
            if plan.public and rng.random() < 0.5:
                items += [("request_correction", bawaslu, self.days(0.2, 1.5), {}),
                          ("reject_registration", bawaslu, self.days(4, 10), {})]
            else:
                items.append(("reject_registration", bawaslu, self.days(1, 5), {}))
            self.sequence(plan, items, None)
        elif fate == "dismissed":
            self.sequence(plan, [("begin_review", bawaslu, HOUR * rng.uniform(1, 30), {}),
                                 ("register", bawaslu, self.days(0.3, 2.5), {}),
                                 ("dismiss", bawaslu, self.days(1, 9), {})], None)
        elif fate == "not_proven":
            self.to_commission(plan, None)
            self.sequence(plan, [("find_not_proven", self.era.commission, self.days(5, 60), {})], None)
        else:  # cancelled: the report is withdrawn, or the commission finds it belongs elsewhere
            examine = rng.random() < 0.5
            self.to_commission(plan, None, examine=examine, allow_return=False)
            actor = self.era.commission if examine or rng.random() < 0.5 else bawaslu
            self.sequence(plan, [("cancel", actor, self.days(3, 40), {})], None)
        plan.catch_up(HORIZON_2020)

    def plan_2024(self) -> None:
        rng, as_of = self.rng, AS_OF_2024
        n = max(1, round(PUBLISHED_2024_TOTAL * self.scale))
        report_times = [min(t, as_of - 6 * HOUR) for t in self.times_from_curve(CURVE_2024_REPORTS, n)]
        regions = self.regions(n, flatten=0.5)
        categories = self.apportion(CATEGORY_SHARES, n)
        groups = self.apportion(POSITION_SHARES, n)
        plans = [self.new_plan(i, report_times[i], regions[i], categories[i], groups[i]) for i in range(n)]
        self.plans = plans
        counts = Counter(self.apportion(PUBLISHED_2024_PARTS, n))
        # The further along a case is on 4 Dec, the earlier it was (mostly) reported.
        middle = ["awaiting_ppk"] * counts["awaiting_ppk"] + ["rejected"] * counts["rejected"] + \
                 ["not_proven"] * counts["not_proven"] + ["cancelled"] * counts["cancelled"]
        rng.shuffle(middle)
        fates = ["sanctioned"] * counts["sanctioned"] + ["departed"] * counts["departed"] + middle + \
                ["awaiting_bkn"] * counts["awaiting_bkn"]
        order = sorted(range(n), key=lambda i: (i / n + rng.gauss(0, 0.2), i))
        for i, fate in zip(order, fates):
            plans[i].fate = fate
        bkn = self.era.commission
        for p in plans:
            fate, room = p.fate, as_of - p.last
            if fate == "awaiting_bkn":
                self.to_commission(p, as_of, examine=rng.random() < 0.4, allow_return=False)
            elif fate in ("rejected", "cancelled") and rng.random() < 0.5:
                self.to_commission(p, p.last + room * 0.6, examine=False, allow_return=False)
                actor = bkn if fate == "rejected" or rng.random() < 0.5 else self.bawaslu(p)
                self.sequence(p, [("reject" if fate == "rejected" else "cancel", actor, self.days(1, 15), {})],
                              as_of)
            elif fate in ("rejected", "cancelled", "not_proven"):
                self.to_commission(p, p.last + room * 0.6, allow_return=False)
                trigger = {"rejected": "reject", "cancelled": "cancel", "not_proven": "find_not_proven"}[fate]
                self.sequence(p, [(trigger, bkn, self.days(2, 20), {})], as_of)
            elif fate == "departed" and rng.random() < 0.5:
                self.to_commission(p, p.last + room * 0.6, allow_return=False)
                self.sequence(p, [("record_departure", bkn, self.days(2, 20), {"reason": "left"})], as_of)
            else:  # recommended: awaiting the PPK, sanctioned, or departed after the recommendation
                rec = p.last + room * rng.uniform(0.3, 0.75) if fate != "awaiting_ppk" else \
                    p.last + min(room * 0.9, timedelta(days=3 + rng.gammavariate(1.5, 8)))
                self.to_commission(p, rec, allow_return=False)
                rec = self.within(rec, p.last, as_of)
                self.recommend(p, rec)
                end = None
                if fate == "sanctioned":
                    end = self.within(rec + (as_of - rec) * rng.uniform(0.3, 0.9), rec, as_of)
                p.fate = {"awaiting_ppk": "pending" if rng.random() < 0.4 else "never"}.get(fate, fate)
                self.ppk_phase(p, end, as_of - HOUR, rec, escalate_after=timedelta(days=10), blocking=0.15)
                p.fate = fate
            p.catch_up(as_of - HOUR)
