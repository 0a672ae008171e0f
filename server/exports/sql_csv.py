"""A votes CSV written by SQLite, a chunk of lines per statement, checked against the csv module's rules.

The csv module and the per-row Python around it (a tuple per row, codes
looked up, cells escaped, a line written) are most of an export's time: about
10 µs a vote. Here SQLite writes each line (server/storage/exports.py,
``vote_csv_chunks``) and returns a chunk's lines as one string, so Python does
per chunk what it did per row: one check, one encode, one write. The bytes are
those of the csv path (``formats.CsvRows``), which tests/test_export_speed.py
compares byte for byte on rows full of awkward values.

What SQLite writes exactly it is given the rules for: numbers, codes (their
cells made here by the csv path, for the few that need escaping), JSON cells,
the ticket, the signature's formula start. For the cells it only copies (vote
id, device, times) it reports what a chunk holds, and a chunk where one of them
would need quoting or an apostrophe, or whose flags are not of the usual form,
is written by the csv module instead (``python_chunk``), so a strange value
costs speed, never exactness.
"""

from server.exports import formats
from server.storage import exports as store

# More codes than this needing escaping in one table (there are usually none) and the export takes the csv path.
MAX_CODE_CELLS = 500
_QUOTING = ('"', ",", "\r", "\n")


def code_cells(codes):
    """``{"unit"|"counter"|"staff": {id: cell}}`` of the codes whose CSV cell is not the code itself, or None
    when a table has more than ``MAX_CODE_CELLS`` of them."""
    found = {}
    for table, by_id in codes.items():
        cells = {}
        for code_id, code in by_id.items():
            # In a row of two cells, as in the file (a row of one empty cell is written "").
            cell = formats.csv_text([[code, ""]], ["code", ""])[:-3]
            if cell != code:
                cells[code_id] = cell
        if len(cells) > MAX_CODE_CELLS:
            return None
        found[table] = cells
    return found


def exact(copied, starts):
    """True when the cells SQLite only copied need nothing done (``copied``, ``starts``: see ``vote_csv_chunks``).

    Single characters, each looked for with one memchr over the chunk's text.
    """
    return not any(char in copied for char in _QUOTING) and not any(char in starts for char in formats.FORMULA_STARTS)


def write_votes(db, criteria, up_to, cells, out, runs, python_chunk, chunk=None):
    """Write the rows of the votes with ``id <= up_to`` that the criteria take to ``out`` (binary; the header is
    the caller's).

    ``cells`` from ``code_cells``; ``runs`` is given the rows' leaf indices
    (``add_run`` per run: an unfiltered export's chunks are one run each);
    ``python_chunk(after, last)`` is the csv path's ``(text, leaf indices)``
    for the rows with ``after < id <= last``. Yields ``(last_id, up_to)``
    after every chunk; returns the number of rows.
    """
    total, after = 0, 0
    for rows, indices, last, text, copied, starts in store.vote_csv_chunks(
            db, criteria, up_to, formats.FORMULA_STARTS, cells, chunk=chunk or store.CSV_CHUNK):
        if rows and not exact(copied, starts):
            text, indices = python_chunk(after, last)
            rows = len(indices)
        if rows:
            out.write(text.encode("utf-8"))
            runs.add_indices(indices)
            total += rows
        after = last
        yield last, up_to
    return total
