"""``hailong migrate``: the schema, and the instance's secret key."""

import os
import secrets

import click

from device_client.private import private_folder
from migrations import migrations
from server import settings, storage
from server.storage import partitions


@click.command()
@click.pass_obj
def migrate(obj):
    """Create or upgrade the database schema (run before `serve` and `jobs`), and give the instance its keys.

    The key (SECRET_KEY, which signs session cookies) is written once into
    INSTANCE/config.py, readable by its owner only; a key already set there
    or in HAILONG_SECRET_KEY is left alone. The log's signing key (which
    signs checkpoints and export manifests) is made once in INSTANCE/log-key,
    0600, and never replaced (`hailong keys show` prints its public half).
    The instance folder is made 0700 and the database 0600, new or not.

    Example: hailong migrate
    """
    path = obj.config["DATABASE"]
    instance = obj.config["INSTANCE"]
    if storage.is_postgresql(path):
        # The instance folder still holds config.py and the log's key, but the data is PostgreSQL's: as for a
        # SQLite database kept elsewhere, an instance folder is made private, never made where someone typed.
        if os.path.isdir(instance):
            private_folder(instance)
    else:
        folder = os.path.dirname(os.path.abspath(path))
        # The instance folder (config.py with the secret key, the database, staged imports) is the server
        # account's alone. A database kept elsewhere makes no instance folder (see ensure_secret_key), and
        # its own folder stays as the operator made it; its files are 0600 either way (storage.connect).
        if folder == os.path.abspath(instance) or os.path.isdir(instance):
            private_folder(instance)
        os.makedirs(folder, exist_ok=True)
    db = obj.db(migrated=False)
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    made = partitions.ensure(db)
    click.echo(f"Applied {len(pending)} migration(s) to {storage.describe(path)}: {', '.join(pending) or 'none pending'}.")
    if made:
        click.echo(f"Made the vote partitions {', '.join(made)}.")
    note = ensure_secret_key(obj.config, os.environ)
    if note:
        click.echo(note)
    click.echo(ensure_log_key(obj.config))


def ensure_secret_key(config, environ):
    """Append a random ``SECRET_KEY`` to the instance's config.py unless one is set; a line saying so, or None.

    Only into an instance folder that exists (``migrate`` has just made it
    if the database lives in it): ``hailong --database elsewhere.db
    migrate`` must not make an ``instance/`` beside whoever typed it. The
    file is created 0600, or made 0600 when a key is added to it.
    """
    instance = config["INSTANCE"]
    path = settings.config_file(instance)
    if f"{settings.PREFIX}SECRET_KEY" in environ or "SECRET_KEY" in settings.names_in_config_file(instance):
        return None
    if not os.path.isdir(instance):
        return (f"No SECRET_KEY written: the instance folder {instance} does not exist and the database is"
                " elsewhere. `hailong serve` needs one: set HAILONG_SECRET_KEY (docs/settings.md).")
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write("\n# Written by `hailong migrate`: signs the session cookies. Keep it secret; a new one"
                     " signs everyone out.\n")
        handle.write(f"SECRET_KEY = {key!r}\n")
    os.chmod(path, 0o600)
    return f"Wrote a random SECRET_KEY to {path} (readable by its owner only)."


def ensure_log_key(config):
    """Make the log's Ed25519 key in the instance folder unless it exists; a line saying what was done."""
    from server.ledger import keys

    instance = config["INSTANCE"]
    if not os.path.isdir(instance):
        return (f"No log key made: the instance folder {instance} does not exist and the database is elsewhere."
                " `hailong jobs` and `hailong checkpoint` need one: make the folder and run `hailong migrate`"
                " again.")
    path, made = keys.ensure_key(instance)
    if made:
        return (f"Made the log's signing key {path} (readable by its owner only; never replace it). Its public"
                " key: `hailong keys show`.")
    return f"The log's signing key {path} is in place."
