"""Load units, counters and staff from a CSV or XLSX file (``hailong org import``).

The file is the organisation as the province's HR office keeps it in a
spreadsheet; docs/org-import.md is its contract. A file with any problem is
rejected whole, with every problem listed, because a half-applied roster
(staff without their unit, a unit under the wrong parent) is worse than none.
A good file is applied in one ``BEGIN IMMEDIATE`` transaction. Rows are
upserted by (kind, code) and compared before writing, so importing the same
file twice changes nothing. Nothing is deleted: people leave by ``active=no``.

The package: ``model`` (rows, counts, the refusal), ``files`` (reading a CSV
or XLSX within limits), ``rows`` (checking each row on its own), ``plan``
(checking against the database, then writing).
"""

import os

from server.orgimport.files import read_rows
from server.orgimport.model import COLUMNS, Counts, Entry, ImportRejected, Summary  # noqa: F401 (the API)
from server.orgimport.plan import plan_and_apply
from server.orgimport.rows import parse_rows
from server.storage import write_transaction


def import_file(db, path, dry_run=False):
    """Validate FILE against the database and apply it, or raise ``ImportRejected``.

    The real run checks and writes inside one write transaction, so what was
    checked is what gets written even if someone else imports meanwhile.
    """
    entries, problems = parse_rows(read_rows(path))
    name = os.path.basename(str(path))
    if dry_run:
        return plan_and_apply(db, name, entries, problems, apply=False)
    with write_transaction(db):
        return plan_and_apply(db, name, entries, problems, apply=True)
