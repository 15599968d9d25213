"""One place that wires the write side to the read side: the application is handed the read model's query for
cases whose deadline has passed (a port, as *Architecture Patterns with Python* does), so that `workflow`
never imports `projections`."""

from __future__ import annotations

from workflow.application import Jejak


def open_jejak(db: str | None = None, **options) -> Jejak:
    """The application on a store (``--db`` URL, else ``JEJAK_DB``, else ``jejak.db``), with `tick` able to find
    the cases whose deadline has passed through the read side. Use it as a context manager."""
    app = Jejak(db, **options)
    app.due_cases = _due_cases_of(app)
    return app


def _due_cases_of(app: Jejak):
    def due_cases(now):
        from projections.readside import ReadSide  # the read side is imported only when a tick runs

        return ReadSide(app).due_cases(now)

    return due_cases
