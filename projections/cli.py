"""Read-side subcommands of the `jejak` CLI (project, audit, verify), registered by workflow.cli."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add read-side subcommands. Each sets ``func(args) -> int``; ``args.db`` and ``args.json`` exist."""
