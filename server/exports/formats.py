"""Tables as files people open in spreadsheets or read with a program: CSV, JSON Lines, XLSX.

One home for the spreadsheet rules, used by the HR pages' small files
(``csv_bytes``, ``xlsx_bytes``) and by the auditors' bundles, whose writers
stream row by row so that memory stays flat whatever the size.

Two things matter to people opening these files. Excel reads a CSV without a
byte-order mark as the machine's legacy code page, so "Nguyễn Thị Hồng
Nhung" turns into mojibake: the HR files always start with the UTF-8 BOM,
bundles when asked (``--bom``). And a cell whose text starts with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return, which Excel strips
before looking) is run as a formula: a staff name or a ticket typed as
``=HYPERLINK(...)`` would become a live link, or worse. Such text gets a
leading apostrophe in a CSV (the usual defence; Excel hides it), and so does
text that already starts with an apostrophe, so the rule can be undone
exactly: a reader removes one leading ``'`` from any text cell that has one
(``uninert``). In an XLSX such text is stored as a plain string, never a
formula, and needs no apostrophe. Numbers stay numbers in both.
"""

import csv
import io
import json

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_DANGER = frozenset(FORMULA_STARTS)
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSONL_TYPE = "application/x-ndjson"
# An XLSX sheet holds 1,048,576 rows: the header and this many data rows.
XLSX_SHEET_ROWS = 1_048_575


def inert(value):
    """A cell's text made safe to open in a spreadsheet; numbers and empty cells as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def uninert(text):
    """The reverse of ``inert`` for a CSV cell read back as text: one leading apostrophe removed."""
    return text[1:] if text.startswith("'") else text


def csv_bytes(header, rows):
    """``header`` and ``rows`` (lists of cells) as a CSV file, UTF-8 with a BOM, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([inert(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else inert(cell) for cell in row])
    return (BOM + out.getvalue()).encode("utf-8")


def xlsx_bytes(title, header, rows):
    """``header`` and ``rows`` as a one-sheet XLSX workbook; text cells are strings, never formulas."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(title))
    sheet.append(_xlsx_cells(sheet, header))
    for row in rows:
        sheet.append(_xlsx_cells(sheet, row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_cells(sheet, values):
    """Cells for a write-only sheet: openpyxl reads text starting with ``=`` as a formula, so that is typed."""
    out = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(value)
    return out


def sheet_title(title):
    """Excel refuses sheet names over 31 characters or with any of ``[]:*?/\\``."""
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title)
    return cleaned[:31] or "Sheet"


# --- Streaming row writers (bundles) -------------------------------------------
#
# A writer is made with the binary file it writes to and the table's columns:
# ``columns`` names them in order, ``json_columns`` are lists or objects
# (JSON text in a CSV or XLSX cell, JSON values in JSON Lines), ``numeric``
# columns are numbers (never escaped). ``write(row)`` takes a tuple in column
# order; ``close()`` finishes the file (not the file object) and returns the
# number of data rows. Values: str, int, bool, None, and lists/dicts in the
# JSON columns; a JSON column may also be given as JSON text already (a str),
# which is used as it is in CSV/XLSX and parsed for JSON Lines.


class CsvRows:
    """CSV: UTF-8, CRLF, optional BOM, text cells made inert, null as the empty cell."""

    def __init__(self, out, columns, json_columns=(), numeric=(), bom=False, header=True):
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._json, self._text_cells = _csv_kinds(columns, json_columns, numeric)
        self.rows = 0
        if bom:
            self._text.write(BOM)
        if header:
            self._writer.writerow(columns)

    def write(self, row):
        self._writer.writerow(_csv_cells(row, self._json, self._text_cells))
        self.rows += 1

    def close(self):
        self._text.flush()
        self._text.detach()
        return self.rows


def _csv_kinds(columns, json_columns, numeric):
    """Positions of the JSON cells and of the text cells (neither JSON nor numeric)."""
    return ([i for i, name in enumerate(columns) if name in json_columns],
            [i for i, name in enumerate(columns) if name not in numeric and name not in json_columns])


def _csv_cells(row, json_cells, text_cells):
    """A row's cells as CsvRows writes them: inert text, ``true``/``false``, JSON text."""
    row = list(row)
    for i in text_cells:
        value = row[i]
        if value.__class__ is str:
            if value and value[0] in _DANGER:
                row[i] = "'" + value
        elif value is True:
            row[i] = "true"
        elif value is False:
            row[i] = "false"
    for i in json_cells:
        value = row[i]
        if value.__class__ is not str:
            row[i] = "[]" if value == [] else _json_text(value)
    return row


def csv_text(rows, columns, json_columns=(), numeric=()):
    """``rows`` as CsvRows writes them (no header), as one string."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    json_cells, text_cells = _csv_kinds(columns, json_columns, numeric)
    writer.writerows(_csv_cells(row, json_cells, text_cells) for row in rows)
    return out.getvalue()


def csv_header(columns, bom=False):
    """The header line CsvRows starts with (after the BOM when asked for)."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerow(columns)
    return (BOM if bom else "") + out.getvalue()


class JsonLines:
    """JSON Lines: one object per line with the columns as keys, in column order; UTF-8, ``\\n``."""

    def __init__(self, out, columns, json_columns=(), numeric=(), bom=False):
        self._out = out
        self._columns = tuple(columns)
        self._json = [i for i, name in enumerate(columns) if name in json_columns]
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self.rows = 0
        self._buffer = []

    def write(self, row):
        if self._json:
            row = list(row)
            for i in self._json:
                if row[i].__class__ is str:
                    row[i] = json.loads(row[i])
        self._buffer.append(self._encode(dict(zip(self._columns, row))))
        self.rows += 1
        if len(self._buffer) >= 512:
            self._flush()

    def _flush(self):
        if self._buffer:
            self._out.write(("\n".join(self._buffer) + "\n").encode("utf-8"))
            self._buffer = []

    def close(self):
        self._flush()
        return self.rows


class XlsxRows:
    """XLSX through openpyxl's write-only mode (rows go to a temporary file, not memory).

    One sheet ``title``, then ``title 2``, ``title 3``, … past ``XLSX_SHEET_ROWS``
    rows each, every sheet with the header. Text is typed as strings, never
    formulas, and is not escaped; ``true``/``false`` and JSON text as in the CSV.
    """

    def __init__(self, out, columns, json_columns=(), numeric=(), bom=False, title="rows"):
        self._out = out
        self._columns = list(columns)
        self._json = [i for i, name in enumerate(columns) if name in json_columns]
        self._book = Workbook(write_only=True)
        self._title = title
        self._sheets = 0
        self._in_sheet = XLSX_SHEET_ROWS
        self.rows = 0

    def _next_sheet(self):
        self._sheets += 1
        name = self._title if self._sheets == 1 else f"{self._title} {self._sheets}"
        self._sheet = self._book.create_sheet(title=sheet_title(name))
        self._sheet.append(self._columns)
        self._in_sheet = 0

    def write(self, row):
        if self._in_sheet >= XLSX_SHEET_ROWS:
            self._next_sheet()
        row = list(row)
        for i in self._json:
            if row[i].__class__ is not str:
                row[i] = _json_text(row[i])
        for i, value in enumerate(row):
            if value is True:
                row[i] = "true"
            elif value is False:
                row[i] = "false"
        self._sheet.append(_xlsx_cells(self._sheet, row))
        self._in_sheet += 1
        self.rows += 1

    def close(self):
        if not self._sheets:
            self._next_sheet()
        self._book.save(self._out)
        return self.rows


WRITERS = {"csv": CsvRows, "jsonl": JsonLines, "xlsx": XlsxRows}


def writer(fmt, out, columns, json_columns=(), numeric=(), bom=False, title="rows"):
    """The streaming writer of format ``fmt`` (``csv``, ``jsonl``, ``xlsx``) writing to ``out``."""
    if fmt == "xlsx":
        return XlsxRows(out, columns, json_columns, numeric, title=title)
    return WRITERS[fmt](out, columns, json_columns, numeric, bom)


_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_text(value):
    return _JSON_TEXT(value)
