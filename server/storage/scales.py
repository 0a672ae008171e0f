"""Rating-scale versions as stored (``rating_scales``): each version once, never changed; the newest is current.

Votes keep the version they were cast with (``votes.scale_version``); a
score maps each version's levels by that version's own definition.
"""

import json

from server.storage import dialect, query


def _row(row):
    return {**row, "levels": json.loads(row["levels"]), "reasons": json.loads(row["reasons"])}


def list_scales(db):
    """Every version, newest first, with how many votes were cast under it."""
    rows = query(
        db,
        "SELECT s.version, s.levels, s.reasons, s.created_at, s.published_by, s.note,"
        " (SELECT COUNT(*) FROM votes v WHERE v.scale_version = s.version) AS votes"
        " FROM rating_scales s ORDER BY s.version DESC",
    )
    return [_row(row) for row in rows]


def every_scale(db):
    """Every version, oldest first, without counting votes (cheap: for labels in pages)."""
    rows = query(db, "SELECT version, levels, reasons, created_at, published_by, note FROM rating_scales"
                     " ORDER BY version")
    return [_row(row) for row in rows]


def get_scale(db, version):
    rows = query(db, "SELECT version, levels, reasons, created_at, published_by, note FROM rating_scales"
                     " WHERE version = ?", [version])
    return _row(rows[0]) if rows else None


def insert_scale(db, levels, reasons, now, published_by, note):
    """Store the next version; returns its number. Runs inside the caller's transaction.

    The number is the largest plus one, read in the same transaction: SQLite's
    ``BEGIN IMMEDIATE`` keeps a second publisher out until this one commits;
    on PostgreSQL a lock on the table does (readers are not held), or two
    publishing at once would both take the same number and one fail.
    """
    if dialect(db) == "postgresql":
        db.execute("LOCK TABLE rating_scales IN SHARE ROW EXCLUSIVE MODE")
    version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM rating_scales").fetchone()[0]
    db.execute(
        "INSERT INTO rating_scales (version, levels, reasons, created_at, published_by, note) VALUES (?, ?, ?, ?, ?, ?)",
        [version, json.dumps(levels, ensure_ascii=False), json.dumps(reasons, ensure_ascii=False), now,
         published_by, note],
    )
    return version
