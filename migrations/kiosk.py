"""Migrations of the counter kiosk: staff sign-in/out events synced from tablets.

Names start with ``kiosk_`` and a number; never edit one that has shipped.
"""

from migrations import migrations


@migrations()
def kiosk_001_staff_sessions(db):
    # Who was at the counter, as signed events from the tablet (sign-in,
    # sign-out, automatic sign-out, PIN lockout). Own per-device sequence and
    # acknowledged high-water mark, kept apart from the votes' so neither
    # stream can hold the other back.
    db.execute(
        """CREATE TABLE staff_sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE,
            device_id TEXT NOT NULL REFERENCES devices(id),
            seq INTEGER NOT NULL,
            counter_id INTEGER NOT NULL REFERENCES counters(id),
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            event TEXT NOT NULL,
            reason TEXT,
            local_time TEXT NOT NULL,
            signature TEXT NOT NULL,
            digest TEXT NOT NULL,
            received_at TEXT NOT NULL,
            clock_offset_ms INTEGER,
            UNIQUE (device_id, seq)
        )"""
    )
    db.execute("CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id, local_time)")
    db.execute(
        """CREATE TABLE staff_session_incidents (
            id INTEGER PRIMARY KEY,
            device_id TEXT NOT NULL REFERENCES devices(id),
            kind TEXT NOT NULL,
            seq INTEGER,
            event_uuid TEXT,
            digest TEXT,
            detail TEXT NOT NULL,
            payload TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX staff_session_incidents_device ON staff_session_incidents(device_id, kind, seq)")
    db.execute("ALTER TABLE devices ADD COLUMN session_ack_seq INTEGER NOT NULL DEFAULT 0")
