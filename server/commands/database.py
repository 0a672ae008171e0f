"""``hailong migrate``."""

import os

import click

from device_client.private import private_folder
from migrations import migrations


@click.command()
@click.pass_obj
def migrate(obj):
    """Create or upgrade the database schema (run before `serve` and `jobs`).

    Makes the instance folder 0700 and the database 0600 (new or not).

    Example: hailong migrate
    """
    path = obj.config["DATABASE"]
    # The instance folder (config.py with the secret key, the database, staged imports) is the server
    # account's alone; a database kept elsewhere gets its folder made, its own files are 0600 either way.
    private_folder(obj.config["INSTANCE"])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = obj.db(migrated=False)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    click.echo(f"Applied {len(pending)} migration(s) to {path}: {', '.join(pending) or 'none pending'}.")
