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
