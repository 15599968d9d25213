"""`jejak demo`: fill the store with the calibrated synthetic dataset (the demo package) and summarize it."""

from __future__ import annotations

import argparse
import sys

from entrypoints.bootstrap import open_jejak
from demo.generator import ELECTIONS, DemoClock, DemoPresent, generate
from demo.summary import print_summary


def register(subparsers) -> None:
    """Add `jejak demo`. Sets ``func(args) -> int``; ``args.db`` and ``args.json`` exist."""
    p = subparsers.add_parser("demo", help="fill the store with a calibrated demo dataset and summarize it",
                              description="Generate synthetic, realistic cases through the real commands, "
                                          "calibrated on the published figures (pilkada 2020: KASN; "
                                          "pilkada 2024: BKN).")
    p.add_argument("--election", choices=[*ELECTIONS, "all"], default="pilkada-2020",
                   help="which election to simulate (default: pilkada-2020)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same data (default 0)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the number of cases, e.g. 10 for benchmarks (default 1)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    # like the other subcommands, --db and --json may also follow the subcommand
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="store URL: sqlite:///FILE or postgresql://… (default: $JEJAK_DB or jejak.db)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable summary")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    import json

    names = list(ELECTIONS) if args.election == "all" else [args.election]
    clock = DemoClock()
    with open_jejak(args.db, clock=clock) as app:
        result = {"seed": args.seed, "scale": args.scale, "elections": {}}
        for name in names:
            try:  # a run killed part-way is completed; a complete one is left alone
                part = generate(app, name, seed=args.seed, scale=args.scale,
                                progress=getattr(args, "progress", True), resume=True)
            except DemoPresent:
                print(f"jejak demo: the store {app.url.render_as_string(hide_password=True)} already holds the "
                      f"{name} demo data; nothing added for it (use a fresh --db to make another)", file=sys.stderr)
                continue
            result["elections"].update(part["elections"])
        if not result["elections"]:
            return 1
        store = app.store
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_summary(result, notebooks_store=store)
    return 0
