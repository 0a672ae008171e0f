"""``hailong staff set-pin`` and ``hailong staff photo``: what the kiosk needs per person."""

import click

from server.commands import cli_actor
from server.manage import staff as staff_actions


@click.group()
def staff():
    """Staff PINs and photos for the counter kiosk.

    Example: hailong staff set-pin CB0001
    """


@staff.command("set-pin")
@click.argument("staff_code")
@click.option("--pin", prompt="PIN (4-8 digits)", hide_input=True, confirmation_prompt=True,
              help="The PIN; asked on a hidden prompt (or read from stdin) when left out.")
@click.pass_obj
def set_pin(obj, staff_code, pin):
    """Set STAFF_CODE's kiosk PIN; tablets get its argon2id hash with their next configuration.

    Example: hailong staff set-pin CB0001
    """
    staff_actions.set_pin(obj.db(), cli_actor(), staff_code, pin)
    click.echo(f"PIN set for {staff_code}; tablets pick it up at their next configuration refresh.")


@staff.command("photo")
@click.argument("staff_code")
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def photo(obj, staff_code, file):
    """Store STAFF_CODE's photo (JPEG, PNG or WebP, at most PHOTO_MAX_BYTES), re-encoded, for the kiosk.

    Example: hailong staff photo CB0001 nhung.jpg
    """
    limit = obj.config["PHOTO_MAX_BYTES"]
    stored = staff_actions.set_photo(obj.db(), cli_actor(), staff_code, file.read(limit + 1), limit)
    click.echo(f"Photo stored for {staff_code} ({stored['content_type']}, {stored['bytes']} bytes).")
