"""Reading an import file (CSV in UTF-8, or the first sheet of an XLSX workbook) into rows with their line
numbers, and what every imported event records of where it came from (the file's name and SHA-256)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path
from typing import Any

from workflow.errors import JejakError
from workflow.import_columns import COLUMNS, REQUIRED_COLUMNS


class ImportFileError(JejakError):
    """The file as a whole cannot be read (not a row's fault): nothing is imported."""


class Row:
    __slots__ = ("line", "values", "problem")

    def __init__(self, line: int, values: dict[str, Any]):
        self.line = line
        self.values = values  # column -> non-empty value (text, or datetime/date/number from a spreadsheet)
        self.problem: str | None = None  # found while reading (bad encoding, too many cells)


def read_rows(path: str | Path) -> list[Row]:
    """The file's data rows with their line numbers (CSV: physical line; XLSX: sheet row)."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise ImportFileError(f"{path}: unsupported file type {suffix or '(none)'!r} (allowed: .csv, .xlsx)")


def _check_header(path: Path, header: list[Any]) -> list[str]:
    names = ["" if h is None else str(h).strip().lower() for h in header]
    if not any(names):
        raise ImportFileError(f"{path}: line 1: the header row is empty (expected column names)")
    problems = []
    if any(_bad_text(n) for n in names):
        problems.append("the header is not valid UTF-8")
    blank = [str(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        problems.append(f"column(s) {', '.join(blank)} have no name")
    seen, dupes = set(), []
    for n in names:
        if n and n in seen:
            dupes.append(n)
        seen.add(n)
    if dupes:
        problems.append(f"duplicate column(s): {', '.join(dupes)}")
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)} (see README 'Bulk import and export' or "
                        f"`jejak import --columns`)")
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    if problems:
        raise ImportFileError(f"{path}: line 1: " + "; ".join(problems))
    return names


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _bad_text(value: Any) -> bool:
    """Text decoded with surrogateescape holds lone surrogates where the bytes were not UTF-8."""
    return isinstance(value, str) and _NOT_UTF8.search(value) is not None


def _read_csv(path: Path) -> list[Row]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # Excel's UTF-8 byte-order mark
    text = data.decode("utf-8", errors="surrogateescape")
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ImportFileError(f"{path}: line {line}: contains NUL bytes (is it really a CSV file? "
                              "an Excel file must be named .xlsx)")
    suspect = _bad_text(text)  # check cells one by one only if the file has undecodable bytes at all
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(f"{path}: the file is empty (expected a header row)")
        names = _check_header(path, header)
        rows = []
        line = reader.line_num + 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank line
            row = Row(start, {})
            if len(record) != len(names):
                row.problem = f"expected {len(names)} columns, found {len(record)}"
            elif suspect and any(_bad_text(cell) for cell in record):
                row.problem = "not valid UTF-8 (save the file as UTF-8, e.g. Excel's 'CSV UTF-8')"
            else:
                row.values = {n: cell.strip() for n, cell in zip(names, record) if cell.strip()}
            rows.append(row)
    except csv.Error as error:
        raise ImportFileError(f"{path}: line {reader.line_num}: cannot read the CSV: {error}") from None
    return rows


def _read_xlsx(path: Path) -> list[Row]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportFileError("reading .xlsx needs openpyxl: pip install openpyxl") from None
    records, formulas = _xlsx_records(path, data_only=False)  # formulas as such: a text cell "=…" is text
    unsaved: dict[int, list[int]] = {}  # sheet row -> columns holding a formula with no saved result
    if formulas:  # their results, as the spreadsheet saved them
        cached, _ = _xlsx_records(path, data_only=True)
        for number, columns in formulas.items():
            for i in columns:
                value = cached[number - 1][i] if number <= len(cached) and i < len(cached[number - 1]) else None
                records[number - 1][i] = value
                if value is None:
                    unsaved.setdefault(number, []).append(i)
    if not records:
        raise ImportFileError(f"{path}: the first sheet is empty (expected a header row)")
    header = records[0]
    while header and header[-1] is None:
        header = header[:-1]
    names = _check_header(path, list(header))
    rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = [None if (isinstance(v, str) and not v.strip()) else v for v in record]
        if all(v is None for v in cells) and number not in unsaved:
            continue
        row = Row(number, {})
        filled = [i for i, v in enumerate(cells) if v is not None or i in unsaved.get(number, ())]
        if filled and filled[-1] >= len(names):
            row.problem = f"expected {len(names)} columns, found {filled[-1] + 1}"
        elif number in unsaved:
            columns = ", ".join(names[i] for i in unsaved[number])
            row.problem = (f"{columns}: a formula with no saved result (open the file in a spreadsheet and save "
                           "it, or paste the values)")
        else:
            row.values = {n: (v.strip() if isinstance(v, str) else v) for n, v in zip(names, cells)
                          if v is not None}
        rows.append(row)
    return rows


def _xlsx_records(path: Path, data_only: bool) -> tuple[list[list[Any]], dict[int, list[int]]]:
    """The first sheet's rows as values, and where its formulas are (sheet row -> columns), read streaming."""
    import warnings

    import openpyxl

    with warnings.catch_warnings():  # openpyxl warns on stderr (a date serial out of range becomes "#VALUE!",
        warnings.simplefilter("ignore")  # which the row's check then reports on its line)
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        except Exception as error:  # noqa: BLE001 - zip, XML or format errors from openpyxl
            raise ImportFileError(f"{path}: not a readable .xlsx workbook ({type(error).__name__}: {error})") \
                from None
        try:
            records, formulas = [], {}
            for number, row in enumerate(book.worksheets[0].iter_rows(), start=1):
                values = []
                for i, cell in enumerate(row):
                    if cell.data_type == "f":
                        formulas.setdefault(number, []).append(i)
                    values.append(cell.value)
                records.append(values)
            return records, formulas
        finally:
            book.close()


def file_source(path: str | Path) -> tuple[str, str]:
    """(file name, SHA-256 of its bytes): what every imported event records of where it came from."""
    path = Path(path)
    with path.open("rb") as file:
        return path.name, hashlib.file_digest(file, "sha256").hexdigest()
