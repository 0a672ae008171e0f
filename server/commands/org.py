"""``hailong org import``: the import action, as the CLI."""

import click

from server.commands import cli_actor


@click.group()
def org():
    """The organisation: units, counters and staff.

    Example: hailong org import docs/examples/org.csv
    """


@org.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; apply nothing.")
@click.pass_obj
def import_(obj, file, dry_run):
    """Load units, counters and staff from FILE (.csv or .xlsx); see docs/org-import.md.

    Example: hailong org import docs/examples/org.csv
    """
    from server import orgimport  # imported here: openpyxl is only needed for imports
    from server.manage import imports

    try:
        summary = imports.import_file(obj.db(), cli_actor(), file, dry_run=dry_run)
    except orgimport.ImportRejected as exc:
        click.echo(f"Error: {file} was not imported; nothing was changed.", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from None
    click.echo(summary.describe(dry_run))
