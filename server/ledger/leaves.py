"""The bytes of each tree's leaves, from stored rows (docs/verify.md says the same for auditors).

A vote's leaf is exactly what its tablet signed (``canonical_vote_bytes``)
followed by a newline and what the server added on receipt, so an auditor
holding an exported row rebuilds the leaf, checks the tablet's signature on
its first part, and finds the leaf in the tree. Sign-in events the same
way; audit entries are the server's own, so only their stored fields.

Rows are dicts as ``server/storage/ledger.py`` reads them: codes for the
counter, staff and units (codes never change once made), ``reasons`` as
stored (JSON text), ``flags`` as stored (comma-separated text or NULL).
"""

import json

from device_client.protocol import canonical_session_bytes, canonical_vote_bytes, marks_from_flags
from server.storage.votes import stored_flags

AUDIT_DOMAIN = b"hailong-audit-v1\n"

# JCS (RFC 8785) for the value types leaves hold: sorted keys, no whitespace, UTF-8.
_JCS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def jcs(value):
    return _JCS.encode(value).encode("utf-8")


def vote_signed(row):
    """The vote as its tablet signed it (the fields of ``canonical_vote_bytes``)."""
    flags = stored_flags(row["flags"])
    signed = {
        "id": row["uuid"],
        "device": row["device_id"],
        "seq": row["seq"],
        "counter": row["counter"],
        "staff": row["staff"],
        "rating": row["rating"],
        "reasons": [] if row["reasons"] in (None, "", "[]") else json.loads(row["reasons"]),
        "ticket": row["ticket"],
        "local_time": row["local_time"],
        "scale_version": row["scale_version"],
    }
    marks = marks_from_flags(flags)
    if marks:
        signed["marks"] = marks
    return signed


def vote_server(row):
    """What the server added to a vote on receipt."""
    return {
        "signature": row["signature"],
        "received_at": row["received_at"],
        "clock_offset_ms": row["clock_offset_ms"],
        "unit": row["unit"],
        "counter_unit": row["counter_unit"],
        "counted_at": row["counted_at"],
        "time_corrected": bool(row["time_corrected"]),
        "flags": sorted(stored_flags(row["flags"])),
    }


def vote_leaf(row):
    return canonical_vote_bytes(vote_signed(row)) + b"\n" + jcs(vote_server(row))


def session_signed(row):
    return {
        "id": row["uuid"],
        "device": row["device_id"],
        "seq": row["seq"],
        "counter": row["counter"],
        "staff": row["staff"],
        "event": row["event"],
        "reason": row["reason"],
        "local_time": row["local_time"],
    }


def session_leaf(row):
    server = {"signature": row["signature"], "received_at": row["received_at"],
              "clock_offset_ms": row["clock_offset_ms"]}
    return canonical_session_bytes(session_signed(row)) + b"\n" + jcs(server)


AUDIT_FIELDS = ("id", "at", "actor_kind", "actor", "address", "action", "object_type", "object_id", "unit_id",
                "before", "after")


def audit_leaf(row):
    """``before``/``after`` as the stored JSON text, never re-parsed (a re-encoding could differ)."""
    return AUDIT_DOMAIN + jcs({name: row[name] for name in AUDIT_FIELDS})


# Tree name -> how its leaves are made (the source table is in migrations/ledger.py, TREES).
TREES = {"votes": vote_leaf, "sessions": session_leaf, "audit": audit_leaf}
