"""Small programs that the concurrency and crash-safety tests run as real OS processes.

    python -m tests.process_support MODE JSON_ARGS

Modes:
``write``   one concurrent writer: random legal commands (and new reports) on shared cases, each outcome logged
            as a JSON line (``saved`` with the case version it wrote, ``refused`` with the error, ``retry``);
``follow``  a read side catching up in a loop (small pages) until a stop file appears, then once more;
``bulk``    saves batches of whole cases with ``app.record_cases`` (one transaction per batch), printing
            ``committed N`` after each; a batch already in the store is refused whole and reported ``present N``;
            ``hold_batch`` parks the process inside that batch's transaction (rows inserted, not committed);
``catchup`` ``ReadSide(app, page_size, batch_rows).catch_up()`` (``batch_rows`` 0 by default: a transaction a
            page); ``hold_page`` parks it inside the transaction of that page, after the projections have written
            their rows and before the positions move;
``first_use`` at an agreed moment, opens the store, files a report and lists the cases (a new store's tables
            are created by whichever process comes first).
A parked process prints ``holding`` and sleeps: the test then kills it with SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from workflow import decisions, rules
from workflow.application import Jejak
from workflow.definitions import DEPARTURE_REASONS, ESCALATION_TARGETS, FINAL_STATES, get_era
from workflow.errors import ConcurrentUpdate, IllegalTransition

WIB = timezone(timedelta(hours=7))
T0 = datetime(2024, 10, 1, 9, 0, tzinfo=WIB)
HOUSEKEEPING = {"erase_reporter", "mark_overdue"}  # not fired by the random writers
PLACES = [("pemkab-bima", "prov-ntb", "kab-bima"), ("pemkot-kediri", "prov-jatim", "kota-kediri"),
          ("kementerian-pupr", "prov-dki", None)]


def report_fields(rng: random.Random | None = None, **extra) -> dict:
    agency, province, regency = (rng or random).choice(PLACES)
    fields = dict(name="Budi Santoso", position_group="administrator", agency=agency, province=province,
                  category="social_media", election="pilkada-2024", reporter_name="Siti Aminah", **extra)
    if regency:
        fields["regency"] = regency
    return fields


def actor_for(role: str, case, tag: str) -> str:
    if role == "bawaslu":
        return f"bawaslu:{case.region['regency'] or case.region['province']}@{tag}"
    if role == "ppk":
        return f"ppk:{case.ppk}@{tag}"
    if role in ("kasn", "bkn"):
        return f"{role}@{tag}"
    return role


def fields_for(trigger: str, era, rng: random.Random, n: int) -> dict:
    if trigger == "recommend":
        return {"track": "discipline", "sanction": rng.choice(sorted(era.discipline))}
    if trigger == "impose_sanction":
        return {"sanction": rng.choice(sorted(era.discipline)), "decree_number": f"800/{n}/2024"}
    if trigger == "escalate":
        return {"to": rng.choice(ESCALATION_TARGETS)}
    if trigger == "record_departure":
        return {"reason": rng.choice(DEPARTURE_REASONS)}
    return {}


def pick_command(case, rng: random.Random, tag: str, n: int):
    """A trigger that is legal on this snapshot of the case, an actor allowed to fire it, and its fields.
    Closing triggers are chosen less often so that cases stay open for the others to race on."""
    era = get_era(case.era)
    facts = decisions.facts(case, datetime.now(timezone.utc))
    legal = [t for t in rules.legal_triggers(era, case.state, facts) if t not in HOUSEKEEPING]
    if not legal:
        return None
    dests = {t: rules.destination(era, case.state, t, facts) for t in legal}
    closing = [t for t in legal if dests[t] in FINAL_STATES]
    moving = [t for t in legal if t not in closing]
    trigger = rng.choice(closing if closing and (not moving or rng.random() < 0.08) else moving)
    role = rng.choice(sorted(rules.roles_for(era, case.state, trigger)))
    return trigger, actor_for(role, case, tag), fields_for(trigger, era, rng, n)


# --- modes ----------------------------------------------------------------------------------------------------

def write(args: dict) -> None:
    rng = random.Random(args["seed"])
    tag = f"w{args['worker']}"
    hot, pool = list(args["hot"]), list(args["cases"])
    closed: set[str] = set()
    deadline = time.monotonic() + args["seconds"]

    def clock():  # called after the case is loaded and before it is saved: widen the race window a little
        time.sleep(rng.random() * args.get("jitter", 0.003))
        return datetime.now(timezone.utc)

    with Jejak(args["db"], clock=clock) as app, open(args["log"], "a", encoding="utf-8") as log:
        def out(**record):
            log.write(json.dumps(record) + "\n")
            log.flush()

        for n in range(args["commands"]):
            if time.monotonic() > deadline:
                out(op="timeout", n=n)
                break
            if rng.random() < args.get("report_share", 0.1):
                case_id = app.report("reporter", occurred_at=T0, external_ref=f"{tag}-{n}", **report_fields(rng))
                pool.append(str(case_id))
                out(op="saved", case=str(case_id), version=1, trigger="report", attempt=0)
                continue
            open_hot = [c for c in hot if c not in closed]
            open_pool = [c for c in pool if c not in closed] or pool
            case_id = rng.choice(open_hot if open_hot and rng.random() < args.get("hot_share", 0.5) else open_pool)
            command = pick_command(app.get_case(case_id), rng, tag, n)
            if command is None:
                closed.add(case_id)  # nothing left to do on it (for this writer): pick among the others
                out(op="closed", case=case_id)
                continue
            trigger, actor, fields = command
            for attempt, retries in enumerate((0, args["retries"])):
                try:
                    case = app.advance(case_id, trigger, actor, retries=retries, **fields)
                except (ConcurrentUpdate, IllegalTransition) as error:
                    out(op="refused", case=case_id, trigger=trigger, attempt=attempt, error=type(error).__name__,
                        message=str(error))
                    if isinstance(error, ConcurrentUpdate) and attempt == 0:
                        continue  # retry with retries=N
                    break
                except Exception as error:  # noqa: BLE001 - the test asserts there are none
                    out(op="unexpected", case=case_id, trigger=trigger, error=type(error).__name__,
                        message=str(error))
                    break
                out(op="saved", case=case_id, version=case.version, trigger=trigger, attempt=attempt)
                break
        out(op="done")


def follow(args: dict) -> None:
    from projections.readside import ReadSide

    failures = 0
    with Jejak(args["db"]) as app:
        read_side = ReadSide(app, page_size=args.get("page_size", 50))
        while not os.path.exists(args["stop"]):
            try:
                read_side.catch_up()
            except Exception as error:  # noqa: BLE001 - counted; a follower retries on its next round
                failures += 1
                print(f"catch-up failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            time.sleep(0.01)
        applied = read_side.catch_up()
    print(json.dumps({"failures": failures, "last_applied": applied}), flush=True)


def bulk_cases(app: Jejak, batch: int, size: int) -> list:
    """Batch `batch`: `size` cases, each reported and advanced three steps, with idempotency keys."""
    cases = []
    for i in range(size):
        case = app.new_case("reporter", occurred_at=T0, **report_fields(external_ref=f"bulk-{batch}-{i}"))
        for k, trigger in enumerate(("begin_review", "register", "forward"), start=1):
            actor = actor_for("bawaslu", case, "bulk")
            app.apply_trigger(case, trigger, actor, occurred_at=T0 + timedelta(days=k))
        cases.append(case)
    return cases


def hold_inside_transaction(app: Jejak) -> None:
    """Make the next save park inside its transaction, after its rows are sent and before the commit."""
    recorder = app.recorder
    name = "_fetch_ids_after_insert_events" if app.store.is_postgres else "_insert_events"
    original = getattr(recorder, name)

    def parked(*a, **kw):
        result = original(*a, **kw)
        print("holding", flush=True)
        time.sleep(60)
        return result

    setattr(recorder, name, parked)


def bulk(args: dict) -> None:
    with Jejak(args["db"]) as app:
        for batch in range(args["batches"]):
            cases = bulk_cases(app, batch, args["size"])
            if batch == args.get("hold_batch"):
                hold_inside_transaction(app)
            try:
                app.record_cases(*cases)
            except ConcurrentUpdate:
                print(f"present {batch}", flush=True)  # already saved by an earlier run: refused whole
                continue
            print(f"committed {batch}", flush=True)


def catchup(args: dict) -> None:
    from projections.readside import ReadSide

    with Jejak(args["db"]) as app:
        hold = args.get("hold_page")
        # held in a page of the Python projectors' one transaction (PostgreSQL's own case_event runs beside it)
        read_side = ReadSide(app, page_size=args["page_size"], batch_rows=args.get("batch_rows", 0),
                             in_database=False if hold is not None else None)
        if hold is not None:
            projector = read_side.projectors[1]  # case_event, after case_summary has written its rows
            original, pages = projector.apply, []

            def parked(conn, events):
                original(conn, events)
                pages.append(1)
                if len(pages) == hold:
                    print("holding", flush=True)
                    time.sleep(60)

            projector.apply = parked
        applied = read_side.catch_up()
    print(f"applied {applied}", flush=True)


def first_use(args: dict) -> None:
    """Wait for the agreed moment, then open the store, file a report and query the read side."""
    from projections.readside import ReadSide

    while time.time() < args["at"]:
        time.sleep(0.0005)
    with Jejak(args["db"]) as app:
        case_id = app.report("reporter", occurred_at=T0, **report_fields())
        assert str(case_id) in {row["case_id"] for row in ReadSide(app).cases()}
    print("ok", flush=True)


if __name__ == "__main__":
    mode, raw = sys.argv[1], sys.argv[2]
    {"write": write, "follow": follow, "bulk": bulk, "catchup": catchup,
     "first_use": first_use}[mode](json.loads(raw))
