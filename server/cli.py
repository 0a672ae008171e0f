"""The ``hailong`` command: migrate, serve, jobs, org import, devices, staff, users.

Every command reads settings like the app does (``server/settings.py``:
defaults, ``<INSTANCE>/config.py``, ``HAILONG_*``), checked before anything
runs; ``--instance`` and ``--database`` override those two. Expected failures
print one readable ``Error:`` line and exit 1, never a traceback.
"""

import sys

import click

from server import settings, storage
from server.errors import ActionError, describe
from server.storage import health

# What a person at the command line does about a database that cannot take writes now.
STORAGE_ADVICE = {
    health.FULL: ("its disk is full", "free space on that disk"),
    health.READ_ONLY: ("it is read-only", "make its file system writable again (and find out why it was not)"),
    health.BUSY: ("another process holds its write lock", "wait a moment"),
}


class Context:
    def __init__(self, instance, database):
        overrides = {key: value for key, value in (("INSTANCE", instance), ("DATABASE", database)) if value}
        if database:
            overrides["DATABASE_URL"] = ""  # the command line wins over HAILONG_DATABASE_URL and config.py
        self.config = settings.load(overrides)
        Context.current = self  # main() names the database in an error about it

    current = None

    def db(self, migrated=True):
        from migrations import migrations

        db = storage.connect(self.config["DATABASE"], self.config["BUSY_TIMEOUT_MS"])
        if migrated and migrations.pending(db):
            raise click.ClickException(
                f"The database {storage.describe(self.config['DATABASE'])} is not up to date: run `hailong migrate`."
            )
        return db


@click.group()
@click.option("--instance", help="Folder of config.py, the database and staged imports (default: "
              "HAILONG_INSTANCE, or ./instance).")
@click.option("--database", help="Path of the server's SQLite database file, or a postgresql:// URL (default:"
              " DATABASE_URL, else hailong.db in the instance folder).")
@click.pass_context
def cli(ctx, instance, database):
    """hailong server commands.

    Example: hailong --instance /srv/hailong migrate
    """
    ctx.obj = Context(instance, database)


from server.commands import register  # noqa: E402  (one module per area)

register(cli)


def main():
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (settings.SettingsError, ActionError, *storage.OperationalError, OSError) as exc:
        click.echo(f"Error: {_readable(exc)}", err=True)
        sys.exit(1)


def _readable(exc):
    """What went wrong, in one line a person at the command line can act on."""
    if isinstance(exc, ActionError):
        return describe(exc)
    database = Context.current.config["DATABASE"] if Context.current else None
    # Only the driver's errors are the database's: an OSError names its own file (a backup's folder, say).
    kind = health.classify(exc, database) if isinstance(exc, storage.Error) else None
    if kind:
        what, advice = STORAGE_ADVICE[kind]
        where = f" {storage.describe(database)}" if database else ""
        return f"the database{where} cannot take writes now: {what} ({exc}). Nothing was changed; {advice}, " \
               "then run the command again."
    if isinstance(exc, storage.OperationalError):
        return f"database problem: {exc}"
    return str(exc)
