"""Hostile and broken input on the command line: only clear errors, never a traceback, nothing written.

The CLI runs in-process (``entrypoints.cli.main.main(argv)``) with hypothesis-generated arguments: case ids, triggers,
actors, ``--set`` pairs, times, notes and report fields made of huge strings, control characters, SQL injection
strings, unknown eras and states, plus JSON given with ``--from`` holding invalid UTF-8 or values of the wrong
type. Every run either succeeds or is refused with a non-zero exit code and one error line (``jejak: error: …``,
or argparse's ``jejak CMD: error: …`` after its usage line), and a refused command leaves the store as it was.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import TO_RECOMMENDED, new_case, walk
from workflow.application import Jejak
from entrypoints.cli.main import main
from workflow.definitions import TRIGGERS
from workflow.fields import REPORT_FIELDS

INJECTION = ["'; DROP TABLE stored_events; --", "' OR '1'='1", "Robert'); DROP TABLE case_summary;--",
             "\"; DELETE FROM subject_keys; --", "1; UPDATE stored_events SET state = NULL", "%s", "%(x)s", "{0}",
             "?", "$1", "\\x00"]
NASTY = INJECTION + ["", " ", "\x00", "\x07\x08", "\x1b[31mred\x1b[0m", "a\nb", "a\rb", "\u202eevil", "😀" * 10,
                     "x" * 100_000, "9" * 500, "-1", "---", "--db", "../../etc/passwd", "NaN", "null", "[]", "{}",
                     "pp-1999", "skb-2019", "BKN-2024", "2024-13-45", "2024-02-30T25:61", "0000-00-00",
                     "9999-12-31T23:59:59+14:00", "2024-10-01T09:00+99:00", "1e309", "ri", "bawaslu:", "bawaslu:ri@",
                     "ppk:pemkab-", ":", "@", "reporter@" + "x" * 200]
# ("--" itself is left out: Python 3.11's argparse turns "--opt=--" into a list; tested on its own below)
hostile = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                    st.text(alphabet=st.characters(max_codepoint=0x1f) | st.sampled_from("';-\"\\%"), max_size=20)
                    ).filter(lambda text: text != "--")
GOOD_REPORT = {"name": "Budi Santoso", "position-group": "administrator", "agency": "pemkab-bima",
               "province": "prov-ntb", "regency": "kab-bima", "category": "social_media", "election": "pilkada-2024",
               "reporter-name": "Siti", "at": "2024-10-01T09:00"}  # within pilkada-2024's window
FUZZ = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
USAGE_ERROR = re.compile(r"^jejak(?: [\w-]+)?: error: ")


@pytest.fixture
def store(tmp_path):
    """A SQLite store with one case at `recommended`, shared by the examples of one test."""
    url = f"sqlite:///{tmp_path / 'jejak.db'}"
    with Jejak(url) as app:
        case_id = new_case(app)
        walk(app, case_id, TO_RECOMMENDED)
        app.subject_keys._ensure_table()
    return url, str(case_id)


def marks(url: str) -> tuple:
    """What a refused command must leave alone: every stored event, and the data keys."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        events = conn.execute("SELECT * FROM stored_events ORDER BY rowid").fetchall()
        keys = conn.execute("SELECT * FROM subject_keys ORDER BY subject_id").fetchall()
    return events, keys


def run(capsys, url: str, *argv: str) -> tuple[int, str, str]:
    sys.stderr.reconfigure(errors="backslashreplace")  # as Python's own stderr (capsys's is strict)
    try:
        code = main(["--db", url, *argv])
    except SystemExit as exit_:  # argparse refuses bad syntax with SystemExit(2) after its usage line
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clear(code: int, err: str) -> None:
    """Success, or one clear error line; never a traceback or an 'unexpected error'."""
    assert "Traceback" not in err and "unexpected error" not in err, err[-2000:]
    if code == 0:
        return
    assert code in (2, 3, 4, 5), (code, err[-2000:])
    lines = err.splitlines()
    assert lines, "a refusal without a message"
    if lines[0].startswith("jejak: error: "):
        assert len(lines) == 1, f"the error spans {len(lines)} lines: {err[:500]!r}"
        assert not any(c in err for c in "\x1b\r\x00"), f"raw control characters in the error: {err[:500]!r}"
    else:  # argparse: its usage, then one error line
        assert USAGE_ERROR.match(lines[-1]) and lines[0].startswith("usage: "), err[-2000:]


def attempt(capsys, url: str, *argv: str) -> tuple[int, str]:
    before = marks(url)
    code, out, err = run(capsys, url, *argv)
    assert_clear(code, err)
    if code != 0:
        assert marks(url) == before, f"a refused command wrote something: {argv!r}"
    return code, out


# --- fuzzing the arguments ---------------------------------------------------------------------------------------

@FUZZ
@given(field=st.sampled_from([k.replace("_", "-") for k in REPORT_FIELDS] + ["at", "era", "as", "note"]),
       value=hostile)
@example(field="era", value="pp-1999")
@example(field="name", value="'; DROP TABLE stored_events; --")
@example(field="description", value="x" * 100_000)
def test_report_with_one_hostile_field(capsys, store, field, value):
    url, _ = store
    argv = ["report", *(f"--{k}={v}" for k, v in GOOD_REPORT.items() if k != field), f"--{field}={value}"]
    code, out = attempt(capsys, url, *argv)
    if code == 0 and field in ("name", "description"):  # free text is stored verbatim, never interpreted
        case_id = out.strip()
        [row] = json.loads(run(capsys, url, "show", case_id, "--json")[1])
        stored = row["details"]["terlapor"]["name"] if field == "name" else row["details"]["incident"]["description"]
        assert stored == (value.strip() or None)


@FUZZ
@given(case=st.one_of(st.just("CASE"), hostile, st.builds(lambda: str(uuid4()))),
       trigger=st.one_of(st.sampled_from(TRIGGERS), hostile), actor=st.one_of(
           st.sampled_from(["bkn", "ppk:pemkab-bima", "bawaslu:kab-bima", "auditor", "system"]), hostile),
       sets=st.lists(st.one_of(st.sampled_from(["track=discipline", "sanction=written_reprimand", "to=president",
                                                "decree_number=800/1", "reason=retired"]),
                               st.builds(lambda k, v: f"{k}={v}", hostile, hostile), hostile), max_size=3),
       at=st.one_of(st.none(), hostile, st.sampled_from(["2024-10-20", "2024-10-20T10:00+07:00"])),
       note=st.one_of(st.none(), hostile), extra=st.sampled_from([[], ["--retries=3"], ["--retries=-1"],
                                                                   ["--expect-version=6"], ["--retries=x"],
                                                                   ["--expect-version=99999999999999999999"]]))
@example(case="CASE", trigger="impose_sanction", actor="ppk:pemkab-bima", sets=["sanction=written_reprimand",
         "decree_number='; DROP TABLE stored_events; --"], at="2024-10-20", note=None, extra=[])
@example(case="CASE", trigger="begin_ppk_examination", actor="ppk:pemkab-bima", sets=["a\nb=1", "\x1b[31mX=1"],
         at=None, note=None, extra=[])  # a field name cannot split the error line or colour the terminal
@example(case="'; DROP TABLE stored_events; --", trigger="register", actor="bkn", sets=[], at=None, note=None,
         extra=[])
def test_advance_with_hostile_arguments(capsys, store, case, trigger, actor, sets, at, note, extra):
    url, case_id = store
    argv = ["advance", case_id if case == "CASE" else case, trigger, f"--as={actor}",
            *(f"--set={pair}" for pair in sets), *extra]
    if at is not None:
        argv.append(f"--at={at}")
    if note is not None:
        argv.append(f"--note={note}")
    attempt(capsys, url, *argv)


@FUZZ
@given(command=st.sampled_from(["show", "triggers", "cases", "workflow", "tick", "erase-reporter"]),
       value=hostile, other=hostile)
@example(command="workflow", value="pp-1999", other="")
@example(command="cases", value="'; DROP TABLE case_summary; --", other="")
def test_other_commands_with_hostile_arguments(capsys, store, command, value, other):
    url, case_id = store
    argv = {
        "show": ["show", value, f"--as-of={other}"],
        "triggers": ["triggers", value, f"--as={other}"],
        "cases": ["cases", f"--state={value}"],
        "workflow": ["workflow", f"--era={value}"],
        "tick": ["tick", f"--now={value}"],
        "erase-reporter": ["erase-reporter", case_id, f"--as={value}", f"--at={other}"],
    }[command]
    attempt(capsys, url, *argv)


# --- JSON input (--from) ------------------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=6)
BASE = {("occurred_at" if k == "at" else k.replace("-", "_")): v for k, v in GOOD_REPORT.items()}


@FUZZ
@given(key=st.sampled_from([*REPORT_FIELDS, "actor", "era", "note", "bogus"]), value=json_values)
@example(key="era", value={"skb-2020": 1})
@example(key="era", value=["bkn-2024"])
@example(key="actor", value={"role": "bkn"})
@example(key="name", value=None)
def test_json_report_with_a_value_of_the_wrong_type(capsys, store, tmp_path, key, value):
    url, _ = store
    path = Path(tmp_path) / "report.json"
    path.write_text(json.dumps({**BASE, key: value}), encoding="utf-8")
    attempt(capsys, url, "report", f"--from={path}")


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([
    b'{"name": "\xff\xfe"}', b"\xc3\x28", b"\xef\xbb\xbf{}", b'{"name": "Budi"', b"[]", b"null", b'"text"', b"1e999",
    b"{" * 5000, b'{"name": "a\x00b"}', b"\x00\x00\x00{", "{\"name\": \"caf\u00e9\"}".encode("latin-1")])))
def test_json_report_with_broken_bytes(capsys, store, tmp_path, raw):
    url, _ = store
    path = Path(tmp_path) / "report.json"
    path.write_bytes(raw)
    code, _ = attempt(capsys, url, "report", f"--from={path}")
    assert code != 0  # none of these is a complete valid report


@pytest.mark.parametrize("raw, message", [
    (b'{"name": "\\ud800"}', "name: is not valid Unicode text (a lone surrogate)"),  # JSON escapes, not UTF-8
    (b'{"reporter_name": "\\udcff"}', "reporter_name: is not valid Unicode text"),
    (b'{"name": "B\\u009b31m"}', "name: contains control characters"),  # C1 CSI: a terminal escape
    (b'{"note": "abc\\u202eevil"}', "note: contains control characters (or invisible direction overrides)"),
    (b'{"name": NaN}', "name: must be non-empty text"),
    (b'{"occurred_at": Infinity}', "occurred_at: not an ISO date or time: inf"),
    (b'{"event_date": 1e400}', "event_date: not a date: inf"),
    (b'{"actor": "bawaslu:prov-ntb@x\\u001b[31m"}', "actor id: must be 1 to 100 characters, all printable"),
    (b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "--from: not a report: maximum recursion depth"),
    (b'{"name": 1' + b"0" * 5000 + b"}", "--from: not a report: Exceeds the limit (4300 digits)"),
])
def test_json_values_that_are_not_text(capsys, store, tmp_path, raw, message):
    """Beyond mistyped values: JSON's own escapes for what is not text, numbers it cannot hold, nesting that
    exhausts the parser. Each a clear error, nothing written (no data key either)."""
    url, _ = store
    path = Path(tmp_path) / "report.json"  # a good report, the hostile key added last (it wins)
    path.write_bytes(json.dumps(BASE).encode()[:-1] + b", " + raw[1:] if raw.count(b"[") < 10 else raw)
    code, _, err = run(capsys, url, "report", f"--from={path}")
    assert (code, err.count("\n")) == (2, 1) and message in err, err[:300]
    attempt(capsys, url, "report", f"--from={path}")


def test_a_refused_duplicate_report_keeps_no_data_key(capsys, store):
    """A second report with the same external_ref is refused; not even its reporter's data key is kept."""
    url, _ = store
    argv = ["report", *(f"--{k}={v}" for k, v in GOOD_REPORT.items()), "--external-ref=SIGAP-7"]
    assert attempt(capsys, url, *argv)[0] == 0
    code, _ = attempt(capsys, url, *argv)  # compares the data keys too
    assert code == 2


def test_missing_and_unreadable_json_files(capsys, store, tmp_path):
    url, _ = store
    for source in [str(tmp_path / "missing.json"), str(tmp_path)]:
        code, _ = attempt(capsys, url, "report", f"--from={source}")
        assert code == 2


# --- CSV import (jejak import) ----------------------------------------------------------------------------------

IMPORT_BASE = {"reported_at": "2024-10-01T09:00", "name": "Budi", "position_group": "administrator",
               "agency": "pemkab-bima", "province": "prov-ntb", "regency": "kab-bima", "category": "social_media",
               "election": "pilkada-2024", "reporter_name": "Siti", "review_begun_at": "2024-10-02",
               "registered_at": "2024-10-03", "forwarded_at": "2024-10-05"}
IMPORT_ROW_ERROR = re.compile(r"^.+:\d+: ")


@FUZZ
@given(column=st.sampled_from([*IMPORT_BASE, "era", "actor", "external_ref", "registered_by", "recommended_at",
                               "recommended_sanction", "unknown_column"]),
       value=st.one_of(hostile, st.sampled_from(["2024-02-30", "31/12/2024", "1e10", "-5", "TRUE", "=1+1",
                                                 "=HYPERLINK(\"http://x\")", "pp-1999", "2099-01-01"]),
                       st.integers().map(str), st.floats().map(str)),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
@example(column="name", value="'; DROP TABLE stored_events; --", encoding="utf-8")
@example(column="era", value="pp-1999", encoding="utf-8")
@example(column="registered_at", value="2024-13-45", encoding="utf-8")
@example(column="description", value="x" * 100_000, encoding="utf-8")
@example(column="name", value="caf\u00e9", encoding="latin-1")
def test_import_a_row_with_one_hostile_cell(capsys, store, tmp_path, column, value, encoding):
    """One row: imported whole, or refused with its line number and nothing written."""
    import csv
    import io

    url, _ = store
    row = {**IMPORT_BASE, column: value}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(row))
    writer.writeheader()
    writer.writerow(row)
    path = Path(tmp_path) / "cases.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    before = marks(url)
    code, out, err = run(capsys, url, "import", str(path), "--no-progress")
    assert "Traceback" not in err and "unexpected error" not in err, err[-2000:]
    if code == 0:
        assert "imported 1 case(s)" in out or "1 already imported" in out, out
        return
    assert code == 2, (code, err[-2000:])
    lines = err.splitlines()
    assert lines and all(IMPORT_ROW_ERROR.match(line) or line.startswith("jejak: error: ") for line in lines), err
    assert not any(c in err for c in "\x1b\r\x00"), f"raw control characters in the error: {err[:500]!r}"
    assert marks(url) == before, f"a refused row wrote something: {column}={value!r}"


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=300), st.sampled_from([
    b"name,agency\n\xff\xfe,\xc3\x28\n", b"\x00\x00", b"reported_at\n" + b"x" * 200_000, b",,,\n,,,\n",
    b"\"unterminated,quote\n", b"name\r\nBudi\r\n", b"\xef\xbb\xbfname,reported_at\n"])))
def test_import_of_broken_files(capsys, store, tmp_path, raw):
    url, _ = store
    path = Path(tmp_path) / "cases.csv"
    path.write_bytes(raw)
    before = marks(url)
    code, out, err = run(capsys, url, "import", str(path), "--no-progress")
    assert "Traceback" not in err and "unexpected error" not in err, err[-2000:]
    assert code == 2 and err.strip(), (code, out, err)
    assert marks(url) == before


# Values that are not text: JSON may give any type for "occurred_at", and Python 3.11's argparse turns
# "--opt=--" into a list. Each must be refused as an invalid field, not end in a TypeError.
NOT_TEXT = [
    pytest.param("json", {"occurred_at": 20241001}, id="json-occurred_at-number"),
    pytest.param("json", {"occurred_at": ["2024-10-01"]}, id="json-occurred_at-list"),
    pytest.param("argv", ["tick", "--now=--"], id="tick-now-dashdash"),
    pytest.param("argv", ["advance", "CASE", "register", "--as=bkn", "--at=--"], id="advance-at-dashdash"),
    pytest.param("argv", ["advance", "CASE", "register", "--as=bkn", "--set=--"], id="advance-set-dashdash"),
    pytest.param("argv", ["show", "CASE", "--as-of=--"], id="show-as-of-dashdash"),
]


@pytest.mark.parametrize("kind, given", NOT_TEXT)
def test_cli_values_that_are_not_text(capsys, store, tmp_path, kind, given):
    url, case_id = store
    if kind == "json":
        path = Path(tmp_path) / "report.json"
        path.write_text(json.dumps({**BASE, **given}), encoding="utf-8")
        argv = ["report", f"--from={path}"]
    else:
        argv = [case_id if a == "CASE" else a for a in given]
    code, _ = attempt(capsys, url, *argv)
    assert code != 0


# --- SQL injection on both stores ----------------------------------------------------------------------------------

def test_injection_strings_are_data_on_every_store(db_url, capsys):
    """Stored verbatim where free text is allowed, refused as a value where a code is expected; the tables stay."""
    drop = "'; DROP TABLE stored_events; --"
    args = [f"--{k}={v}" for k, v in GOOD_REPORT.items() if k != "name"]
    code, out, err = run(capsys, db_url, "report", f"--name={drop}", f"--description={drop}", *args)
    assert code == 0, err
    case_id = out.strip()
    assert run(capsys, db_url, "advance", drop, "begin_review", "--as=bawaslu:kab-bima")[0] == 2
    assert run(capsys, db_url, "advance", case_id, "begin_review", f"--as=bawaslu:{drop}")[0] == 2
    assert run(capsys, db_url, "advance", case_id, drop, "--as=bawaslu:kab-bima")[0] == 2
    assert run(capsys, db_url, "cases", f"--state={drop}")[0] == 2
    [row] = json.loads(run(capsys, db_url, "show", case_id, "--json")[1])
    assert row["details"]["terlapor"]["name"] == drop and row["details"]["incident"]["description"] == drop
    [listed] = json.loads(run(capsys, db_url, "cases", "--json")[1])
    assert listed["case_id"] == case_id
    assert run(capsys, db_url, "advance", case_id, "begin_review", "--as=bawaslu:kab-bima")[1].strip() == \
        "under_review"


# --- no SQL is built from values by string formatting --------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|WHERE|VALUES|LISTEN|NOTIFY)\b")
# Interpolations that are not values: placeholders, and table names that come from code (quoted identifiers).
SAFE_INTERPOLATIONS = [
    re.compile(r"^\{', '\.join\((\[self\.mark\] \* \d+|'\?' \* len\(\w+\))\)\}$"),  # placeholders
    re.compile(r"^\{(self\.mark|table|quoted|dialect\.identifier_preparer\.format_table\(table\))\}$"),  # names
]


def test_no_sql_is_built_by_formatting_values():
    root = Path(__file__).resolve().parent.parent
    found = []
    paths = [*root.glob("workflow/*.py"), *root.glob("projections/**/*.py"), *root.glob("entrypoints/**/*.py"),
             *root.glob("demo/*.py")]
    assert root / "projections" / "audit" / "backdating.py" in paths  # the audits' own modules are read too
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not SQL_WORDS.search(line):
                continue
            if re.search(r"""\bf["']""", line):
                unsafe = [m for m in re.findall(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}", line.split("f\"", 1)[-1])
                          if not any(safe.match(m) for safe in SAFE_INTERPOLATIONS)]
                if unsafe:
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
            if re.search(r"""["']\s*%\s*[(\w]|["']\s*\+\s*\w|\.format\(""", line) and "sql.SQL" not in line:
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
