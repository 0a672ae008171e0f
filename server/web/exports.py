"""Tables as files people open in Excel or LibreOffice: CSV (UTF-8 with BOM) and XLSX.

Two things matter to HR opening these files. Excel reads a CSV without a
byte-order mark as the machine's legacy code page, so "Nguyễn Thị Hồng
Nhung" turns into mojibake: the CSV starts with the UTF-8 BOM. And a cell
whose text starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which Excel strips before looking) is run as a formula: a staff name
or a reason typed as ``=HYPERLINK(...)`` would become a live link, or worse.
Such text gets a leading apostrophe in the CSV (the usual defence; Excel
hides it) and is stored as a plain string, never a formula, in the XLSX.
Numbers stay numbers in both, so they can be sorted and summed.
"""

import csv
import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def inert(value):
    """A cell's text made safe to open in a spreadsheet; numbers and empty cells as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


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
    sheet = book.create_sheet(title=_sheet_title(title))

    def cells(values):
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would read "=..." as a formula
            out.append(cell)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_title(title):
    """Excel refuses sheet names over 31 characters or with any of ``[]:*?/\\``."""
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in title)
    return cleaned[:31] or "Sheet"
