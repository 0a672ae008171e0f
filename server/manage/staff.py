"""Staff records: create, edit, deactivate, delete (only without votes), kiosk PINs and photos."""

import hashlib
import io
import re
import struct
import warnings

from argon2 import PasswordHasher
from PIL import Image, ImageOps, UnidentifiedImageError

from server import audit
from server.errors import N_, Conflict, Invalid, NotFound, invalid
from server.manage import conflict, not_found, require
from server.manage.org import visible_unit
from server.storage import accounts
from server.storage import staff as staff_storage
from server.storage import history as history_storage
from server.storage import timestamp, write_transaction

FIELDS = ("id", "code", "full_name", "title", "unit", "active", "has_photo", "created_at", "updated_at")
# argon2id with OWASP's minimum (19 MiB, 2 passes): about 80 ms per check on
# a counter tablet, cheap enough for a sign-in, but it makes guessing a short
# PIN from a stolen configuration cost memory-hard work per guess (docs/kiosk.md).
PIN_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
PIN_RE = re.compile(r"^\d{4,8}\Z")
# What an upload may be: decoded by Pillow, never passed on as it came.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
# At most 4096 pixels a side (16.8 million pixels, 50 MB decoded): any phone's
# photo fits, and the size is read from the header before anything is decoded,
# so a few KB declaring 12000x12000 (576 MB decoded) is refused for free.
PHOTO_MAX_SIDE = 4096
# The kiosk's frame is 9x11 rem, about 290x350 device pixels on a 2x tablet
# screen: 600 px on the longer side stays sharp, at 30-80 KB as JPEG.
PHOTO_SIDE = 600
PHOTO_QUALITY = 85


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


def unit_history(db, actor, code):
    """The units a staff member belonged to and when (oldest first; ``valid_from`` None: since the record
    began, ``valid_to`` None: still): votes count for the unit of their time."""
    require(actor, "staff.read")
    row = _visible(db, actor, "staff.read", code)
    return [{k: r[k] for k in ("unit", "valid_from", "valid_to")} for r in history_storage.history(db, "staff", row["id"])]


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
        if accounts.user_by_staff(db, row["id"]):
            raise Conflict(N_("This person has an account linked to their record; unlink it first."),
                           code="has_account")
        if staff_storage.history_tables(db, row["id"]):
            raise Conflict(N_("This person has a history here (sign-ins at a counter, a roster, flags or"
                              " objections) and cannot be deleted; deactivate them instead."), code="has_history")
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


def reencode_photo(data):
    """The photo in ``data`` as a new JPEG: upright, at most ``PHOTO_SIDE`` a side, nothing else kept.

    Only JPEG, PNG and WebP are decoded, and only up to ``PHOTO_MAX_SIDE`` a
    side. The EXIF orientation is applied, then the pixels alone are written
    out again: no EXIF (GPS, camera), no comments, no trailing bytes, so a
    PNG that is also an HTML page leaves as a plain picture. Transparency is
    laid on white. Raises ``Invalid`` for anything else.
    """
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard (89 million pixels) is a warning first: make it a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as image:
                if max(image.size) > PHOTO_MAX_SIDE:
                    raise _too_many_pixels()
                image.draft("RGB", (PHOTO_SIDE, PHOTO_SIDE))  # a JPEG decodes straight at 1/2, 1/4, 1/8
                upright = ImageOps.exif_transpose(image.convert("RGBA") if _has_alpha(image) else image)
                upright.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
                if upright.mode == "RGBA":
                    flat = Image.new("RGB", upright.size, (255, 255, 255))
                    flat.paste(upright, mask=upright.getchannel("A"))
                    upright = flat
                out = io.BytesIO()
                upright.convert("RGB").save(out, "JPEG", quality=PHOTO_QUALITY, optimize=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None  # refused by Pillow at open, beyond 89 million pixels
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error):
        # Not one of the formats, truncated, corrupt: Pillow's many ways of saying "cannot decode".
        raise _not_a_photo() from None
    return out.getvalue()


def _not_a_photo():
    return Invalid(N_("The photo must be a JPEG, PNG or WebP image."),
                   {"photo": [N_("Not a JPEG, PNG or WebP image.")]}, code="unsupported_media_type")


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _too_many_pixels():
    limit = f"{PHOTO_MAX_SIDE} × {PHOTO_MAX_SIDE}"
    return Invalid(N_("The photo is larger than %(limit)s pixels.", limit=limit),
                   {"photo": [N_("At most %(limit)s pixels.", limit=limit)]}, code="photo_too_many_pixels")


def set_photo(db, actor, code, data, max_bytes):
    """Store a photo for the kiosk, re-encoded (``reencode_photo``); the upload is at most ``max_bytes``.

    Pages, API and ``hailong staff photo`` all come here, so one rule holds.
    """
    require(actor, "staff.write")
    row = _visible(db, actor, "staff.write", code)
    if not data:
        raise invalid("photo", N_("Empty file."), N_("Choose a photo."))
    if len(data) > max_bytes:
        limit = f"{max_bytes // 1024} KB" if max_bytes % 1024 == 0 else f"{max_bytes} bytes"
        raise Invalid(N_("The photo is larger than %(limit)s.", limit=limit),
                      {"photo": [N_("At most %(limit)s.", limit=limit)]}, code="photo_too_large")
    stored, content_type = reencode_photo(data), "image/jpeg"
    digest = hashlib.sha256(stored).hexdigest()
    old = staff_storage.photo(db, row["id"])
    with write_transaction(db):
        staff_storage.save_photo(db, row["id"], content_type, stored, digest, timestamp())
        audit.record(db, actor, "photo", "staff", code, row["unit_id"],
                     before={"sha256": old["sha256"]} if old else None,
                     after={"sha256": digest, "content_type": content_type, "bytes": len(stored)})
    return {"sha256": digest, "content_type": content_type, "bytes": len(stored)}


def get_photo(db, actor, code):
    require(actor, "staff.read")
    row = _visible(db, actor, "staff.read", code)
    photo = staff_storage.photo(db, row["id"])
    if photo is None:
        raise NotFound(N_("This staff member has no photo."))
    return photo
