"""Stored hashes of the log (migrations/ledger.py) read a whole level range at a time, as one blob.

An export's proof.txt (server/exports/proof.py) lists about two stored
hashes per exported vote: tens of millions for a year. Fetched as rows, each
hash costs a Python tuple and a bytes object (about 250 ns); concatenated by
SQLite's ``group_concat`` and returned as one blob, about 110 ns, half of it
the b-tree walk itself. SQLite-specific (a blob concatenated as text keeps
its bytes in a UTF-8 database, and ``CAST … AS BLOB`` hands them back
untouched). PostgreSQL has the same in one aggregate over ``bytea``,
``string_agg`` with its order said outright (an aggregate there takes rows
in no promised order).
"""

from server.storage import dialect

PAD = b"\x00"
_CONCAT = {
    "sqlite": "CAST(group_concat(hash || x'00', '') AS BLOB)",
    "postgresql": "string_agg(hash || '\\x00'::bytea, ''::bytea ORDER BY idx)",
}


def padded_hashes(db, tree, level, first, last):
    """The hashes of one level's stored subtrees ``first <= idx <= last``, in idx order, each followed by a
    zero byte, as one blob (``b""`` when there are none). The caller checks the length: a missing node
    makes it shorter than ``33 * (last - first + 1)``.

    The range is read in the primary key's order, and ``group_concat`` takes
    its rows in the order the scan yields them.
    """
    concat = _CONCAT[dialect(db)]
    if level == 0:
        sql = f"SELECT {concat} FROM log_leaves WHERE tree = ? AND idx BETWEEN ? AND ?"
        params = [tree, first, last]
    else:
        sql = f"SELECT {concat} FROM log_nodes WHERE tree = ? AND level = ? AND idx BETWEEN ? AND ?"
        params = [tree, level, first, last]
    blob = db.execute(sql, params).fetchone()[0]
    return bytes(blob) if blob is not None else b""
