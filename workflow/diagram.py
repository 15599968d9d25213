"""The workflow as a mermaid state diagram, drawn by transitions' own mermaid engine (no graphviz)."""

from __future__ import annotations

from types import SimpleNamespace

from transitions.extensions.diagrams import GraphMachine

from workflow.definitions import NEW, STATES, Era


def mermaid(era: Era, state: str = NEW) -> str:
    """``stateDiagram-v2`` text; `state` is drawn as the active one (a case's current state)."""
    table = [{k: row[k] for k in ("trigger", "source", "dest") if k in row} for row in era.transitions]
    probe = SimpleNamespace()  # GraphMachine needs a model to draw; this one only carries the state
    GraphMachine(model=probe, states=STATES, transitions=table, initial=state, auto_transitions=False,
                 graph_engine="mermaid", title=f"Jejak workflow {era.version}", show_conditions=False)
    return probe.get_graph().draw(None)
