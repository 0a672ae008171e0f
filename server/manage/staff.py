"""Staff records: create, edit, deactivate, delete (only without votes), kiosk PINs and photos."""

import hashlib
import re

from argon2 import PasswordHasher

from server import audit
from server.errors import N_, Conflict, Invalid, NotFound, invalid
from server.manage import conflict, not_found, require
from server.manage.org import visible_unit
from server.storage import staff as staff_storage
from server.storage import timestamp, write_transaction

FIELDS = ("id", "code", "full_name", "title", "unit", "active", "has_photo", "created_at", "updated_at")
# argon2id with OWASP's minimum (19 MiB, 2 passes): about 80 ms per check on
# a counter tablet, cheap enough for a sign-in, but it makes guessing a short
# PIN from a stolen configuration cost memory-hard work per guess (docs/kiosk.md).
PIN_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
PIN_RE = re.compile(r"^\d{4,8}\Z")
# Magic bytes of the photo formats a tablet's browser can show.
PHOTO_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def _pick(row):
    return {n: (bool(row[n]) if n in ("active", "has_photo") else row[n]) for n in FIELDS}


def list_staff(db, actor, unit_ids=None):
    """Staff in the actor's scope (and in ``unit_ids``, when given)."""
    require(actor, "staff.read")
    scope = actor.scope(db, "staff.read")
    if unit_ids is not None:
        scope = set(unit_ids) if scope is None else scope & set(unit_ids)
    return [_pick(r) for r in staff_storage.list_staff(db, scope)]


def _visible(db, actor, permission, code):
    row = staff_storage.detail(db, code)
    if row is None or not actor.reaches(db, permission, row["unit_id"]):
        raise not_found(N_("No staff member with this code."))
    return row


def get_staff(db, actor, code):
    require(actor, "staff.read")
    return _pick(_visible(db, actor, "staff.read", code))


def create_staff(db, actor, data):
    require(actor, "staff.write")
    unit = visible_unit(db, actor, "staff.write", data["unit"], "unit")
    if staff_storage.detail(db, data["code"]):
        raise conflict("code", N_("A staff member with this code exists."))
    with write_transaction(db):
        staff_storage.save(db, None, data["code"], data["full_name"], data.get("title", ""), unit["id"],
                           int(data.get("active", True)), timestamp())
        after = _pick(staff_storage.detail(db, data["code"]))
        audit.record(db, actor, "create", "staff", data["code"], unit["id"], after=after)
    return after


def update_staff(db, actor, code, data):
    """Edit a record; ``active: false`` deactivates (the way people leave)."""
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    before = _pick(row)
    unit_id = row["unit_id"]
    if "unit" in data:
        unit_id = visible_unit(db, actor, "staff.write", data["unit"], "unit")["id"]
    with write_transaction(db):
        staff_storage.save(db, row["id"], code, data.get("full_name", row["full_name"]),
                           data.get("title", row["title"]), unit_id,
                           int(data.get("active", bool(row["active"]))), timestamp())
        after = _pick(staff_storage.detail(db, code))
        audit.record(db, actor, "update", "staff", code, unit_id, before=before, after=after)
    return after


def delete_staff(db, actor, code):
    """Delete a record entered by mistake; someone with votes is only ever deactivated."""
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    with write_transaction(db):
        if staff_storage.vote_count(db, row["id"]):
            raise Conflict(N_("This person has votes and cannot be deleted; deactivate them instead."),
                           code="has_votes")
        staff_storage.delete(db, row["id"])
        audit.record(db, actor, "delete", "staff", code, row["unit_id"], before=_pick(row))


def set_pin(db, actor, code, pin):
    """Set the kiosk PIN (4 to 8 digits); only its argon2id hash is stored and sent to tablets.

    The audit entry records that the PIN changed and when, never the PIN or its hash.
    """
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    pin = (pin or "").strip()
    if not PIN_RE.match(pin):
        raise invalid("pin", N_("A PIN has 4 to 8 digits."))
    pin_hash = PIN_HASHER.hash(pin)
    with write_transaction(db):
        before = staff_storage.pin_set_at(db, row["id"])
        now = timestamp()
        staff_storage.set_pin_hash(db, row["id"], pin_hash, now)
        audit.record(db, actor, "set_pin", "staff", code, row["unit_id"],
                     before={"pin_set_at": before}, after={"pin_set_at": now})
    return {"code": code, "pin_set_at": now}


def photo_type(data):
    """The content type from the magic bytes, or None for anything else."""
    for magic, content_type in PHOTO_TYPES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_photo(db, actor, code, data, max_bytes):
    """Store a photo (JPEG, PNG or WebP by its bytes, at most ``max_bytes``) for the kiosk."""
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    if not data:
        raise invalid("photo", N_("Empty file."), N_("Choose a photo."))
    if len(data) > max_bytes:
        limit = f"{max_bytes // 1024} KB" if max_bytes % 1024 == 0 else f"{max_bytes} bytes"
        raise Invalid(N_("The photo is larger than %(limit)s.", limit=limit),
                      {"photo": [N_("At most %(limit)s.", limit=limit)]}, code="photo_too_large")
    content_type = photo_type(data)
    if content_type is None:
        raise Invalid(N_("The photo must be a JPEG, PNG or WebP image."),
                      {"photo": [N_("Not a JPEG, PNG or WebP image.")]}, code="unsupported_media_type")
    digest = hashlib.sha256(data).hexdigest()
    old = staff_storage.photo(db, row["id"])
    with write_transaction(db):
        staff_storage.save_photo(db, row["id"], content_type, data, digest, timestamp())
        audit.record(db, actor, "photo", "staff", code, row["unit_id"],
                     before={"sha256": old["sha256"]} if old else None,
                     after={"sha256": digest, "content_type": content_type, "bytes": len(data)})
    return {"sha256": digest, "content_type": content_type, "bytes": len(data)}


def get_photo(db, actor, code):
    require(actor, "staff.read")
    row = _visible(db, actor, "staff.read", code)
    photo = staff_storage.photo(db, row["id"])
    if photo is None:
        raise NotFound(N_("This staff member has no photo."))
    return photo
