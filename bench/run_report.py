"""bench/run.py's tables: the figures of a run (or of earlier runs' --json files) as Markdown, and the targets."""

from __future__ import annotations


def fmt_rate(x: float | None) -> str:
    return "—" if x is None else f"{x / 1000:.1f}k"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def report(results: list[dict]) -> str:
    out = []
    write = []
    for r in results:
        imp, b, a, c = r["import"], r["plain_batched"], r["plain_single"], r["raw"]
        demo = r.get("demo")
        imp1 = r.get("import_1")
        write.append([r["store"], f"{r['scale']:g}×", f"{imp['cases']:,}", f"{imp['events']:,}",
                      fmt_rate(imp["rate"]), fmt_rate(imp1["rate"]) if imp1 else "—",
                      f"{imp1['rate'] / b['rate']:.2f}" if imp1 else "—",
                      fmt_rate(demo["rate"]) if demo else "—", fmt_rate(a["rate"]),
                      fmt_rate(b["rate"]), fmt_rate(c["rate"]), f"{imp['rate'] / b['rate']:.2f}",
                      f"{imp['rate'] / a['rate']:.1f}", f"{imp['rate'] / c['rate']:.0%}",
                      f"{imp['bytes_per_event']:.0f} / {b['bytes_per_event']:.0f}",
                      f"{imp['state_bytes']:.0f} / {b['state_bytes']:.0f}"])
    workers = results[0].get("workers", "?") if results else "?"
    repeat = results[0].get("repeat", 1) if results else 1
    out.append(f"Write throughput, events/s, fastest of {repeat} round(s) each (import = `jejak import` with full "
               f"validation, as it runs here: {workers} "
               "worker processes; import 1 proc = `--workers 1`; demo gen = demo.generator.generate; (a) plain "
               "eventsourcing one save per command, (b) plain save(*500 aggregates), (c) raw executemany/COPY; "
               "ratios are import over them)")
    out.append(table(write, ["store", "scale", "cases", "events", "import", "import 1 proc", "1 proc/(b)", "demo gen",
                             "(a) 1/cmd", "(b) batched",
                             "(c) raw", "import/(b)", "import/(a)", "import/(c)", "store B/event jejak/plain",
                             "state B/event jejak/plain"]))
    read = [[r["store"], f"{r['scale']:g}×", f"{r['read']['events']:,}", fmt_rate(r["read"]["catch_up_rate"]),
             f"{r['read']['catch_up_s']:.1f}", fmt_rate(r["read"]["rebuild_rate"]), f"{r['read']['rebuild_s']:.1f}",
             f"{r['commands']['p50_ms']:.2f}", f"{r['commands']['p99_ms']:.2f}",
             f"{r['commands']['cli_s']:.2f} (min {r['commands']['cli_min_s']:.2f})"] for r in results]
    out.append(f"\nRead side and commands, fastest of {repeat} round(s) (catch-up from zero; rebuild of case_summary "
               "+ case_event; one `advance` in-process; one `jejak advance` process: median of its round's calls)")
    out.append(table(read, ["store", "scale", "events", "catch-up ev/s", "catch-up s", "rebuild ev/s",
                            "rebuild s", "cmd p50 ms", "cmd p99 ms", "CLI advance s"]))
    names = list(results[0]["read"]["audits"]) if results else []
    audit_rows = [[name, *[f"{r['read']['audits'][name]:.2f}" for r in results]] for name in names]
    out.append(f"\nAudits, seconds, fastest of {repeat} round(s)")
    out.append(table(audit_rows, ["audit", *[f"{r['store']} {r['scale']:g}×" for r in results]]))
    out.append("\n" + targets(results))
    return "\n".join(out)


def targets(results: list[dict]) -> str:
    lines = ["Targets (issue 5):"]

    def check(ok: bool, text: str) -> None:
        lines.append(f"  [{'met' if ok else 'MISSED'}] {text}")

    for r in results:
        imp, tag = r["import"], f"{r['store']} {r['scale']:g}×"
        check(imp["rate"] >= r["plain_batched"]["rate"],
              f"{tag}: import ≥ 1.0× plain batched: {imp['rate'] / r['plain_batched']['rate']:.2f}×")
        check(imp["rate"] >= 10 * r["plain_single"]["rate"],
              f"{tag}: import ≥ 10× one save per command: {imp['rate'] / r['plain_single']['rate']:.1f}×")
        check(imp["rate"] >= 0.25 * r["raw"]["rate"],
              f"{tag}: import ≥ 25% of raw: {imp['rate'] / r['raw']['rate']:.0%}")
        if r["store"] == "sqlite":
            check(r["read"]["catch_up_rate"] >= 30000, f"{tag}: catch-up ≥ 30k ev/s: {r['read']['catch_up_rate']:.0f}")
        limit = 1.0 if r["store"] == "sqlite" else 2.5
        check(r["commands"]["p50_ms"] <= limit, f"{tag}: command p50 ≤ {limit} ms: {r['commands']['p50_ms']:.2f}")
        check(r["commands"]["cli_s"] <= 0.4, f"{tag}: jejak advance ≤ 0.4 s: {r['commands']['cli_s']:.2f}")
    largest = max(r["scale"] for r in results) if results else 0
    for r in results:
        if r["scale"] != largest:
            continue
        cases = r["import"]["cases"]
        if cases >= 90_000:
            check(r["read"]["rebuild_s"] < 60, f"{r['store']} {largest:g}×: rebuild of {cases:,} cases < 60 s: "
                                                f"{r['read']['rebuild_s']:.1f}")
        slowest = max(r["read"]["audits"].items(), key=lambda kv: kv[1])
        text = (f"{r['store']} {largest:g}× ({cases:,} cases): every audit < 2 s on 100k cases: "
                f"slowest {slowest[0]} {slowest[1]:.2f} s")
        if cases >= 90_000:
            check(slowest[1] < 2, text)
        else:
            lines.append(f"  [n/a] {text} (run --scales 50 for 100k cases)")
    return "\n".join(lines)
