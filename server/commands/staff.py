"""``hailong staff set-pin`` and ``hailong staff photo``: what the kiosk needs per person."""

import hashlib
import re

import click
from argon2 import PasswordHasher

from server.storage import org, sessions, write_transaction

# argon2id with OWASP's minimum (19 MiB, 2 passes): about 80 ms per check on
# a counter tablet, cheap enough for a sign-in, but it makes guessing a short
# PIN from a stolen configuration cost memory-hard work per guess (docs/kiosk.md).
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
PIN_RE = re.compile(r"^\d{4,8}\Z")
PHOTO_MAX_BYTES = 512 * 1024
PHOTO_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


@click.group()
def staff():
    """Staff PINs and photos for the counter kiosk.

    Example: hailong staff set-pin NV001
    """


@staff.command("set-pin")
@click.argument("staff_code")
@click.option("--pin", prompt="PIN (4-8 digits)", hide_input=True, confirmation_prompt=True,
              help="The PIN; asked on a hidden prompt (or read from stdin) when left out.")
@click.pass_obj
def set_pin(obj, staff_code, pin):
    """Set STAFF_CODE's kiosk PIN; tablets get its argon2id hash with their next configuration.

    Example: hailong staff set-pin NV001
    """
    pin = pin.strip()
    if not PIN_RE.match(pin):
        raise click.ClickException("A PIN has 4 to 8 digits.")
    db = obj.db()
    with write_transaction(db):
        if not sessions.set_pin_hash(db, staff_code, HASHER.hash(pin)):
            raise click.ClickException(f"No staff member has the code {staff_code!r}.")
    click.echo(f"PIN set for {staff_code}; tablets pick it up at their next configuration refresh.")


@staff.command("photo")
@click.argument("staff_code")
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def photo(obj, staff_code, file):
    """Store STAFF_CODE's photo (JPEG or PNG, at most 512 KB) for the kiosk's waiting screen.

    Example: hailong staff photo NV001 nhung.jpg
    """
    data = file.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        raise click.ClickException(f"The photo is larger than {PHOTO_MAX_BYTES // 1024} KB.")
    content_type = next((kind for magic, kind in PHOTO_TYPES if data.startswith(magic)), None)
    if content_type is None:
        raise click.ClickException("The photo must be a JPEG or PNG file.")
    db = obj.db()
    person = org.staff_by_codes(db, [staff_code]).get(staff_code)
    if person is None:
        raise click.ClickException(f"No staff member has the code {staff_code!r}.")
    with write_transaction(db):
        sessions.save_photo(db, person["id"], content_type, data, hashlib.sha256(data).hexdigest())
    click.echo(f"Photo stored for {staff_code} ({content_type}, {len(data)} bytes).")
