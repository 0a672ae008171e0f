"""Flags on the people database (tests/people.py) without running the scan: one about NV001 (DN-TT, in
the test users' scope; the ``staff`` user's own) and one about NV004 (DN-BH, out of scope)."""

from server import storage
from server.storage import flags as flag_storage

IN_VOTE = "00000000-0000-7000-8000-00000000000a"
OUT_VOTE = "00000000-0000-7000-8000-00000000000b"


def raise_flag(db, vote_uuid, kind="burst", key=None, severity="high"):
    """A flag as the scan stores it, on one stored vote; returns its id."""
    vote = db.execute("SELECT id, staff_id, unit_id, counter_id, device_id, counted_at FROM votes WHERE uuid = ?",
                      [vote_uuid]).fetchone()
    vote_id, staff_id, unit_id, counter_id, device_id, counted_at = vote
    with storage.write_transaction(db):
        flag_id, _ = flag_storage.insert_flag(db, {
            "key": key or f"{kind}|{staff_id}|{counted_at[:10]}", "kind": kind, "severity": severity,
            "staff_id": staff_id, "unit_id": unit_id, "counter_id": counter_id, "device_id": device_id,
            "first_at": counted_at, "last_at": counted_at, "test": "poisson", "statistic": 12.0,
            "p_value": 1e-6, "q_value": 1e-5, "n_votes": 1, "detail": {"expected": 0.4, "observed": 12},
            "created_at": storage.timestamp(),
        })
        flag_storage.add_flag_votes(db, flag_id, [vote_id])
    return flag_id


def flag_both(path):
    """``{"in": id, "out": id, "in2": id}``: flags in the test users' scope (NV001's) and one outside it."""
    db = storage.connect(path)
    try:
        return {"in": raise_flag(db, IN_VOTE), "out": raise_flag(db, OUT_VOTE),
                "in2": raise_flag(db, IN_VOTE, kind="off_hours")}
    finally:
        db.close()


def object_to_both(path, flags):
    """``{"in": id, "out": id}``: NV001's objection to their flag "in", NV004's to theirs (out of scope)."""
    db = storage.connect(path)
    try:
        admin = db.execute("SELECT id FROM users WHERE username = 'admin'").fetchone()[0]
        out = {}
        with storage.write_transaction(db):
            for side in ("in", "out"):
                staff_id = db.execute("SELECT staff_id FROM flags WHERE id = ?", [flags[side]]).fetchone()[0]
                out[side] = flag_storage.insert_objection(db, staff_id, flags[side], None, "Tôi không tự bấm.",
                                                          storage.timestamp(), admin)
        return out
    finally:
        db.close()
