"""The authorization matrix, generated from the era definitions (the README embeds this output).

Run ``python -m workflow.matrix`` to print it as Markdown.
"""

from __future__ import annotations

from workflow.definitions import ERAS

# Lifecycle order (as the era files write it), each trigger once.
TRIGGER_ORDER = list(dict.fromkeys(row["trigger"] for era in ERAS.values() for row in era.table))


def roles_by_trigger(era_id: str) -> dict[str, list[str]]:
    roles: dict[str, set[str]] = {}
    for row in ERAS[era_id].transitions:
        roles.setdefault(row["trigger"], set()).update(row["roles"])
    return {trigger: sorted(r) for trigger, r in roles.items()}


def markdown() -> str:
    eras = list(ERAS)
    by_era = {era: roles_by_trigger(era) for era in eras}
    lines = ["| trigger | " + " | ".join(f"`{era}`" for era in eras) + " |",
             "|---|" + "---|" * len(eras)]
    for trigger in TRIGGER_ORDER:
        cells = [", ".join(by_era[era].get(trigger, [])) or "—" for era in eras]
        lines.append(f"| `{trigger}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
