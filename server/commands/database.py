"""``hailong migrate``."""

import os

import click

from migrations import migrations


@click.command()
@click.pass_obj
def migrate(obj):
    """Create or upgrade the database schema (run before `serve` and `jobs`).

    Example: hailong migrate
    """
    path = obj.config["DATABASE"]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = obj.db(migrated=False)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    click.echo(f"Applied {len(pending)} migration(s) to {path}: {', '.join(pending) or 'none pending'}.")
