"""Tables as files people open in Excel or LibreOffice (CSV with BOM, XLSX, formula cells made inert).

The rules live in one home, ``server/exports/formats.py``, shared with the
auditors' bundles; the pages import them from here.
"""

from server.exports.formats import (  # noqa: F401  (the pages' names for them)
    BOM,
    CSV_TYPE,
    FORMULA_STARTS,
    XLSX_TYPE,
    csv_bytes,
    inert,
    sheet_title,
    uninert,
    xlsx_bytes,
)
