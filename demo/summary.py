"""What a demo run made, beside what was published (a mixin of the generator's simulation), and the summary
`jejak demo` prints."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from demo.calibration import DAY, WIB, apportioned
from demo.published import (PUBLISHED_2020_BLOCKED, PUBLISHED_2020_CURVE, PUBLISHED_2020_FINAL,
                            PUBLISHED_2020_UNFOLLOWED, PUBLISHED_2024_PARTS)


class Summary:
    def summary(self, as_of: datetime | None) -> dict[str, Any]:
        plans = self.plans
        reached = Counter(t for p in plans for t in {s.trigger for s in p.steps})
        n, rec, san = len(plans), reached["recommend"], reached["impose_sanction"]
        severity = self.era.all_sanctions
        lighter = sum(1 for p in plans for s in p.steps if s.trigger == "impose_sanction"
                      and severity[s.fields["sanction"]].severity < severity[p.recommended_sanction].severity)
        backdated = sum(1 for p in plans for s in p.steps if s.recorded - s.at >= timedelta(days=7))
        end = as_of or max(s.at for p in plans for s in p.steps)
        ppk_rows: dict[str, list[float]] = defaultdict(list)
        ppk_done: Counter = Counter()
        for p in plans:
            r, s = p.at("recommend"), p.at("impose_sanction")
            if r is None:
                continue
            ppk = p.agency
            ppk_rows[ppk].append(((s or end) - r).total_seconds() / 86400)
            ppk_done[ppk] += s is not None
        slowest = sorted(({"ppk": a, "recommendations": len(d), "followed_up": ppk_done[a],
                           "median_days": round(median(d), 1), "open": len(d) - ppk_done[a]}
                          for a, d in ppk_rows.items() if len(d) >= 3),
                         key=lambda r: (-r["median_days"], r["ppk"]))[:5]
        out = {
            "election": self.spec.name, "era": self.era.id, "scale": self.scale,
            "as_of": (as_of or end).isoformat(), "cases": n, "events": sum(len(p.steps) for p in plans),
            "funnel": {"reported": n, "registered": reached["register"], "forwarded": reached["forward"],
                       "recommended": rec, "followed_up": san},
            "rates": {"recommended_of_reported": round(rec / n, 4) if n else None,
                      "followed_up_of_recommended": round(san / rec, 4) if rec else None},
            "states": dict(sorted(Counter(p.state for p in plans).items())),
            "overdue_marks": reached["mark_overdue"], "escalated": reached["escalate"],
            "blocked": reached["block_personnel_data"], "unblocked": reached["unblock_personnel_data"],
            "lighter_sanctions": lighter, "backdated_events": backdated,
            "never_acting_ppks": len(self.never_ppks), "slowest_ppks": slowest,
        }
        if self.spec.name == "pilkada-2020":
            out["curve"] = [self.curve_point(day, published) for day, *published in PUBLISHED_2020_CURVE]
            out["published"] = {k: v if "rate" in k else round(v * self.scale)
                                for k, v in PUBLISHED_2020_FINAL.items()}
            day, cases, govs = PUBLISHED_2020_UNFOLLOWED
            cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
            unfollowed = [p for p in plans if (r := p.at("recommend")) and r < cut
                          and not ((s := p.at("impose_sanction")) and s < cut)
                          and any(st.trigger == "mark_overdue" and st.at < cut and st.at > r for st in p.steps)]
            out["unfollowed_overdue_on"] = {"date": day.isoformat(), "cases": len(unfollowed),
                                            "ppks": len({p.agency for p in unfollowed}),
                                            "published": {"cases": cases, "ppks": govs}}
            out["blocked_on"] = {d.isoformat(): {"cases": self.blocked_on(d), "published": v}
                                 for d, v in PUBLISHED_2020_BLOCKED.items()}
        else:
            groups = {"awaiting_bkn": ("forwarded", "under_commission_examination"),
                      "awaiting_ppk": ("recommended", "under_ppk_examination", "overdue"),
                      "sanctioned": ("sanctioned",), "not_proven": ("not_proven",), "cancelled": ("cancelled",),
                      "rejected": ("rejected",), "departed": ("departed",)}
            states = Counter(p.state for p in plans)
            scaled = apportioned(PUBLISHED_2024_PARTS, n)  # the parts scaled to this run's total
            out["published_parts"] = {
                k: {"cases": sum(states[s] for s in v), "published": PUBLISHED_2024_PARTS[k],
                    "published_scaled": scaled[k]}
                for k, v in groups.items()}
        return out

    def curve_point(self, day: date, published: list[int]) -> dict[str, Any]:
        cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
        counts = [sum(1 for p in self.plans if (t := p.at(trigger)) is not None and t < cut)
                  for trigger in ("report", "recommend", "impose_sanction")]
        return {"date": day.isoformat(), "reported": counts[0], "recommended": counts[1], "followed_up": counts[2],
                "published": dict(zip(("reported", "recommended", "followed_up"),
                                      (round(v * self.scale) for v in published)))}

    def blocked_on(self, day: date) -> int:
        cut = datetime.combine(day, time(0), tzinfo=WIB) + DAY
        count = 0
        for p in self.plans:
            blocked = False
            for s in p.steps:
                if s.at >= cut:
                    break
                if s.trigger == "block_personnel_data":
                    blocked = True
                elif s.trigger in ("unblock_personnel_data", "impose_sanction"):
                    blocked = False
            count += blocked
        return count


def print_summary(result: dict[str, Any], out=None, notebooks_store=None) -> None:
    out = out or sys.stdout
    w = lambda text="": print(text, file=out)  # noqa: E731
    for name, s in result["elections"].items():
        f, r = s["funnel"], s["rates"]
        w(f"{name} ({s['era']}): {s['cases']:,} cases, {s['events']:,} events in {s['seconds']} s "
          f"(seed {result['seed']}, scale {result['scale']:g})")
        w(f"  funnel  reported {f['reported']:,} > registered {f['registered']:,} > forwarded {f['forwarded']:,}"
          f" > recommended {f['recommended']:,} ({_pct(r['recommended_of_reported'])} of reported)"
          f" > followed up {f['followed_up']:,} ({_pct(r['followed_up_of_recommended'])} of recommended)")
        if "published" in s:
            p = s["published"]
            w(f"  published: {p['reported']:,} > {p['recommended']:,} ({_pct(p['recommended_rate'])}) > "
              f"{p['followed_up']:,} ({_pct(p['followed_up_rate'])})")
        if "published_parts" in s:
            parts = ", ".join(f"{k.replace('_', ' ')} {v['cases']}" for k, v in s["published_parts"].items())
            w(f"  on {s['as_of'][:10]}: {parts}")
        w(f"  overdue marks {s['overdue_marks']:,}, escalations {s['escalated']}, blocked {s['blocked']} "
          f"(unblocked {s['unblocked']}), lighter sanctions {s['lighter_sanctions']}, "
          f"backdated entries {s['backdated_events']}")
        if s["slowest_ppks"]:
            w("  slowest PPKs (median days from recommendation to follow-up; open cases count until "
              f"{s['as_of'][:10]}):")
            for row in s["slowest_ppks"]:
                w(f"    {row['ppk']:<32} {row['median_days']:>6.1f} days  {row['followed_up']}/"
                  f"{row['recommendations']} followed up")
        w()
    w(f"Open the notebooks on this store with:  {notebooks_command(notebooks_store)}")


def notebooks_command(store=None) -> str:
    """How to open the notebooks (they read JEJAK_DB, else the repository's jejak.db) on this store."""
    jupyter = Path(sys.executable).with_name("jupyter")
    command = f"{jupyter if jupyter.exists() else 'jupyter'} lab notebooks/"
    if store is None:
        return command
    url = str(store) if store.is_postgres else f"sqlite:///{Path(store.database).resolve()}"
    return f"JEJAK_DB={url} {command}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
