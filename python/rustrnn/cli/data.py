"""Reading the user's files: CSV tables (a header row, then data) and plain text."""

from __future__ import annotations

import csv
import io
import os
import sys
from typing import Optional

from .._bounded import STREAM_LIMIT
from .._bounded import read_bytes as bounded_read
from .errors import UserError

# Long texts in a cell are fine (the csv module's default limit is 128 KiB).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def read_bytes(path: str) -> bytes:
    """The file's bytes; ``-`` reads standard input."""
    if path == "-":
        data = sys.stdin.buffer.read(STREAM_LIMIT + 1)
        if len(data) > STREAM_LIMIT:
            raise UserError(f"standard input: longer than {STREAM_LIMIT} bytes; it is not read further")
        return data
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected a file")
    return bounded_read(path, "input", error=UserError)


def read_text(path: str) -> str:
    return _decode(path, read_bytes(path))


class Table:
    """A CSV file: ``columns`` (the header), ``rows`` (lists of str, one per
    column) and ``lines`` (the line in the file where each row starts)."""

    def __init__(self, path: str, columns: list, rows: list, lines: list) -> None:
        self.path, self.columns, self.rows, self.lines = path, columns, rows, lines

    def index(self, column: str, flag: str, hint: str = "") -> int:
        """The position of ``column``, or a one-line error listing the columns there are."""
        if column not in self.columns:
            have = ", ".join(repr(c) for c in self.columns)
            raise UserError(f"{self.path}: no column {column!r} ({flag}); the columns are {have}{hint}")
        return self.columns.index(column)

    def values(self, column: int) -> list:
        return [r[column] for r in self.rows]


def read_table(path: str, delimiter: Optional[str] = None) -> Table:
    """Reads a CSV (or, for ``.tsv``/``.tab`` files, tab-separated) table.

    Blank lines are skipped; a row with fewer fields than the header is padded
    with empty fields, one with more is an error naming its line.
    """
    text = read_text(path)
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith((".tsv", ".tab")) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next((r for r in reader if r), None)
        if header is None:
            raise UserError(f"{path}: empty file (expected a header row with the column names, then data rows)")
        columns = [c.strip() for c in header]
        rows, lines = [], []
        start = reader.line_num + 1
        for r in reader:
            if not r:
                start = reader.line_num + 1
                continue
            lines.append(start)
            start = reader.line_num + 1
            if len(r) > len(columns):
                raise UserError(f"{path}, line {reader.line_num}: expected at most {len(columns)} fields (as in the header), got {len(r)}")
            rows.append(r + [""] * (len(columns) - len(r)))
    except csv.Error as e:
        raise UserError(f"{path}, line {reader.line_num}: not valid CSV ({e})") from None
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise UserError(f"{path}: the header names column {dupes[0]!r} more than once")
    return Table(path, columns, rows, lines)
