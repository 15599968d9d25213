"""The path a case took, as an SVG that needs no script (drawn by matplotlib, which notebooks already use): one
box per state in the order visited, an arrow per change of state labelled with its trigger, and the internal
transitions (the state stays: `mark_overdue`, `block_personnel_data`, …) listed beside the state they happened
in. Unlike the era's whole diagram (mermaid, which needs a script and squeezes every state into the notebook's
width), it shows only what this case went through, readable at any width and in an offline HTML export."""

from __future__ import annotations

import io

BOX_W, BOX_H, STEP = 3.2, 0.55, 1.1


def _stops(path: list[tuple[str, str, str]]) -> list[dict]:
    """The states in the order visited, each with the trigger that led there and the internal ones inside it."""
    stops = [{"state": path[0][0] if path else "new", "via": None, "inside": []}]
    for before, trigger, after in path:
        if before == after:
            stops[-1]["inside"].append(trigger)
        else:
            stops.append({"state": after, "via": trigger, "inside": []})
    return stops


def path_svg(path: list[tuple[str, str, str]], current: str | None = None) -> str:
    """The SVG text for a path of (state before, trigger, state after)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    stops = _stops(path)
    height = STEP * len(stops) + 0.4
    figure = Figure(figsize=(7.5, height * 0.75), layout="none")  # the axes fill it: no tight layout
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(-height + 0.5, 0.6)
    ax.axis("off")
    for i, stop in enumerate(stops):
        y = -i * STEP
        here = stop["state"] == current and i == len(stops) - 1
        ax.add_patch(FancyBboxPatch((0.4, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.05",
                                    facecolor="#1f5fa0" if here else "#e8eef5", edgecolor="#1f5fa0"))
        ax.text(0.4 + BOX_W / 2, y, stop["state"], ha="center", va="center", fontsize=10,
                color="white" if here else "#1b1b1b", fontweight="bold" if here else "normal")
        if stop["inside"]:
            ax.text(0.4 + BOX_W + 0.3, y, "↻ " + ", ".join(stop["inside"]), ha="left", va="center", fontsize=9,
                    color="#4a4a4a")
        if i:
            ax.annotate("", xy=(0.4 + BOX_W / 2, y + BOX_H / 2 + 0.05), xytext=(0.4 + BOX_W / 2, y + STEP - BOX_H / 2 - 0.05),
                        arrowprops={"arrowstyle": "-|>", "color": "#1b1b1b"})
            ax.text(0.4 + BOX_W / 2 + 0.15, y + STEP / 2, stop["via"], ha="left", va="center", fontsize=9,
                    style="italic", color="#1b1b1b")
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: selectable, searchable, small
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


class PathDiagram:
    """Shows as SVG in Jupyter (and in an nbconvert HTML export, offline); `svg` is the text."""

    def __init__(self, path: list[tuple[str, str, str]], current: str | None = None):
        self.path, self.current = path, current

    @property
    def svg(self) -> str:
        return path_svg(self.path, self.current)

    def _repr_svg_(self) -> str:
        return self.svg
