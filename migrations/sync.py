"""Migrations of the device streams (votes, staff sign-in events, later streams).

Names start with ``sync_`` and a number; never edit one that has shipped.
"""

from migrations import migrations


@migrations()
def sync_001_one_store_for_every_stream(db):
    # Batches, incidents and acknowledgements work the same for every stream
    # a tablet sends (server/sync/). Batches and incidents name their stream;
    # what was a vote's uuid is an item's; staff sign-in incidents, kept in a
    # table of their own until now, join the one incidents table.
    db.execute("ALTER TABLE sync_batches ADD COLUMN stream TEXT NOT NULL DEFAULT 'votes'")
    db.execute("ALTER TABLE sync_batches RENAME COLUMN n_votes TO n_items")
    db.execute("ALTER TABLE sync_incidents ADD COLUMN stream TEXT NOT NULL DEFAULT 'votes'")
    db.execute("ALTER TABLE sync_incidents RENAME COLUMN vote_uuid TO item_uuid")
    db.execute(
        "INSERT INTO sync_incidents (stream, device_id, batch_id, kind, seq, item_uuid, digest, detail,"
        " payload, created_at)"
        " SELECT 'sessions', device_id, NULL, kind, seq, event_uuid, digest, detail, payload, created_at"
        " FROM staff_session_incidents ORDER BY id"
    )
    db.execute("DROP TABLE staff_session_incidents")
    db.execute("DROP INDEX sync_incidents_device")
    db.execute("CREATE INDEX sync_incidents_device ON sync_incidents(device_id, stream, kind, seq)")
    # Which batch brought a staff event, as votes already record.
    db.execute("ALTER TABLE staff_sessions ADD COLUMN batch_id INTEGER REFERENCES sync_batches(id)")


@migrations()
def sync_002_counter_rosters(db):
    # Who may serve at a counter: the staff of its unit, plus staff seconded
    # from other units for a span of days (local dates in TIMEZONE, both
    # ends included; no end: until further notice). A vote or sign-in for
    # anyone else is refused (server/sync/streams.py).
    db.execute(
        """CREATE TABLE counter_assignments (
            id INTEGER PRIMARY KEY,
            counter_id INTEGER NOT NULL REFERENCES counters(id),
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            valid_from TEXT NOT NULL,
            valid_to TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (counter_id, staff_id, valid_from),
            CHECK (valid_to IS NULL OR valid_to >= valid_from)
        )"""
    )
    db.execute("CREATE INDEX counter_assignments_staff ON counter_assignments(staff_id)")
    # When a counter stopped serving: votes cast after it are refused, those
    # before it still count. Counters already inactive get their last change.
    db.execute("ALTER TABLE counters ADD COLUMN deactivated_at TEXT")
    db.execute("UPDATE counters SET deactivated_at = updated_at WHERE active = 0")
    # Whom an incident is about, so the staff member's own unit sees it
    # wherever the tablet stood.
    db.execute("ALTER TABLE sync_incidents ADD COLUMN staff_id INTEGER REFERENCES staff(id)")
    db.execute(
        "UPDATE sync_incidents SET staff_id = (SELECT s.id FROM staff s"
        " WHERE s.code = json_extract(sync_incidents.payload, '$.staff'))"
        " WHERE payload IS NOT NULL AND json_valid(payload)"
    )
    db.execute("CREATE INDEX sync_incidents_staff ON sync_incidents(staff_id)")
