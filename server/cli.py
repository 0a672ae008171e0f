"""The ``hailong`` command: migrate, serve, jobs, org import, devices.

Every command reads settings like the app does (defaults, ``instance/config.py``,
``HAILONG_*``); ``--database`` overrides the database path. Expected failures
print one readable line and exit 1, never a traceback.
"""

import sqlite3
import sys

import click

from server import load_settings, storage
from server.errors import ActionError, describe


class Context:
    def __init__(self, database):
        self.config = load_settings()
        if database:
            self.config["DATABASE"] = database

    def db(self, migrated=True):
        from migrations import migrations

        db = storage.connect(self.config["DATABASE"], self.config["BUSY_TIMEOUT_MS"])
        if migrated and migrations.pending(db):
            raise click.ClickException(
                f"The database {self.config['DATABASE']} is not up to date: run `hailong migrate`."
            )
        return db


@click.group()
@click.option("--database", envvar="HAILONG_DATABASE", help="Path of the server database file.")
@click.pass_context
def cli(ctx, database):
    """hailong server commands.

    Example: hailong --database instance/hailong.db migrate
    """
    ctx.obj = Context(database)


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
    except ActionError as exc:
        click.echo(f"Error: {describe(exc)}", err=True)
        sys.exit(1)
    except sqlite3.OperationalError as exc:
        click.echo(f"Error: database problem: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
