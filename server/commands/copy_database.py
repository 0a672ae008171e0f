"""``hailong copy-database --to postgresql://...``: move a SQLite installation into PostgreSQL (server/copy_database.py)."""

import click

from server import storage


@click.command("copy-database")
@click.option("--to", "to", required=True, metavar="URL",
              help="The PostgreSQL database to copy into (postgresql://user@host/db): empty, or just migrated.")
@click.pass_obj
def copy_database(obj, to):
    """Copy this instance's SQLite database into an empty PostgreSQL database, then check the copy.

    Stop `hailong serve` and `hailong jobs` first. The target is migrated,
    every table copied in one transaction (ids kept), and the copy checked:
    rows per table, each log tree's root recomputed from the copied rows,
    the latest signed checkpoints. Then point DATABASE_URL at it
    (docs/operations.md, "Moving to PostgreSQL").

    Example: hailong copy-database --to postgresql://hailong@db.example/hailong
    """
    from server.copy_database import CopyError, copy_to_postgresql

    try:
        table = copy_to_postgresql(obj.config, to, say=click.echo)
    except CopyError as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(name) for name, _, _ in table)
    click.echo(f"{'table':<{width}}  {'SQLite':>12}  {'PostgreSQL':>12}")
    for name, was, now in table:
        click.echo(f"{name:<{width}}  {was:>12,}  {now:>12,}")
    rows = sum(was for name, was, _ in table if name != "vote_keys")  # vote_keys repeats the votes' keys
    click.echo(f"Copied and verified: {rows:,} rows in {storage.describe(to)}."
               " Set DATABASE_URL to it, then start hailong serve and hailong jobs.")
