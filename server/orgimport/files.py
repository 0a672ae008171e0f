"""Reading a CSV or XLSX file into ``(line, [cell text, ...])`` rows, within limits."""

import contextlib
import csv
import io
import os
import warnings
import zipfile

from server.errors import N_
from server.orgimport.model import ImportRejected

# What a file may hold (docs/org-import.md, "Limits"). A province's roster is
# a few thousand rows of six short columns, a few hundred KB; these leave ample
# room and keep a hostile file (a sheet that declares 16,384 columns, a zip
# that unzips to gigabytes) to a few seconds and tens of MB, on a web worker too.
MAX_FILE_MB = 10  # the .csv or .xlsx as stored
MAX_UNZIPPED_MB = 50  # everything inside an .xlsx, unzipped
MAX_LINES = 20_000  # no data below this line
MAX_COLUMNS = 26  # A to Z
MAX_CELLS = 200_000  # filled cells
MAX_CELL_CHARS = 1_000  # a name or title holds 200
SHEET_LAST_ROW = 1_048_576  # Excel's; a row number beyond it is a forged file
MB = 2**20


def read_rows(path):
    """``[(line, [cell text, ...]), ...]`` from a .csv or .xlsx: the rows with something in them.

    Reading stops with ``ImportRejected`` at the first limit the file passes.
    """
    ext = os.path.splitext(str(path))[1].lower()
    name = os.path.basename(str(path))
    if ext not in (".csv", ".xlsx"):
        raise ImportRejected([N_("%(file)s: unsupported file type '%(ext)s'; use .csv or .xlsx", file=name,
                                 ext=ext or "(none)")])
    size = os.path.getsize(path)
    if size > MAX_FILE_MB * MB:
        raise ImportRejected([N_("%(file)s: %(size)s MB; a file to import may have at most %(limit)s MB",
                                 file=name, size=f"{size / MB:.1f}", limit=MAX_FILE_MB)])
    return _read_csv(path) if ext == ".csv" else _read_xlsx(path, name)


class _Rows:
    """The rows of a file that hold something, refused at the first limit the file passes."""

    def __init__(self):
        self.line, self.cells, self.rows = 0, 0, []

    def read(self, rows):
        """``rows`` yields each line's values in order, from line 1 (None or "" for an empty cell)."""
        for self.line, values in enumerate(rows, start=1):
            if self.line > SHEET_LAST_ROW:
                raise ImportRejected([N_("line %(line)s: past the last row a sheet can have (%(limit)s)",
                                         line=self.line, limit=SHEET_LAST_ROW)])
            # A forged sheet puts a cell in column 16,384: tuple.count looks at the far columns in C.
            far = values[MAX_COLUMNS:]
            if far and far.count(None) + far.count("") != len(far):
                column = MAX_COLUMNS + 1 + next(i for i, v in enumerate(far) if v not in (None, ""))
                raise ImportRejected([N_(
                    "line %(line)s: a value in column %(column)s; the table must fit in the first %(limit)s"
                    " columns (A to Z)", line=self.line, column=column, limit=MAX_COLUMNS)])
            cells = [_cell_text(v) for v in values[:MAX_COLUMNS]]
            filled = len(cells) - cells.count("")
            if not filled:
                continue
            self._check(cells, filled)
            self.rows.append((self.line, cells))
        return self.rows

    def _check(self, cells, filled):
        if self.line > MAX_LINES:
            raise ImportRejected([N_("line %(line)s: data past line %(limit)s; split the file into smaller ones",
                                     line=self.line, limit=MAX_LINES)])
        self.cells += filled
        if self.cells > MAX_CELLS:
            raise ImportRejected([N_("line %(line)s: more than %(limit)s filled cells; split the file into"
                                     " smaller ones", line=self.line, limit=MAX_CELLS)])
        longest = max(len(c) for c in cells)
        if longest > MAX_CELL_CHARS:
            raise ImportRejected([N_("line %(line)s: a cell of %(count)s characters; a cell may hold at most"
                                     " %(limit)s", line=self.line, count=longest, limit=MAX_CELL_CHARS)])


def _read_csv(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected([N_(
            "line %(line)s: the file is not UTF-8 text (byte 0x%(byte)s); in Excel use Save As >"
            " 'CSV UTF-8 (Comma delimited)', or import the .xlsx", line=line, byte="%02X" % data[exc.start],
        )]) from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    # Excel in locales with a decimal comma (vi-VN among them) separates with ';'.
    delimiter = ";" if ";" in first and "," not in first else ","
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = _Rows()
    try:
        return rows.read(reader)
    except csv.Error as exc:
        message = N_("line %(line)s: cannot read the CSV (%(error)s); check the quotes on this line",
                     line=rows.line + 1, error=str(exc))
        raise ImportRejected([message]) from None


def _read_xlsx(path, name):
    import defusedxml  # installed with openpyxl (server extra), which then parses through it
    import openpyxl

    # openpyxl leaves the file open when a workbook fails to load: hand it one we close.
    try:
        with open(path, "rb") as handle:
            with zipfile.ZipFile(handle) as archive:
                unzipped = sum(member.file_size for member in archive.infolist())
            # zipfile stops each member at its declared size (and then fails its CRC check), so the sum
            # is a bound, not a promise.
            if unzipped > MAX_UNZIPPED_MB * MB:
                raise ImportRejected([N_("%(file)s: the workbook unzips to %(size)s MB; an import reads at most"
                                         " %(limit)s MB", file=name, size=f"{unzipped / MB:.0f}",
                                         limit=MAX_UNZIPPED_MB)])
            with warnings.catch_warnings():
                # openpyxl warns about features it skips (data validation, styles): noise here.
                warnings.simplefilter("ignore")
                book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                # Read-only mode pads every row to the sheet's declared dimension: a 5 KB file that
                # declared 3,000 rows by 16,384 columns took 860 MB. Without it, a row is as wide as
                # its last cell, and the far columns are checked without a Python loop.
                sheet.reset_dimensions()
                with contextlib.closing(sheet.iter_rows(values_only=True)) as rows:
                    return _Rows().read(rows)
            finally:
                book.close()
    except ImportRejected:
        raise
    except Exception as exc:  # whatever breaks inside a workbook someone sent is a bad file, not a 500
        cause = exc
        while cause is not None and not isinstance(cause, defusedxml.DefusedXmlException):
            cause = cause.__cause__ or cause.__context__  # openpyxl wraps what the XML parser raised
        if cause is not None:
            raise ImportRejected([N_("%(file)s: the workbook declares XML entities (%(error)s), which"
                                     " spreadsheets do not use; open it in Excel or LibreOffice and save it again",
                                     file=name, error=type(cause).__name__)]) from None
        raise ImportRejected([N_("%(file)s: not a readable .xlsx workbook (%(error)s)", file=name,
                                 error=str(exc) or type(exc).__name__)]) from None


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as 101 comes back as 101.0
    return str(value)
