"""The email outbox: every mail the server means to send, and what became of it.

A mail is queued once per ``key`` (an alert, a unit's month), so a job that
runs again queues nothing twice. The sender claims a mail with compare-and-set
before it talks to the mail server, and records the outcome after.
"""

import json

from server.storage import query, query_one


def queue(db, key, kind, recipients, subject, body_text, body_html, now):
    """Add a mail unless one with ``key`` exists; returns its id, or None when it was already queued."""
    cursor = db.execute(
        "INSERT INTO email_outbox (key, kind, recipients, subject, body_text, body_html, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        [key, kind, json.dumps(list(recipients), ensure_ascii=False), subject, body_text, body_html, now],
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def _decoded(row):
    if row:
        row["recipients"] = json.loads(row["recipients"])
    return row


def get(db, mail_id):
    return _decoded(query_one(db, "SELECT * FROM email_outbox WHERE id = ?", [mail_id]))


def by_key(db, key):
    return _decoded(query_one(db, "SELECT * FROM email_outbox WHERE key = ?", [key]))


def due(db, now, limit):
    """Unsent mail whose next try is due, oldest first."""
    rows = query(
        db,
        "SELECT * FROM email_outbox WHERE sent_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        " ORDER BY id LIMIT ?",
        [now, limit],
    )
    return [_decoded(row) for row in rows]


def claim(db, mail_id, now, next_attempt_at):
    """Count a try of an unsent, due mail and put its next try off; False when another sender has it."""
    return db.execute(
        "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?"
        " WHERE id = ? AND sent_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
        [next_attempt_at, mail_id, now],
    ).rowcount == 1


def mark_sent(db, mail_id, now, note=None):
    db.execute("UPDATE email_outbox SET sent_at = ?, last_error = ? WHERE id = ?", [now, note, mail_id])


def mark_failed(db, mail_id, error):
    db.execute("UPDATE email_outbox SET last_error = ? WHERE id = ?", [error, mail_id])


def counts(db):
    """``{"pending": n, "sent": n, "failing": n}`` (failing: unsent after at least one try)."""
    row = db.execute(
        "SELECT SUM(sent_at IS NULL), SUM(sent_at IS NOT NULL), SUM(sent_at IS NULL AND attempts > 0)"
        " FROM email_outbox"
    ).fetchone()
    return {"pending": row[0] or 0, "sent": row[1] or 0, "failing": row[2] or 0}


def managers_emails(db, unit_id):
    """Addresses of active users who are managers of ``unit_id`` or of a unit above it."""
    rows = db.execute(
        "WITH RECURSIVE up(id) AS (SELECT CAST(? AS BIGINT) UNION SELECT u.parent_id FROM units u JOIN up ON u.id = up.id"
        " WHERE u.parent_id IS NOT NULL)"
        " SELECT DISTINCT users.email FROM user_roles r JOIN users ON users.id = r.user_id"
        " WHERE r.role = 'manager' AND r.unit_id IN (SELECT id FROM up) AND users.active = 1"
        " AND TRIM(users.email) != '' ORDER BY users.email",
        [unit_id],
    ).fetchall()
    return [row[0].strip() for row in rows]
