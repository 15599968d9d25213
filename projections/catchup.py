"""Pull-based catch-up: read the notification log after the projections' positions, apply it page by page, and
write the rows and the new positions in one transaction (a batch of pages).

Works on SQLite (which has no subscription) and PostgreSQL alike. Each page is read once and given to every
projection that has not applied it yet. A projection may hold rows back across the pages of a batch
(`case_summary` folds each case's events into its row and writes the row once a batch): on a log where cases
interleave, as in life, a page of 20,000 events touches up to 20,000 cases, and rewriting each touched row
every page made a catch-up's cost per event grow with the store (issue 23). A batch ends at the end of the log,
when a projection holds ``batch_rows`` rows back (memory: ~4 KB a row with the values it holds), or after
``batch_seconds`` (on SQLite the read side's transaction keeps the store's writers waiting, and they give up after
30 s). Held rows are written when they reach ``batch_rows`` or the log ends, not at a commit made for the time:
their projection's position then stays behind the others' until they are.

Where PostgreSQL makes `case_event` and the chain copy itself (projections.case_event_sql, event_chain_sql), each
catches up in a transaction and server process of its own, beside this process, which folds `case_summary` from
the `case_event` rows committed (projections.case_event_feed) rather than from the log: the JSON is decoded once.

The positions are locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers) and advanced with a
compare-and-set, so two catch-ups racing on one page cannot both apply it: the slower one rolls back and starts
over from the new positions. A process killed mid-batch leaves the previous commit intact and the next run redoes
only that batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from projections.case_event_feed import CaseEventFeed, Committed, feeds
from projections.row_writer import paused_gc
from projections.tables import projection_position
from workflow.case import Case

PAGE_SIZE = 20000
BATCH_ROWS = 120_000  # a decade's cases (~10^5, docs/scaling.md): a rebuild writes each row once
BATCH_SECONDS = {"sqlite": 10.0, "postgresql": 60.0}
RETRIES = 5
END_OF_LOG = 2**63 - 1


class Projector(Protocol):
    name: str

    def apply(self, conn: Connection, events: list[tuple[int, Case.Event, str]]) -> None:
        """Apply a page of (notification id, event, case id) in log order, within the caller's transaction.
        A projector with ``raw = True`` gets the stored notifications instead. One that holds rows back across
        pages also has ``held_rows() -> int``, ``flush(conn)`` (write them), ``discard()`` (forget them: the
        transaction rolled back, or they are stale), ``carried_over()`` (they outlived a commit: anything valid in
        one transaction only is not any more) and ``holding``, which the catch-up sets when rows are kept past a
        commit: (its committed position, the position its rows reach), None while it holds nothing. One that
        PostgreSQL runs (``in_database = True``) has ``project(conn, after, until, limit) -> (count, last id)``
        instead, given positions, not events."""


class CatchUpConflict(RuntimeError):
    """Another catch-up applied this page first; this one was rolled back and can simply run again."""


def ensure_positions(conn: Connection, names: Iterable[str]) -> None:
    known = set(conn.execute(select(projection_position.c.projection)).scalars())
    missing = [{"projection": name, "position": 0} for name in names if name not in known]
    if missing:
        try:
            with conn.begin_nested():
                conn.execute(projection_position.insert(), missing)
        except IntegrityError:
            pass  # created by a concurrent catch-up


def locked_positions(conn: Connection, names: list[str]) -> dict[str, int]:
    """The projections' positions, locked until the transaction ends (PostgreSQL; SQLite serialises writers). Take
    them before touching a read model's table, as every catch-up and rebuild does: in any other order, a rebuild
    and a catch-up can each hold what the other waits for."""
    ensure_positions(conn, names)
    query = (select(projection_position.c.projection, projection_position.c.position)
             .where(projection_position.c.projection.in_(names))
             .order_by(projection_position.c.projection))  # locked in one order by every transaction
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return dict(conn.execute(query).all())


def catch_up(app, engine: Engine, projectors: Projector | Sequence[Projector], page_size: int = PAGE_SIZE,
             batch_rows: int = BATCH_ROWS, batch_seconds: float | None = None,
             on_page: Callable[[int], None] | None = None, up_to: int | None = None) -> int:
    """Apply every notification after each projector's position (up to position `up_to`, else the log's end);
    returns how many were read and applied (the most any projector applied). `on_page(n)` is told of each page
    applied (not yet committed: a progress bar's; with projectors PostgreSQL runs beside, of the events both sides
    have applied).

    Projectors that PostgreSQL runs itself (``in_database``, projections.case_event_sql) catch up each in
    transactions of its own on a connection of its own, at the same time as the others: PostgreSQL works beside
    this process, which folds the rest; from `case_event`'s committed rows when PostgreSQL makes them."""
    if not isinstance(projectors, Sequence):
        projectors = [projectors]
    in_database = [p for p in projectors if getattr(p, "in_database", False)]
    in_python = [p for p in projectors if p not in in_database]

    if not in_database:
        return _until_done(lambda: catch_up_batch(app, engine, in_python, page_size, batch_rows, batch_seconds,
                                                  on_page, up_to))
    progress = _SlowerSide(on_page, ["python", *(p.name for p in in_database)])
    stop = threading.Event()  # this side failed or was interrupted (Ctrl-C): the other stops after its page
    # both sides go up to the same end of the log, as it is now: an event committed meanwhile is left to the next
    # catch-up by both, not applied by one now and by the other next time (then counted in both catch-ups)
    until = up_to if up_to is not None else app.recorder.max_notification_id() or 0
    feed = None
    if feeds(in_python, in_database):  # the Python side folds the rows PostgreSQL's side commits
        # known once that side's first transaction ends, which tells its position even when it applies nothing:
        # no transaction of its own to read it first
        committed = Committed(0)
        feed = CaseEventFeed(app, committed)

    def python_batch() -> int:
        return catch_up_batch(app, engine, in_python, page_size, batch_rows, batch_seconds,
                              lambda n: progress.applied("python", n), up_to=until,
                              feed=feed.read if feed else None)

    def database_side(projector: Projector) -> int:
        feeding = feed is not None and projector.name == "case_event"

        def page() -> int:
            count = 0 if stop.is_set() else catch_up_in_database(
                engine, [projector], page_size, until,
                on_commit=(lambda reached: committed.advance(reached[projector.name])) if feeding else None)
            progress.applied(projector.name, count)
            return count

        try:
            return _until_done(page)
        finally:
            if feeding:
                committed.end()

    # each projector PostgreSQL runs in its own transaction, on a connection and a server process of its own: since
    # the Python side no longer decodes the log, it leaves room on its core for a second one
    with ThreadPoolExecutor(max_workers=len(in_database), thread_name_prefix="catch-up-in-database") as pool:
        besides = [pool.submit(progress.side, p.name, database_side, p) for p in in_database]
        try:
            applied = progress.side("python", _until_done, python_batch if in_python else lambda: 0)
        except BaseException:
            stop.set()
            raise
        return max(applied, *(beside.result() for beside in besides))


class _SlowerSide:
    """Tells `on_page` of the events both sides of a catch-up have applied, each counted from where it began: a
    progress bar then follows the slower side, and is full only when both are done (a side that has ended no
    longer holds it back)."""

    def __init__(self, on_page: Callable[[int], None] | None, sides: list[str]):
        self.on_page = on_page
        self.counts = dict.fromkeys(sides, 0)
        self.ended: set[str] = set()
        self.told = 0
        self.lock = threading.Lock()

    def side(self, name: str, run: Callable, *args) -> int:
        try:
            return run(*args)
        finally:
            with self.lock:
                self.ended.add(name)
                self._tell()

    def applied(self, name: str, count: int) -> None:
        with self.lock:
            self.counts[name] += count
            self._tell()

    def _tell(self) -> None:
        running = [count for name, count in self.counts.items() if name not in self.ended]
        reached = min(running) if running else max(self.counts.values())
        if self.on_page is not None and reached > self.told:
            self.on_page(reached - self.told)
            self.told = reached


def _until_done(batch: Callable[[], int]) -> int:
    """Run batches until one applies nothing; a batch that lost a race with another catch-up is run again."""
    applied = 0
    conflicts = 0
    while True:
        try:
            count = batch()
        except (CatchUpConflict, IntegrityError, OperationalError) as error:
            # a concurrent catch-up got there first (or SQLite stayed locked): start over from the positions
            conflicts += 1
            if conflicts > RETRIES or (isinstance(error, OperationalError) and "lock" not in str(error).lower()):
                raise
            time.sleep(0.05 * conflicts)
            continue
        if count == 0:
            return applied
        applied += count


def catch_up_in_database(engine: Engine, projectors: Sequence[Projector], limit: int = PAGE_SIZE,
                         until: int = END_OF_LOG, on_commit: Callable[[dict[str, int]], None] | None = None) -> int:
    """One transaction in which each projector PostgreSQL runs applies up to `limit` events after its position;
    returns the most any applied (0: done). `on_commit` is told each projector's position once committed."""
    with engine.begin() as conn:
        plan_as_lookups(conn)
        starts = locked_positions(conn, [p.name for p in projectors])
        reached = dict(starts)
        applied = 0
        for projector in projectors:
            count, reached[projector.name] = projector.project(conn, starts[projector.name], until, limit)
            if count:
                _advance(conn, projector.name, starts[projector.name], reached[projector.name])
            applied = max(applied, count)
    if on_commit is not None:
        on_commit(reached)
    return applied


def plan_as_lookups(conn: Connection) -> None:
    """Every statement of a page looks up rows the page names (the state before an event, the summary rows it
    folds on, those rows' deletion): its cost must follow the page, never the store. PostgreSQL's planner picks a
    sequential scan of the whole table once such a list is long next to the table (and would compile the
    statement to machine code first: JIT, ~35 ms, longer than running it); one scan a page makes a catch-up's
    cost grow with the square of the store. So, for this transaction only, the lookups go through the indexes
    (tests/test_read_side_plans.py checks the plans). The statements PostgreSQL projects itself read their page of
    the log in order from its index: a bitmap scan would read and sort every event after the page (the planner,
    unsure how many there are, may take it for a few), and a catch-up would grow as the square again."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        conn.exec_driver_sql("SET LOCAL jit = off")


def catch_up_page(app, engine: Engine, projectors: Sequence[Projector], page_size: int = PAGE_SIZE) -> int:
    """Apply one page to every projector that is behind, in one transaction; returns its length (0: done)."""
    return catch_up_batch(app, engine, projectors, page_size, batch_rows=0)


def catch_up_batch(app, engine: Engine, projectors: Sequence[Projector], page_size: int = PAGE_SIZE,
                   batch_rows: int = BATCH_ROWS, batch_seconds: float | None = None,
                   on_page: Callable[[int], None] | None = None, up_to: int | None = None,
                   feed: Callable[[Connection, int, int, int], list] | None = None) -> int:
    """Apply pages to every projector that is behind, in one transaction, until the log ends (or position `up_to`),
    a projector holds `batch_rows` rows back or `batch_seconds` have passed; returns how many events were applied
    (0: done).

    A projector that holds rows keeps them past a commit made for the time (its position stays where its table
    is, and the next batch goes on from where it had folded): on SQLite, where batches end after a few seconds,
    writing every held row at each commit rewrote most cases' rows several times over on a large store. It
    writes them once it holds `batch_rows` rows or the log ends; if another catch-up moved its position
    meanwhile, what it holds is stale, and it starts again from the new position.

    `feed(conn, after, size, up_to)`: where the pages come from instead of the log (projections.case_event_feed),
    as (notification id, event, case id), up to `up_to`; a short page is then no end of the log."""
    if batch_seconds is None:
        batch_seconds = BATCH_SECONDS.get(engine.dialect.name, 10.0)
    began = time.monotonic()
    names = [p.name for p in projectors]
    holders = [p for p in projectors if hasattr(p, "flush")]
    try:
        with engine.begin() as conn:
            plan_as_lookups(conn)
            starts = locked_positions(conn, names)
            reached = dict(starts)  # how far each projector has applied the log, committed or held
            for holder in holders:
                since, until = holder.holding or (None, None)
                if since == starts[holder.name]:
                    holder.carried_over()  # its rows outlived the last commit
                    reached[holder.name] = until
                elif since is not None:  # another catch-up moved its position: what it holds is stale
                    holder.discard()
            last = min(reached.values())
            applied, ended = 0, False
            with paused_gc():  # pages make millions of objects, none cyclic: collections would only rescan them
                while True:
                    if feed is None:
                        notifications = _page(app, last, page_size, up_to)
                        if notifications:
                            _apply_page(conn, app, notifications, projectors, reached)
                        count, last = len(notifications), notifications[-1].id if notifications else last
                    else:
                        events = feed(conn, last, page_size, up_to)
                        _apply_events(conn, events, projectors, reached)
                        count, last = len(events), events[-1][0] if events else last
                    if not count:
                        ended = True
                        break
                    applied += count
                    if on_page is not None:
                        on_page(count)
                    if (count < page_size) if feed is None else last >= up_to:
                        ended = True
                        break
                    if time.monotonic() - began >= batch_seconds \
                            or max((p.held_rows() for p in holders), default=0) >= batch_rows:
                        break
            for projector in projectors:
                end = max(last, reached[projector.name])
                if projector in holders:
                    if not ended and projector.held_rows() < batch_rows:
                        projector.holding = (starts[projector.name], end)  # kept past this commit
                        continue
                    projector.flush(conn)
                if starts[projector.name] < end:
                    _advance(conn, projector.name, starts[projector.name], end)
            return applied
    except BaseException:
        for projector in holders:  # what they held belongs to the transaction that rolled back
            projector.discard()
        raise


def _page(app, after: int, size: int, up_to: int | None) -> Sequence[Notification]:
    """The next page of the log, cut at `up_to` here rather than by the query: eventsourcing's statement bounded at
    both ends is planned by PostgreSQL's estimate of the range, and on a log that has grown since its statistics
    were taken it read and sorted every event after the page (50× store: 1.2 s a page against 8 ms); bounded below
    only, the index is read in order and stops at the page's end."""
    notifications = app.recorder.select_notifications(start=after, limit=size, inclusive_of_start=False)
    if up_to is not None and notifications and notifications[-1].id > up_to:
        notifications = [n for n in notifications if n.id <= up_to]
    return notifications


def _apply_page(conn: Connection, app, notifications: Sequence[Notification], projectors: Sequence[Projector],
                reached: dict[str, int]) -> None:
    events = _decode(app, notifications, projectors, reached)
    for projector in projectors:
        since = reached[projector.name]
        if getattr(projector, "in_database", False):
            if notifications[-1].id > since:
                projector.project(conn, since, notifications[-1].id, len(notifications))
        elif getattr(projector, "raw", False):
            behind = [n for n in notifications if n.id > since]
            if behind:
                projector.apply(conn, behind)
        else:
            _apply_events(conn, events, [projector], reached)


def _apply_events(conn: Connection, events: list[tuple[int, Case.Event, str]], projectors: Sequence[Projector],
                  reached: dict[str, int]) -> None:
    """Give each projector the page's events after its position."""
    for projector in projectors:
        since = reached[projector.name]
        behind = events if events and events[0][0] > since else [e for e in events if e[0] > since]
        if behind:
            projector.apply(conn, behind)


def _decode(app, notifications: Sequence[Notification], projectors: Sequence[Projector],
            starts: dict[str, int]) -> list[tuple[int, Case.Event, str]]:
    """The page's events as (notification id, domain event, case id as text), each decoded once, from the
    earliest position a projector of domain events needs."""
    since = min((starts[p.name] for p in projectors if not getattr(p, "raw", False)
                 and not getattr(p, "in_database", False)), default=None)
    if since is None:
        return []
    to_domain_event = app.mapper.to_domain_event
    events = []
    for n in notifications:
        if n.id > since:
            event = to_domain_event(n)
            events.append((n.id, event, str(event.originator_id)))
    return events


def _advance(conn: Connection, name: str, since: int, last: int) -> None:
    """Move a projection's position from `since` to `last`, or refuse if another catch-up moved it."""
    moved = conn.execute(update(projection_position)
                         .where(projection_position.c.projection == name, projection_position.c.position == since)
                         .values(position=last))
    if moved.rowcount != 1:
        raise CatchUpConflict(f"projection {name!r} moved past {since} meanwhile; rolled back")
